import csv
from datetime import date

import pytest
from django.core.management import call_command

from klantreis.intake.models import VeraCode
from klantreis.intake.vera import NAMES_EN_CSV, LoadResult, vera_load

pytestmark = pytest.mark.django_db


def test_vera_load_creates_the_three_maintenance_lists():
    result = vera_load()

    assert result == LoadResult(created=139, updated=0)
    assert VeraCode.objects.filter(kind=VeraCode.Kind.DEFECT_TYPE).count() == 67
    assert VeraCode.objects.filter(kind=VeraCode.Kind.DEFECT_LOCATION).count() == 38
    assert VeraCode.objects.filter(kind=VeraCode.Kind.SPECIALISM).count() == 34
    assert VeraCode.objects.count() == 139


def test_vera_load_twice_changes_nothing():
    vera_load()
    before = list(VeraCode.objects.order_by("pk").values())

    result = vera_load()

    assert result == LoadResult(created=0, updated=139)
    assert list(VeraCode.objects.order_by("pk").values()) == before


def test_vera_load_keeps_the_dutch_name_and_adds_the_english_one():
    vera_load()

    leak = VeraCode.objects.get(kind=VeraCode.Kind.DEFECT_TYPE, code="LEK")
    plumber = VeraCode.objects.get(kind=VeraCode.Kind.SPECIALISM, code="LOA")
    assert (leak.name, leak.name_en) == ("Lekt", "Leaking")
    assert (plumber.name, plumber.name_en) == ("Loodgieter allrounder", "Plumber (all-round)")


def test_every_code_has_an_english_name():
    vera_load()

    assert list(VeraCode.objects.filter(name_en="").values_list("kind", "code")) == []


def test_the_english_names_file_names_only_codes_that_exist_once():
    vera_load()
    with NAMES_EN_CSV.open(encoding="utf-8", newline="") as handle:
        rows = [(row["kind"], row["code"]) for row in csv.DictReader(handle)]

    assert len(rows) == len(set(rows)) == 139
    assert set(rows) == set(VeraCode.objects.values_list("kind", "code"))


def test_an_expired_code_keeps_its_end_date():
    vera_load()

    sand = VeraCode.objects.get(kind=VeraCode.Kind.SPECIALISM, code="ZAN")
    assert sand.valid_until == date(2023, 9, 8)
    assert VeraCode.objects.filter(valid_until__isnull=False).count() == 1


def test_load_vera_command_reports_the_counts(capsys):
    call_command("load_vera")
    call_command("load_vera")

    assert capsys.readouterr().out == (
        "VERA codes: 139 created, 0 updated\nVERA codes: 0 created, 139 updated\n"
    )
