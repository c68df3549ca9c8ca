from typing import Any

from django.core.management.base import BaseCommand

from klantreis.intake.vera import vera_load


class Command(BaseCommand):
    help = "Load the VERA defect types, defect locations and trade specialisms."

    def handle(self, *args: Any, **options: Any) -> None:
        result = vera_load()
        self.stdout.write(f"VERA codes: {result.created} created, {result.updated} updated")
