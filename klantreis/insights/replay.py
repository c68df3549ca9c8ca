"""The designed journey replayed over a case's own domain events.

What a case should have received depends on what happened to it: a booking
arms the confirmation and the reminder, a reschedule moves the reminder, a
visit cancels what was still waiting. So the reference model is compiled per
case from the definition — the same rules the engine follows (trigger,
conditions, anchors, quiet hours, cancel_on, expiry, ends_on) applied to the
case's domain events, never to the engine's own bookkeeping — into the
touchpoints expected, each with the moment it was due. The touchpoints that
actually reached the customer (`message.sent` of the journey, `task.created`
for a human touchpoint) are then aligned with that expectation.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from klantreis.journeys.definition import EVENT_ANCHOR, EndRule, JourneySpec, TouchpointSpec
from klantreis.journeys.services import due_at, expires_at
from klantreis.journeys.timing import QuietHours, Timing

SKIPPED = "skipped"
EXTRA = "extra"
OUT_OF_ORDER = "out_of_order"
LATE = "late"
KINDS = (SKIPPED, EXTRA, OUT_OF_ORDER, LATE)
CACHE_MAX = 100_000


@dataclass
class _Pending:
    touchpoint: TouchpointSpec
    armed_at: datetime
    due: datetime
    order: int


@dataclass
class CaseTrace:
    """One case: the touchpoints expected (id, due) and those that happened (id, at)."""

    case_id: str
    expected: list[tuple[str, datetime]] = field(default_factory=list)
    actual: list[tuple[str, datetime]] = field(default_factory=list)


@dataclass(frozen=True)
class CompiledJourney:
    """A definition indexed by activity, so each event looks up only what it touches."""

    spec: JourneySpec
    activities: frozenset[str]
    arms: dict[str, tuple[TouchpointSpec, ...]]
    moves: dict[str, tuple[tuple[str, str], ...]]
    cancels: dict[str, frozenset[str]]
    ends: dict[str, tuple[EndRule, ...]]
    # For a timing "event ± minutes/hours" (no days, no wall time): the plain offset.
    at_delta: dict[str, timedelta] = field(default_factory=dict)
    expires_delta: dict[str, timedelta] = field(default_factory=dict)
    due_cache: dict[Any, datetime | None] = field(default_factory=dict)


def _plain_offset(timing: Timing) -> timedelta | None:
    if timing.anchor != EVENT_ANCHOR or timing.at is not None:
        return None
    delta = timedelta()
    for offset in timing.offsets:
        if offset.unit not in ("m", "h"):
            return None
        delta += offset.sign * timedelta(minutes=offset.amount * (60 if offset.unit == "h" else 1))
    return delta


def journey_compile(spec: JourneySpec) -> CompiledJourney:
    arms: dict[str, list[TouchpointSpec]] = {}
    cancels: dict[str, set[str]] = {}
    for touchpoint in spec.touchpoints:
        arms.setdefault(touchpoint.when, []).append(touchpoint)
        for activity in touchpoint.cancel_on:
            cancels.setdefault(activity, set()).add(touchpoint.id)
    moves: dict[str, list[tuple[str, str]]] = {}
    for name, anchor in spec.anchors.items():
        for activity in anchor.events:
            moves.setdefault(activity, []).append((name, anchor.attribute))
    ends: dict[str, list[EndRule]] = {}
    for rule in spec.ends_on:
        ends.setdefault(rule.when, []).append(rule)
    return CompiledJourney(
        at_delta={tp.id: d for tp in spec.touchpoints if (d := _plain_offset(tp.at)) is not None},
        expires_delta={
            tp.id: d for tp in spec.touchpoints if tp.expires and (d := _plain_offset(tp.expires)) is not None
        },
        spec=spec,
        activities=frozenset(spec.activities()),
        arms={k: tuple(v) for k, v in arms.items()},
        moves={k: tuple(v) for k, v in moves.items()},
        cancels={k: frozenset(v) for k, v in cancels.items()},
        ends={k: tuple(v) for k, v in ends.items()},
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _due(
    journey: "CompiledJourney",
    touchpoint: TouchpointSpec,
    anchors: dict[str, Any],
    event_at: datetime,
    zone: ZoneInfo,
    quiet: QuietHours | None,
) -> datetime | None:
    cache = journey.due_cache
    delta = journey.at_delta.get(touchpoint.id)
    if delta is not None:
        moment = event_at + delta
        if quiet is not None and touchpoint.layer != "human" and not touchpoint.ignore_quiet_hours:
            moment = quiet.next_allowed(moment, zone)
        return moment
    if touchpoint.at.anchor == EVENT_ANCHOR:
        return due_at(touchpoint=touchpoint, anchors=anchors, event_at=event_at, zone=zone, quiet=quiet)
    value = anchors.get(touchpoint.at.anchor)
    if not isinstance(value, str):
        return due_at(touchpoint=touchpoint, anchors=anchors, event_at=event_at, zone=zone, quiet=quiet)
    # Many cases share an appointment window: compute each such moment once.
    key = (touchpoint.id, value, zone.key, quiet)
    if key not in cache:
        if len(cache) > CACHE_MAX:
            cache.clear()
        cache[key] = due_at(
            touchpoint=touchpoint,
            anchors={touchpoint.at.anchor: value},
            event_at=_EPOCH,
            zone=zone,
            quiet=quiet,
        )
    return cache[key]


@dataclass
class _Replay:
    journey: CompiledJourney
    zone: ZoneInfo
    quiet: QuietHours | None
    attributes: dict[str, Any]
    anchors: dict[str, Any] = field(default_factory=dict)
    pending: list[_Pending] = field(default_factory=list)
    expected: list[tuple[datetime, int, str]] = field(default_factory=list)
    ended: bool = False
    counter: int = 0

    def flush(self, until: datetime, *, inclusive: bool = True) -> None:
        """The touchpoints due by `until` should have happened (unless their expiry passed first)."""
        waiting = []
        for item in self.pending:
            if item.due > until or (not inclusive and item.due == until):
                waiting.append(item)
                continue
            expiry = self._expiry(item)
            if expiry is None or item.due <= expiry:
                self.expected.append((item.due, item.order, item.touchpoint.id))
        self.pending = waiting

    def _expiry(self, item: _Pending) -> datetime | None:
        touchpoint = item.touchpoint
        if touchpoint.expires is None:
            return None
        delta = self.journey.expires_delta.get(touchpoint.id)
        if delta is not None:
            return item.armed_at + delta
        value = self.anchors.get(touchpoint.expires.anchor)
        if touchpoint.expires.anchor == EVENT_ANCHOR or not isinstance(value, str):
            return expires_at(
                touchpoint=touchpoint, anchors=self.anchors, armed_at=item.armed_at, zone=self.zone
            )
        cache = self.journey.due_cache
        key = ("expires", touchpoint.id, value, self.zone.key)
        if key not in cache:
            if len(cache) > CACHE_MAX:
                cache.clear()
            cache[key] = expires_at(
                touchpoint=touchpoint,
                anchors={touchpoint.expires.anchor: value},
                armed_at=_EPOCH,
                zone=self.zone,
            )
        return cache[key]

    def follow(self, activity: str, at: datetime, attributes: dict[str, Any]) -> None:
        journey = self.journey
        # Whatever was due before this event went out before it.
        if self.pending:
            self.flush(at, inclusive=False)
        moves = journey.moves.get(activity)
        if moves:
            changed = set()
            for name, attribute in moves:
                value = at.isoformat() if attribute == "occurred_at" else None
                if value is None and attribute in attributes:
                    value = attributes[attribute]
                if value is not None and self.anchors.get(name) != value:
                    self.anchors[name] = value
                    changed.add(name)
            for item in self.pending:
                if item.touchpoint.at.anchor in changed:
                    due = _due(journey, item.touchpoint, self.anchors, item.armed_at, self.zone, self.quiet)
                    if due is not None:
                        item.due = due
        cancels = journey.cancels.get(activity)
        if cancels and self.pending:
            self.pending = [item for item in self.pending if item.touchpoint.id not in cancels]
        arms = journey.arms.get(activity, ())
        ends = journey.ends.get(activity, ())
        context = {**self.attributes, **attributes} if arms or ends else {}
        for touchpoint in arms:
            if touchpoint.conditions and not all(c.holds(context) for c in touchpoint.conditions):
                continue
            due = _due(journey, touchpoint, self.anchors, at, self.zone, self.quiet)
            if due is None:
                continue  # the engine skips it too: its anchor is not known
            self.counter += 1
            self.pending.append(_Pending(touchpoint, at, due, self.counter))
        if any(rule.matches(activity, context) for rule in ends):
            # An event at the very moment a touchpoint is due does not stop it.
            self.flush(at)
            self.pending = []
            self.ended = True


def case_trace(
    *,
    case_id: str,
    journey: CompiledJourney,
    events: Iterable[tuple[str, datetime, dict[str, Any]]],
    zone_for_customer: Any,
    quiet: QuietHours | None,
    emergencies_exempt: bool,
    horizon: datetime,
    tolerance: timedelta,
) -> CaseTrace | None:
    """Replay one case's events (in time order); None when the journey never started."""
    trace = CaseTrace(case_id=case_id)
    replay: _Replay | None = None
    spec = journey.spec
    activities = journey.activities
    prefix = f"journey:{spec.key}:"
    keys_seen: set[str] = set()
    for activity, at, attributes in events:
        if activity == "message.sent":
            source = attributes.get("source") or ""
            # Retries (same key) and the fallback channel ("<key>.<channel>") are the
            # same touchpoint reaching out again.
            key = str(attributes.get("key") or "").split(".", 1)[0]
            if isinstance(source, str) and source.startswith(prefix) and key not in keys_seen:
                keys_seen.add(key)
                trace.actual.append((source[len(prefix) :], at))
            continue
        if activity == "task.created":
            touchpoint = attributes.get("touchpoint")
            if touchpoint:
                trace.actual.append((str(touchpoint), at))
            continue
        if replay is None:
            if activity != spec.trigger:
                continue
            exempt = emergencies_exempt and attributes.get("urgency") == "emergency"
            replay = _Replay(
                journey=journey,
                zone=zone_for_customer(attributes.get("customer")),
                quiet=None if exempt else quiet,
                attributes=dict(attributes),
            )
        if replay.ended or activity not in activities:
            continue
        replay.follow(activity, at, attributes)
    if replay is None:
        return None
    if not replay.ended:
        # Still running: only what was due (with the tolerance to go out) counts.
        replay.flush(horizon - tolerance)
    trace.expected = [(tp, due) for due, _, tp in sorted(replay.expected)]
    trace.actual.sort(key=lambda item: item[1])
    return trace


