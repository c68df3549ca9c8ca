from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandParser

from klantreis.core import clock
from klantreis.core.models import Organisation
from klantreis.planning.optimise import day_reoptimise


class Command(BaseCommand):
    help = "Re-optimise the routes of the coming days (run nightly, e.g. from cron or a systemd timer)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=14, help="how many days from today (default 14)")
        parser.add_argument("--seconds", type=float, default=5.0, help="solver time per day (default 5)")

    def handle(self, *args: Any, **options: Any) -> None:
        today = clock.now().astimezone(ZoneInfo(Organisation.current().time_zone)).date()
        for offset in range(options["days"]):
            outcome = day_reoptimise(day=today + timedelta(days=offset), seconds=options["seconds"])
            if outcome.jobs:
                self.stdout.write(
                    f"{outcome.day}: {outcome.jobs} jobs, {outcome.reason} "
                    f"(travel {outcome.travel_before} s → {outcome.travel_after or outcome.travel_before} s)"
                )
