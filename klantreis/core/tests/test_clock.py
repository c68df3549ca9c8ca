from datetime import UTC, datetime, timedelta

import pytest

from klantreis.core import clock
from klantreis.core.clock import FixedClock, use_clock


def test_fixed_clock_moves_only_when_told():
    start = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    with use_clock(FixedClock(start)) as fixed:
        assert clock.now() == start
        fixed.advance(timedelta(hours=2))
        assert clock.now() == start + timedelta(hours=2)


def test_fixed_clock_refuses_naive_time():
    with pytest.raises(ValueError, match="aware"):
        FixedClock(datetime(2026, 1, 1))  # noqa: DTZ001
