"""The journey loop: follow the event log, claim due touchpoints, hand
batches to the workers, retry and fail over messages.

Run one or more next to `db_worker` (any machine that reaches the database;
claims are safe with several). `--once` does one round and stops.
"""

import signal
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from klantreis.journeys.dispatch import dispatch, touchpoints_reap, touchpoints_run
from klantreis.journeys.services import events_consume
from klantreis.messaging.services import messages_retry_due, messages_undelivered_hand_over


class Command(BaseCommand):
    help = "Follow the event log and dispatch due touchpoints (see docs/journeys.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="one round, then stop")
        parser.add_argument(
            "--inline",
            action="store_true",
            help="carry out batches in this process instead of enqueuing tasks",
        )
        parser.add_argument(
            "--idle-sleep", type=float, default=0.5, help="seconds to wait when nothing is due"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        run = (lambda claim: touchpoints_run(claim=claim)) if options["inline"] else None
        while not self.stopping:
            work = events_consume()
            touchpoints_reap()
            work += dispatch(batch_size=settings.KLANTREIS_DISPATCH_BATCH, run=run)
            work += messages_retry_due()
            work += messages_undelivered_hand_over()
            if options["once"]:
                break
            if not work:
                time.sleep(options["idle_sleep"])

    def _stop(self, signum: int, frame: Any) -> None:
        self.stopping = True
