"""Local working days → UTC intervals: time blocks offered to customers and
the shifts technicians can be planned in.

Blocks and working hours are phrased in the organisation's local time
("08:00–10:00"); they are turned into aware datetimes per calendar day, so a
block on the day clocks go forward is still 08:00–10:00 on the wall clock
(and one hour shorter in UTC terms only if it spans the change itself).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, order=True)
class Interval:
    """A stretch of time, kept in UTC: Python compares and subtracts two
    datetimes of the same zone by wall clock, which is wrong across DST."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("intervals need aware datetimes")
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        object.__setattr__(self, "end", self.end.astimezone(UTC))
        if self.end <= self.start:
            raise ValueError("an interval must end after it starts")

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())

    def overlaps(self, other: "Interval") -> bool:
        return self.start < other.end and other.start < self.end


def local(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The wall-clock moment `at` on `day` in `zone`. In the hour that does
    not exist when clocks go forward, fold=0 gives the later instant."""
    return datetime.combine(day, at, tzinfo=zone)


def day_blocks(
    day: date, *, first_start: time, last_end: time, minutes: int, zone: ZoneInfo
) -> list[Interval]:
    """Consecutive blocks of `minutes` from `first_start`; only whole blocks
    that end by `last_end`."""
    blocks = []
    start = datetime.combine(day, first_start)
    end_of_day = datetime.combine(day, last_end)
    step = timedelta(minutes=minutes)
    while start + step <= end_of_day:
        blocks.append(Interval(start.replace(tzinfo=zone), (start + step).replace(tzinfo=zone)))
        start += step
    return blocks


def subtract(pieces: Iterable[Interval], holes: Sequence[Interval]) -> list[Interval]:
    """`pieces` with every `hole` cut out (absences out of a shift)."""
    result = list(pieces)
    for hole in holes:
        remaining = []
        for piece in result:
            if not piece.overlaps(hole):
                remaining.append(piece)
                continue
            if piece.start < hole.start:
                remaining.append(Interval(piece.start, hole.start))
            if hole.end < piece.end:
                remaining.append(Interval(hole.end, piece.end))
        result = remaining
    return sorted(result)
