from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from klantreis.core.errors import ApplicationError
from klantreis.intake.services import triage_tree_install_defaults


class Command(BaseCommand):
    help = (
        "Install the default triage trees (intake/data/triage/*.json). Existing trees are kept, "
        "so edits made in the admin survive, unless --overwrite is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--overwrite",
            action="store_true",
            help="Also reset trees that exist to the shipped version.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            written = triage_tree_install_defaults(overwrite=options["overwrite"])
        except ApplicationError as error:
            raise CommandError(str(error)) from error
        verb = "created or reset" if options["overwrite"] else "created"
        self.stdout.write(f"Default triage trees: {written} {verb}")
