"""Install the journeys that ship with klantreis (never overwrites an edited one)."""

from typing import Any

from django.core.management.base import BaseCommand

from klantreis.journeys.services import definitions_install_defaults


class Command(BaseCommand):
    help = "Install the shipped journey definitions that are not installed yet."

    def handle(self, *args: Any, **options: Any) -> None:
        installed = definitions_install_defaults()
        for definition in installed:
            self.stdout.write(f"installed {definition}")
        if not installed:
            self.stdout.write("nothing to install: every shipped journey has a version")
