"""The one clock of klantreis.

Every timestamp a service writes and every timer it computes comes from
`clock.now()`, never from `datetime.now()` or `timezone.now()`, so tests
can freeze or move time and the demo can fast-forward it.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol

from django.conf import settings


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until told to move (tests)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at

    def advance(self, delta: timedelta) -> None:
        self._at += delta


class DemoClock:
    """Real time plus an offset that the demo's clock control moves forward.

    The offset lives in the database so the web and worker processes agree.
    """

    def now(self) -> datetime:
        from klantreis.core.models import DemoClockOffset

        return datetime.now(UTC) + DemoClockOffset.current()


_override: Clock | None = None
_configured: Clock | None = None


def get_clock() -> Clock:
    global _configured
    if _override is not None:
        return _override
    if _configured is None:
        _configured = DemoClock() if settings.KLANTREIS_CLOCK == "demo" else SystemClock()
    return _configured


def now() -> datetime:
    return get_clock().now()


@contextmanager
def use_clock[C: Clock](clock: C) -> Iterator[C]:
    """Make `clock` the clock of every caller (all threads) for a while."""
    global _override
    previous = _override
    _override = clock
    try:
        yield clock
    finally:
        _override = previous
