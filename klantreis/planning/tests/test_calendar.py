from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from klantreis.planning.calendar import Interval, day_blocks, subtract

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_two_hour_blocks_of_a_winter_day():
    blocks = day_blocks(
        date(2026, 3, 10), first_start=time(8), last_end=time(17), minutes=120, zone=AMSTERDAM
    )

    assert [(b.start.astimezone(UTC), b.end.astimezone(UTC)) for b in blocks] == [
        (utc(2026, 3, 10, 7), utc(2026, 3, 10, 9)),
        (utc(2026, 3, 10, 9), utc(2026, 3, 10, 11)),
        (utc(2026, 3, 10, 11), utc(2026, 3, 10, 13)),
        (utc(2026, 3, 10, 13), utc(2026, 3, 10, 15)),
    ]


@pytest.mark.parametrize(
    ("day", "first_block_utc"),
    [
        (date(2026, 3, 28), utc(2026, 3, 28, 7)),  # the Saturday before: winter time
        (date(2026, 3, 30), utc(2026, 3, 30, 6)),  # the Monday after: summer time
        (date(2026, 10, 23), utc(2026, 10, 23, 6)),  # Friday before clocks go back
        (date(2026, 10, 26), utc(2026, 10, 26, 7)),  # Monday after
    ],
)
def test_blocks_stay_on_the_wall_clock_across_dst(day, first_block_utc):
    blocks = day_blocks(day, first_start=time(8), last_end=time(16), minutes=120, zone=AMSTERDAM)

    assert blocks[0].start.astimezone(UTC) == first_block_utc
    assert [b.start.astimezone(AMSTERDAM).hour for b in blocks] == [8, 10, 12, 14]
    assert all(b.seconds == 7200 for b in blocks)


def test_a_block_across_the_spring_change_is_an_hour_shorter():
    # 01:00–03:00 local on 29 March 2026: 02:00 does not exist.
    blocks = day_blocks(date(2026, 3, 29), first_start=time(1), last_end=time(3), minutes=120, zone=AMSTERDAM)

    assert blocks[0].seconds == 3600


def test_only_whole_blocks_are_offered():
    blocks = day_blocks(
        date(2026, 3, 10), first_start=time(8), last_end=time(15), minutes=120, zone=AMSTERDAM
    )

    assert len(blocks) == 3


def test_an_absence_cuts_a_shift_in_two():
    shift = Interval(utc(2026, 3, 10, 7), utc(2026, 3, 10, 15))
    doctor = Interval(utc(2026, 3, 10, 10), utc(2026, 3, 10, 11))

    assert subtract([shift], [doctor]) == [
        Interval(utc(2026, 3, 10, 7), utc(2026, 3, 10, 10)),
        Interval(utc(2026, 3, 10, 11), utc(2026, 3, 10, 15)),
    ]


def test_a_whole_day_absence_leaves_nothing():
    shift = Interval(utc(2026, 3, 10, 7), utc(2026, 3, 10, 15))

    assert subtract([shift], [Interval(utc(2026, 3, 9), utc(2026, 3, 12))]) == []


def test_naive_or_empty_intervals_are_refused():
    with pytest.raises(ValueError, match="aware"):
        Interval(datetime(2026, 1, 1, 8), datetime(2026, 1, 1, 9))  # noqa: DTZ001
    with pytest.raises(ValueError, match="after"):
        Interval(utc(2026, 1, 1, 9), utc(2026, 1, 1, 9))


hours = st.integers(min_value=0, max_value=23 * 60)


@given(st.lists(st.tuples(hours, st.integers(min_value=1, max_value=240)), max_size=5))
def test_subtract_never_keeps_time_inside_a_hole(holes):
    base = utc(2026, 3, 10)
    shift = Interval(base.replace(hour=6), base.replace(hour=18))
    cut = [Interval(base + timedelta(minutes=m), base + timedelta(minutes=m + d)) for m, d in holes]

    left = subtract([shift], cut)

    assert all(not piece.overlaps(hole) for piece in left for hole in cut)
    assert all(shift.start <= piece.start < piece.end <= shift.end for piece in left)
    covered = sum(piece.seconds for piece in left)
    assert covered <= shift.seconds
