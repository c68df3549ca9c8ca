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

EVENTS_PAGE = 500
MAX_BATCHES = 50
MESSAGES_PAGE = 200


def round_pause(*, read: int, batches: int, messages: int, gather: float, idle: float) -> float:
    """How long to wait before the next round: not at all while a step filled
    its page (there is more), `gather` after a round that did something and
    caught up, `idle` after a round with nothing to do."""
    if read >= EVENTS_PAGE or batches >= MAX_BATCHES or messages >= MESSAGES_PAGE:
        return 0.0
    return gather if read or batches or messages else idle


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
        parser.add_argument(
            "--gather",
            type=float,
            default=0.2,
            help="seconds to wait after a round that caught up, so what falls due meanwhile goes out"
            " in one batch rather than one task per touchpoint",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        run = (lambda claim: touchpoints_run(claim=claim)) if options["inline"] else None
        while not self.stopping:
            read = events_consume(limit=EVENTS_PAGE)
            touchpoints_reap()
            batches = dispatch(batch_size=settings.KLANTREIS_DISPATCH_BATCH, max_batches=MAX_BATCHES, run=run)
            retried = messages_retry_due(limit=MESSAGES_PAGE)
            handed_over = messages_undelivered_hand_over(limit=MESSAGES_PAGE)
            if options["once"]:
                break
            pause = round_pause(
                read=read,
                batches=batches,
                messages=max(retried, handed_over),
                gather=options["gather"],
                idle=options["idle_sleep"],
            )
            if pause:
                time.sleep(pause)

    def _stop(self, signum: int, frame: Any) -> None:
        self.stopping = True
