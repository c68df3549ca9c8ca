import io
import time
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from klantreis.core.models import Organisation
from klantreis.customers.models import Home
from klantreis.demo.seed import REPORTS_PER_DAY, demo_organisation_seed


def positive(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Fill an empty database with the demo organisation: a housing association in and around "
        "Utrecht with homes, tenants, staff, technicians and a history of repair requests, "
        "lived through the journeys (messages, surveys and callbacks included). "
        "Deterministic: the same --seed on the same clock gives the same data. Does nothing when "
        "the database already has an organisation."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=2026, help="Random seed (default 2026).")
        parser.add_argument("--homes", type=positive, default=2400, help="Number of homes (default 2400).")
        parser.add_argument(
            "--history-days",
            type=positive,
            default=365,
            help=(
                "Days of past repair requests, lived through the journey engine (default 365: "
                "a year for the insights)."
            ),
        )

        parser.add_argument(
            "--reports-per-day",
            type=float,
            default=REPORTS_PER_DAY,
            help=f"Repair requests on an average working day of the history (default {REPORTS_PER_DAY:g}).",
        )

        parser.add_argument(
            "--upcoming",
            type=positive,
            default=60,
            help="Reports made today and booked in the coming days (default 60).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        existing = Organisation.objects.order_by("pk").first()
        if existing is not None:
            self.stdout.write(f"The organisation {existing.name!r} already exists; nothing seeded.")
            return
        if Home.objects.exists():
            raise CommandError(
                "The database holds homes but no organisation; seed_demo only fills an empty database."
            )
        started = time.monotonic()
        quiet = {"stdout": self.stdout if options["verbosity"] > 1 else io.StringIO()}
        call_command("load_vera", **quiet)
        call_command("load_triage_defaults", **quiet)
        summary = demo_organisation_seed(
            seed=options["seed"],
            homes=options["homes"],
            history_days=options["history_days"],
            reports_per_day=options["reports_per_day"],
            upcoming=options["upcoming"],
        )
        self.stdout.write(
            self.style.SUCCESS(f"Demo organisation seeded in {time.monotonic() - started:.1f} s")
        )
        for line in summary.lines():
            self.stdout.write(f"  {line}")
