"""Timer computation: anchored expressions, DST, quiet hours (property-based)."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from klantreis.journeys.timing import QuietHours, TimingError, timing_compute, timing_parse, wall_time

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
ZONES = [
    ZoneInfo(name)
    for name in ("Europe/Amsterdam", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "UTC")
]

# Hypothesis takes naive bounds and adds the zone itself.
moments = st.datetimes(
    min_value=datetime(2024, 1, 1),  # noqa: DTZ001
    max_value=datetime(2030, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
zones = st.sampled_from(ZONES)
wall_times = st.times().map(lambda t: t.replace(second=0, microsecond=0))


def test_parse_reads_the_documented_forms() -> None:
    timing = timing_parse("appointment.start - 1d @18:00")
    assert timing.anchor == "appointment.start"
    assert [(o.sign, o.amount, o.unit) for o in timing.offsets] == [(-1, 1, "d")]
    assert timing.at == time(18, 0)
    assert str(timing_parse("visit.completed+2h")) == "visit.completed + 2h"
    assert str(timing_parse("event + 1wd - 30m")) == "event + 1wd - 30m"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "next week",
        "event + 2",
        "event + 2y",
        "event @25:00",
        "event @18:60",
        "event - 1d @ 8",
        "x" * 201,
        "1d",
    ],
)
def test_parse_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(TimingError):
        timing_parse(text)


def test_the_evening_before_at_six_across_the_spring_change() -> None:
    # Appointment Monday 30 March 2026 09:00 summer time; the evening before is
    # Sunday 29 March, the day clocks went forward: 18:00 CEST = 16:00 UTC.
    start = datetime(2026, 3, 30, 9, 0, tzinfo=AMSTERDAM)
    due = timing_compute(timing_parse("appointment.start - 1d @18:00"), anchor=start, zone=AMSTERDAM)
    assert due == datetime(2026, 3, 29, 16, 0, tzinfo=UTC)


def test_days_keep_the_wall_time_hours_do_not() -> None:
    anchor = datetime(2026, 10, 24, 12, 0, tzinfo=AMSTERDAM)  # Saturday before clocks go back
    plus_day = timing_compute(timing_parse("event + 1d"), anchor=anchor, zone=AMSTERDAM)
    plus_24h = timing_compute(timing_parse("event + 24h"), anchor=anchor, zone=AMSTERDAM)
    assert plus_day.astimezone(AMSTERDAM).hour == 12
    assert plus_24h.astimezone(AMSTERDAM).hour == 11
    assert plus_day - plus_24h == timedelta(hours=1)


def test_a_wall_time_in_the_spring_gap_moves_forward() -> None:
    moment = wall_time(date(2026, 3, 29), time(2, 30), AMSTERDAM)
    assert moment.astimezone(AMSTERDAM).hour == 3


def test_working_days_skip_the_weekend() -> None:
    friday = datetime(2026, 3, 13, 15, 0, tzinfo=AMSTERDAM)
    due = timing_compute(timing_parse("event + 1wd"), anchor=friday, zone=AMSTERDAM)
    assert due.astimezone(AMSTERDAM) == datetime(2026, 3, 16, 15, 0, tzinfo=AMSTERDAM)


@given(anchor=moments, zone=zones, at=wall_times, days=st.integers(0, 30))
@settings(max_examples=300, deadline=None)
def test_day_offsets_with_a_wall_time_land_on_that_wall_time(
    anchor: datetime, zone: ZoneInfo, at: time, days: int
) -> None:
    due = timing_compute(timing_parse(f"a.b - {days}d @{at:%H:%M}"), anchor=anchor, zone=zone)
    local = due.astimezone(zone)
    expected_day = anchor.astimezone(zone).date() - timedelta(days=days)
    # Either the wall time itself, or (inside a DST gap) shifted forward by the gap.
    assert local.date() == expected_day
    assert local.time().replace(tzinfo=None) >= at or local.time() < time(4, 0)
    naive = datetime.combine(expected_day, at)
    assert abs(local.replace(tzinfo=None) - naive) <= timedelta(hours=1)


@given(anchor=moments, zone=zones, minutes=st.integers(0, 9_999))
@settings(max_examples=300, deadline=None)
def test_hours_and_minutes_are_elapsed_time(anchor: datetime, zone: ZoneInfo, minutes: int) -> None:
    due = timing_compute(timing_parse(f"event + {minutes}m"), anchor=anchor, zone=zone)
    assert due - anchor == timedelta(minutes=minutes)


@given(old=moments, new=moments, zone=zones)
@settings(max_examples=200, deadline=None)
def test_a_reschedule_gives_the_timer_a_fresh_anchor_would(
    old: datetime, new: datetime, zone: ZoneInfo
) -> None:
    timing = timing_parse("appointment.start - 1d @18:00")
    first = timing_compute(timing, anchor=old, zone=zone)
    moved = timing_compute(timing, anchor=new, zone=zone)
    assert moved == timing_compute(timing, anchor=new, zone=zone)
    # The reminder follows the appointment by whole local days.
    day_shift = new.astimezone(zone).date() - old.astimezone(zone).date()
    assert moved.astimezone(zone).date() - first.astimezone(zone).date() == day_shift


quiet_windows = st.tuples(wall_times, wall_times).filter(lambda pair: pair[0] != pair[1])


@given(moment=moments, zone=zones, window=quiet_windows)
@settings(max_examples=500, deadline=None)
def test_quiet_hours_never_send_inside_and_never_earlier(
    moment: datetime, zone: ZoneInfo, window: tuple[time, time]
) -> None:
    quiet = QuietHours(start=window[0], end=window[1])
    allowed = quiet.next_allowed(moment, zone)
    assert allowed >= moment
    assert not quiet.contains(allowed, zone)
    assert allowed - moment <= timedelta(hours=25)
    if not quiet.contains(moment, zone):
        assert allowed == moment


def test_default_quiet_hours_move_late_evening_to_eight() -> None:
    quiet = QuietHours(start=time(21, 0), end=time(8, 0))
    late = datetime(2026, 3, 10, 22, 15, tzinfo=AMSTERDAM)
    assert quiet.next_allowed(late, AMSTERDAM) == datetime(2026, 3, 11, 8, 0, tzinfo=AMSTERDAM)
    early = datetime(2026, 3, 11, 6, 0, tzinfo=AMSTERDAM)
    assert quiet.next_allowed(early, AMSTERDAM) == datetime(2026, 3, 11, 8, 0, tzinfo=AMSTERDAM)
    assert quiet.next_allowed(datetime(2026, 3, 11, 20, 59, tzinfo=AMSTERDAM), AMSTERDAM).hour == 19


def test_quiet_hours_follow_the_customers_zone() -> None:
    quiet = QuietHours(start=time(21, 0), end=time(8, 0))
    moment = datetime(2026, 3, 10, 21, 30, tzinfo=UTC)  # 22:30 Amsterdam, 17:30 New York
    assert quiet.contains(moment, AMSTERDAM)
    assert not quiet.contains(moment, ZoneInfo("America/New_York"))
