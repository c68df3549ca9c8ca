"""Keep the KPIs' case summaries up to date: fold new journey events into
them (`insights_refresh`), then wait and fold again.

Run one next to `run_journeys` (a second one is harmless: the cursor row is
locked per batch, so they take turns). `--once` folds what there is and stops,
e.g. from cron; the first run over a long history may take a while.
"""

import signal
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from klantreis.insights.services import insights_refresh


class Command(BaseCommand):
    help = "Fold new journey events into the KPIs' case summaries (see docs/insights.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="fold what there is, then stop")
        parser.add_argument(
            "--interval", type=float, default=10.0, help="seconds to wait when no new event was found"
        )
        parser.add_argument("--batch", type=int, default=10000, help="events per transaction")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        batch = max(int(options["batch"]), 1)
        while not self.stopping:
            read = insights_refresh(batch=batch)
            if options["once"]:
                self.stdout.write(f"Folded {read} events.")
                break
            if not read:
                waited = 0.0
                while waited < options["interval"] and not self.stopping:
                    time.sleep(0.5)
                    waited += 0.5

    def _stop(self, signum: int, frame: Any) -> None:
        self.stopping = True
