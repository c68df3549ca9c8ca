"""Fixtures of the technician app's tests (the day: `days.field_day_make`)."""

from collections.abc import Iterator

import pytest

from klantreis.core.clock import FixedClock, use_clock
from klantreis.field.tests.days import FieldDay, field_day_make
from klantreis.planning.tests.days import at


@pytest.fixture
def clock_at_seven() -> Iterator[FixedClock]:
    with use_clock(FixedClock(at(7))) as fixed:
        yield fixed


@pytest.fixture
def field_day(vera: None, clock_at_seven: FixedClock) -> FieldDay:
    return field_day_make()
