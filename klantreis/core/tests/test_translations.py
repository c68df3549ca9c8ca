"""Every text a person reads exists in Dutch: makemessages over a copy of
the code finds no message without a translation and no fuzzy guess."""

import os
import shutil
import subprocess
from pathlib import Path

from django.core.management import call_command

PACKAGE = Path(__file__).resolve().parents[2]
PO = PACKAGE / "locale" / "nl" / "LC_MESSAGES" / "django.po"


def statistics(po: Path) -> str:
    """msgfmt's own count, e.g. '395 translated messages.' (plus fuzzy/untranslated)."""
    result = subprocess.run(  # noqa: S603
        ["msgfmt", "--check", "--statistics", "-o", os.devnull, str(po)],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stderr.strip().splitlines()[-1]


def test_every_message_in_the_code_has_a_dutch_translation(tmp_path, settings):
    copy = tmp_path / "klantreis"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("tests", "__pycache__", "*.mo", "data"))
    settings.LOCALE_PATHS = [copy / "locale"]
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        call_command("makemessages", locale=["nl"], verbosity=0)
    finally:
        os.chdir(cwd)

    counts = statistics(copy / "locale" / "nl" / "LC_MESSAGES" / "django.po")
    assert "fuzzy" not in counts
    assert "untranslated" not in counts
    assert counts.endswith("translated messages.")


def test_the_check_sees_a_missing_translation(tmp_path):
    po = tmp_path / "sample.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Hello"\nmsgstr ""\n\nmsgid "Bye"\nmsgstr "Dag"\n'
    )

    assert statistics(po) == "1 translated message, 1 untranslated message."
