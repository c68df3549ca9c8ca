"""Timing of touchpoints: anchored expressions and quiet hours (pure, Django-free).

A touchpoint's time is written relative to a domain moment:

    event                          the moment the arming event happened
    appointment.start - 1d @18:00  the day before the appointment, 18:00 local
    visit.completed + 2h           two hours after the visit was completed
    event + 1wd                    one working day (Mon–Fri) later

Grammar: ``<anchor> [(+|-) <n><unit>]... [@HH:MM]`` with units ``m`` (minutes),
``h`` (hours), ``d`` (calendar days) and ``wd`` (working days). Minutes and
hours are elapsed time; days move the local calendar date and keep the local
wall time, so "- 1d" is the same clock time the day before even across a DST
change; ``@HH:MM`` then sets the local wall time. A wall time that does not
exist (the hour skipped when clocks go forward) resolves to the moment after
the gap (shifted forward by the gap's length); a wall time that happens
twice (clocks go back) takes the first.

Quiet hours are a local wall-clock window (default 21:00–08:00) in which
nothing is sent; a time inside it moves to the window's end.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ANCHOR_NAME = r"[a-z][a-z_]*(?:\.[a-z][a-z_]*)*"
_OFFSET = re.compile(r"\s*([+-])\s*(\d{1,4})\s*(wd|m|h|d)\b")
_EXPRESSION = re.compile(
    rf"^\s*(?P<anchor>{ANCHOR_NAME})(?P<offsets>(?:\s*[+-]\s*\d{{1,4}}\s*(?:wd|m|h|d)\b)*)"
    r"\s*(?:@\s*(?P<hour>\d{1,2}):(?P<minute>\d{2}))?\s*$"
)


class TimingError(ValueError):
    """An expression that cannot be read; the message says why."""


@dataclass(frozen=True)
class Offset:
    sign: int
    amount: int
    unit: str  # m, h, d, wd


@dataclass(frozen=True)
class Timing:
    anchor: str
    offsets: tuple[Offset, ...] = ()
    at: time | None = None

    def __str__(self) -> str:
        parts = [self.anchor]
        parts += [f"{'+' if o.sign > 0 else '-'} {o.amount}{o.unit}" for o in self.offsets]
        if self.at is not None:
            parts.append(f"@{self.at:%H:%M}")
        return " ".join(parts)


def timing_parse(expression: str) -> Timing:
    if not isinstance(expression, str) or len(expression) > 200:
        raise TimingError("a timing is text of at most 200 characters, e.g. 'appointment.start - 1d @18:00'")
    match = _EXPRESSION.match(expression)
    if match is None:
        raise TimingError(
            f"cannot read {expression!r}: write <anchor> [+|- <n>m|h|d|wd]... [@HH:MM], "
            "e.g. 'appointment.start - 1d @18:00' or 'event + 2h'"
        )
    offsets = tuple(
        Offset(sign=1 if sign == "+" else -1, amount=int(amount), unit=unit)
        for sign, amount, unit in _OFFSET.findall(match.group("offsets"))
    )
    at = None
    if match.group("hour") is not None:
        hour, minute = int(match.group("hour")), int(match.group("minute"))
        if hour > 23 or minute > 59:
            raise TimingError(f"{hour:02d}:{minute:02d} is not a time of day")
        at = time(hour, minute)
    return Timing(anchor=match.group("anchor"), offsets=offsets, at=at)


def moment_read(value: object) -> datetime | None:
    """A moment as events carry it (ISO 8601 text; without an offset it is
    UTC); None when there is none or it cannot be read."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def wall_time(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC moment a local wall time happens on a day. A wall time inside
    the gap when clocks go forward is read with the offset before the change
    (02:30 becomes 03:30 summer time); one that happens twice when clocks go
    back is the first of the two."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _add_working_days(day: date, count: int) -> date:
    step = 1 if count >= 0 else -1
    remaining = abs(count)
    while remaining:
        day += timedelta(days=step)
        if day.weekday() < 5:
            remaining -= 1
    return day


def timing_compute(timing: Timing, *, anchor: datetime, zone: ZoneInfo) -> datetime:
    """The UTC moment of `timing` for the given anchor moment."""
    if anchor.tzinfo is None:
        raise ValueError("anchor must be aware")
    moment = anchor.astimezone(UTC)
    for offset in timing.offsets:
        if offset.unit in ("m", "h"):
            minutes = offset.amount * (60 if offset.unit == "h" else 1)
            moment += offset.sign * timedelta(minutes=minutes)
            continue
        local = moment.astimezone(zone)
        if offset.unit == "d":
            day = local.date() + offset.sign * timedelta(days=offset.amount)
        else:
            day = _add_working_days(local.date(), offset.sign * offset.amount)
        moment = wall_time(day, local.time().replace(tzinfo=None), zone)
    if timing.at is not None:
        moment = wall_time(moment.astimezone(zone).date(), timing.at, zone)
    return moment


@dataclass(frozen=True)
class QuietHours:
    """A local wall-clock window in which nothing is sent. `start == end` means none."""

    start: time
    end: time

    def contains(self, moment: datetime, zone: ZoneInfo) -> bool:
        if self.start == self.end:
            return False
        local = moment.astimezone(zone).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_allowed(self, moment: datetime, zone: ZoneInfo) -> datetime:
        """`moment` itself when it is outside the window, else the window's end."""
        if not self.contains(moment, zone):
            return moment.astimezone(UTC)
        local = moment.astimezone(zone)
        day = local.date()
        if self.start > self.end and local.time().replace(tzinfo=None) >= self.start:
            day += timedelta(days=1)
        return wall_time(day, self.end, zone)