@lru_cache(maxsize=65536)
def _align(expected: tuple[str, ...], actual: tuple[tuple[str, int], ...]) -> tuple[tuple[str, str], ...]:
    """Deviations of one variant: the expected touchpoint ids in designed
    order, the actual ones with the rank of their moment (equal moments share
    a rank and are never out of order with each other).

    Occurrences of a touchpoint are matched in order (the i-th expected with
    the i-th sent); what stays unmatched is skipped or extra. Of the matched
    ones the longest run in designed order that also happened in that order
    is kept; the rest came out of order (the earlier designed ones are kept
    when two runs are equally long, so a swap names the one that jumped ahead).
    """
    positions: dict[str, list[int]] = {}
    for index, (touchpoint, _) in enumerate(actual):
        positions.setdefault(touchpoint, []).append(index)
    used: dict[str, int] = {}
    matched: list[tuple[str, int]] = []
    deviations: list[tuple[str, str]] = []
    for touchpoint in expected:
        taken = used.get(touchpoint, 0)
        available = positions.get(touchpoint, [])
        if taken < len(available):
            used[touchpoint] = taken + 1
            matched.append((touchpoint, actual[available[taken]][1]))
        else:
            deviations.append((SKIPPED, touchpoint))
    for touchpoint, indexes in positions.items():
        for _ in range(len(indexes) - used.get(touchpoint, 0)):
            deviations.append((EXTRA, touchpoint))
    # Longest non-decreasing run of ranks; best[i] = length of the best run starting at i.
    count = len(matched)
    best = [1] * count
    for i in range(count - 1, -1, -1):
        for j in range(i + 1, count):
            if matched[j][1] >= matched[i][1] and best[j] + 1 > best[i]:
                best[i] = best[j] + 1
    keep: set[int] = set()
    length = max(best, default=0)
    last_rank = -1
    for i in range(count):
        if length and best[i] == length and matched[i][1] >= last_rank:
            keep.add(i)
            last_rank = matched[i][1]
            length -= 1
    deviations.extend((OUT_OF_ORDER, matched[i][0]) for i in range(count) if i not in keep)
    return tuple(deviations)


def trace_deviations(trace: CaseTrace, *, tolerance: timedelta) -> set[tuple[str, str]]:
    """The (kind, touchpoint) deviations of one case."""
    ranks: dict[datetime, int] = {}
    for _, at in trace.actual:
        ranks.setdefault(at, len(ranks))
    found = set(
        _align(
            tuple(tp for tp, _ in trace.expected),
            tuple((tp, ranks[at]) for tp, at in trace.actual),
        )
    )
    sent: dict[str, list[datetime]] = {}
    for touchpoint, at in trace.actual:
        sent.setdefault(touchpoint, []).append(at)
    seen: dict[str, int] = {}
    for touchpoint, due in trace.expected:
        index = seen.get(touchpoint, 0)
        seen[touchpoint] = index + 1
        moments = sent.get(touchpoint, [])
        if index < len(moments) and moments[index] - due > tolerance:
            found.add((LATE, touchpoint))
    return found
