"""Slot offering: which time blocks can a new job still get, on whose route, at what cost.

Domain-neutral and free of Django, so `bench/slots.py` drives exactly the code the
product uses. Times are whole seconds (epoch seconds, UTC); locations are opaque
hashable keys, turned into travel times by a `TravelTimes` callable the caller
supplies (or a `{(a, b): seconds}` mapping).

The model. A technician's day is a `RouteDay`: they leave `start_location` at
`shift_start`, serve the stops in the given order and must be back at
`end_location` by `shift_end`. Every stop has a promised window (the block the
customer booked) within which service must *start*; arriving earlier means waiting.
Every route is timed as early as possible. An absence splits a day: pass each piece
of the shift as its own `RouteDay` (same technician and day, its own start and end
location); workload balance adds the pieces up. For today, pass what is left of
the day: the shift from now (or from the end of the visit under way), the
technician's position as start location, no finished visits.

Windows are closed: a start exactly at `window_end`, or a return exactly at
`shift_end`, is on time. Blocks are clipped to the new job's [earliest, latest];
sorted by start, their ends must not decrease (blocks of one length always qualify,
overlapping or not). Travel times must not be negative, which is all the cheap
bound relies on (a route whose widest gap is shorter than the service time is
skipped); they need not be symmetric or obey the triangle inequality, and a huge
value for an unreachable pair just makes that insertion infeasible.

Why it is fast. `RouteState` keeps, per stop, the earliest start of service and
Savelsbergh's forward time slack (1992): how far that start can be pushed without
breaking any later window or the shift end. Inserting a job into a gap between two
nodes then needs no re-simulation: with `depart` the departure from the node before
and `deadline` the latest arrival at the node after (its start plus its slack),

    arrival  = depart + t(prev, new)
    latest   = deadline - service_new - t(new, next)
    feasible in block [bs, be]  iff  max(arrival, bs) <= min(be, latest)
    added travel = t(prev, new) + t(new, next) - t(prev, next)

(an arrival at the next node before its current start pushes nothing, and one
after it pushes by the difference, which the slack absorbs exactly). The added
travel does not depend on the block, so a query computes, per gap, one interval of
possible starts and one cost, for all gaps of all eligible routes at once in
numpy, with the travel times from and to the new location fetched in two
vectorised calls; the blocks a gap can serve form a contiguous run in the sorted
blocks. `exact_best_insertion` is the slow reference that re-simulates every route
for every position and block; the tests and the benchmark hold the two equal.

Ranking. Every candidate (block, technician day, position) gets

    score = added_travel + workload * balance_per_hour // 3600

where `workload` is the service time already booked on that technician's day (all
pieces), in seconds. With the default of 60, a technician with four hours more work
booked that day is preferred only when it saves more than four minutes of travel:
near-ties in travel go to the emptier day, clear travel savings win. Per block the
offer is the candidate with the lowest (score, route order in `routes`, position);
the offer with the lowest (score, window start, route order, position) is marked
`best`. Routes that are already infeasible (a visit ran late, a planner override)
are never offered more work.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

type Location = Hashable
type Order = Literal["start", "score"]

DEFAULT_BALANCE_PER_HOUR = 60
_HOUR = 3600
# The job id of the new job inside the reference's trial routes.
_NEW = object()


class TravelTimes(Protocol):
    """Whole seconds of travel from every origin to every destination, as an array-like
    of shape (len(origins), len(destinations)): OSRM's table semantics. The engine asks
    for one column (all gap origins to the new location) and one row (the new location
    to all gap destinations) per query; an implementation backed by a remote service
    should de-duplicate and cache."""

    def __call__(self, origins: Sequence[Location], destinations: Sequence[Location], /) -> ArrayLike: ...


class MatrixTravel:
    """A `TravelTimes` over a precomputed mapping `{(origin, destination): seconds}`."""

    def __init__(self, seconds: Mapping[tuple[Location, Location], int]) -> None:
        self.seconds = seconds

    def __call__(self, origins: Sequence[Location], destinations: Sequence[Location], /) -> ArrayLike:
        return [[self.seconds[a, b] for b in destinations] for a in origins]


class InsertionInfeasible(ValueError):
    """`book` was asked for an insertion that breaks a window or the shift."""


@dataclass(frozen=True, slots=True)
class PlannedStop:
    """A booked job on a route. Service must start within [window_start, window_end]."""

    job_id: Hashable
    location: Location
    service_seconds: int
    window_start: int
    window_end: int

    def __post_init__(self) -> None:
        if self.service_seconds < 0:
            raise ValueError(f"Stop {self.job_id!r}: negative service time.")
        if self.window_end < self.window_start:
            raise ValueError(f"Stop {self.job_id!r}: its window ends before it starts.")


@dataclass(frozen=True, slots=True)
class RouteDay:
    """One technician's shift (or one piece of it), with its stops in route order."""

    technician_id: Hashable
    day: date
    shift_start: int
    shift_end: int
    start_location: Location
    end_location: Location
    skills: frozenset[str]
    stops: tuple[PlannedStop, ...] = ()

    def __post_init__(self) -> None:
        if self.shift_end < self.shift_start:
            raise ValueError(f"Technician {self.technician_id!r}: the shift ends before it starts.")
        if not isinstance(self.stops, tuple):
            object.__setattr__(self, "stops", tuple(self.stops))


@dataclass(frozen=True, slots=True)
class NewJob:
    """What the customer asks for. Service must start within [earliest, latest]: the
    horizon for a normal request, today/tomorrow (from now) for an urgent one.
    `skill` None means any technician will do."""

    location: Location
    service_seconds: int
    skill: str | None
    earliest: int
    latest: int

    def __post_init__(self) -> None:
        if self.service_seconds < 0:
            raise ValueError("The new job has a negative service time.")


@dataclass(frozen=True, slots=True)
class Block:
    start: int
    end: int

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("A block ends before it starts.")


@dataclass(frozen=True, slots=True)
class SlotOffer:
    """The best way to serve the new job in `block`. Store `window_start`..`window_end`
    (the block, clipped to the job's earliest/latest) as the booked stop's window and
    insert it at `position` (0 = before the first stop) of `routes[route_index]`."""

    block: Block
    window_start: int
    window_end: int
    route_index: int
    technician_id: Hashable
    day: date
    position: int
    start: int
    added_travel: int
    workload: int
    score: int
    best: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class RouteState:
    """A route timed as early as possible, with its forward time slack.

    `starts[k]` / `arrivals[k]`: start of service and arrival at stop k; `slack[k]`:
    how far `starts[k]` can move later without breaking a later window or the shift
    end; `end_arrival` / `end_slack` the same for the return to the end location.
    `legs[k]` is the travel time into stop k (`legs[n]`: into the end location).
    `gaps` holds, per insertion position k = 0..n, the departure from the node
    before, the latest arrival at the node after, and the travel between them."""

    route: RouteDay
    legs: tuple[int, ...]
    arrivals: tuple[int, ...]
    starts: tuple[int, ...]
    slack: tuple[int, ...]
    end_arrival: int
    end_slack: int
    feasible: bool
    booked_service: int
    room: int
    gaps: NDArray[np.int64] = field(repr=False)
    gap_origins: tuple[Location, ...] = field(repr=False)
    gap_destinations: tuple[Location, ...] = field(repr=False)

    @classmethod
    def from_route(
        cls,
        route: RouteDay,
        *,
        travel: TravelTimes | Mapping[tuple[Location, Location], int] | None = None,
        legs: Sequence[int] | None = None,
    ) -> RouteState:
        """Times `route` with travel times from `travel`, or with `legs` (the travel
        time into every stop and into the end location, e.g. as stored with the plan)."""
        if legs is None:
            if travel is None:
                raise TypeError("Pass travel or legs.")
            nodes = _nodes(route)
            matrix = _matrix(as_travel(travel), nodes[:-1], nodes[1:])
            legs = [int(matrix[k, k]) for k in range(len(nodes) - 1)]
        elif travel is not None:
            raise TypeError("Pass travel or legs, not both.")
        if len(legs) != len(route.stops) + 1:
            raise ValueError(f"{len(legs)} legs for {len(route.stops)} stops: one more than the stops.")
        if any(leg < 0 for leg in legs):
            raise ValueError("Travel times must not be negative.")
        return cls._build(route, tuple(int(leg) for leg in legs))

    @classmethod
    def _build(cls, route: RouteDay, legs: tuple[int, ...]) -> RouteState:
        stops = route.stops
        n = len(stops)
        arrivals: list[int] = []
        starts: list[int] = []
        departs = [route.shift_start]
        for stop, leg in zip(stops, legs, strict=False):
            arrival = departs[-1] + leg
            start = max(arrival, stop.window_start)
            arrivals.append(arrival)
            starts.append(start)
            departs.append(start + stop.service_seconds)
        end_arrival = departs[-1] + legs[n]
        end_slack = route.shift_end - end_arrival
        # Savelsbergh's recursion: F_k = min(window_end_k - start_k, wait_{k+1} + F_{k+1}),
        # the end location having no window but the shift end and no waiting.
        slack = [0] * n
        carried = end_slack
        for k in range(n - 1, -1, -1):
            slack[k] = min(stops[k].window_end - starts[k], carried)
            carried = starts[k] - arrivals[k] + slack[k]
        feasible = end_slack >= 0 and all(s <= stop.window_end for s, stop in zip(starts, stops, strict=True))
        deadlines = [starts[k] + slack[k] for k in range(n)] + [route.shift_end]
        gaps = np.array([departs, deadlines, legs], dtype=np.int64)
        nodes = _nodes(route)
        return cls(
            route=route,
            legs=legs,
            arrivals=tuple(arrivals),
            starts=tuple(starts),
            slack=tuple(slack),
            end_arrival=end_arrival,
            end_slack=end_slack,
            feasible=feasible,
            booked_service=sum(stop.service_seconds for stop in stops),
            room=max(d - a for d, a in zip(deadlines, departs, strict=True)),
            gaps=gaps,
            gap_origins=nodes[:-1],
            gap_destinations=nodes[1:],
        )


def as_travel(travel: TravelTimes | Mapping[tuple[Location, Location], int]) -> TravelTimes:
    if isinstance(travel, Mapping):
        return MatrixTravel(travel)
    return travel


def book(
    state: RouteState,
    position: int,
    stop: PlannedStop,
    *,
    travel: TravelTimes | Mapping[tuple[Location, Location], int],
) -> RouteState:
    """The route with `stop` inserted before stop `position` (0 = first, n = last).

    Cheaper than `RouteState.from_route` in travel lookups: two new legs instead of
    an (n+1) x (n+1) table, every other travel time reused; the re-timing is the same
    linear pass. Raises
    `InsertionInfeasible` when the result breaks a window or the shift, so a booking
    made on a stale offer fails loudly instead of overbooking."""
    n = len(state.route.stops)
    if not 0 <= position <= n:
        raise IndexError(f"Position {position} is outside 0..{n}.")
    before = state.gap_origins[position]
    after = state.gap_destinations[position]
    matrix = _matrix(as_travel(travel), (before, stop.location), (stop.location, after))
    legs = state.legs[:position] + (int(matrix[0, 0]), int(matrix[1, 1])) + state.legs[position + 1 :]
    stops = state.route.stops[:position] + (stop,) + state.route.stops[position:]
    booked = RouteState._build(replace(state.route, stops=stops), legs)
    if not booked.feasible:
        raise InsertionInfeasible(f"Stop {stop.job_id!r} does not fit at position {position}.")
    return booked


def offer_slots(
    *,
    routes: Sequence[RouteState],
    request: NewJob,
    blocks: Sequence[Block],
    travel: TravelTimes | Mapping[tuple[Location, Location], int],
    limit: int | None = None,
    order: Order = "start",
    balance_per_hour: int = DEFAULT_BALANCE_PER_HOUR,
) -> list[SlotOffer]:
    """For every block some qualified technician can still serve, the cheapest insertion.

    `order="start"` sorts the offers by block (the customer chooses), `"score"` best
    first; either way the best-ranked offer has `best=True`. `limit` keeps that many
    best-ranked offers before sorting. An empty list means no capacity."""
    windows = _windows(request, blocks)
    if not windows:
        return []
    window_starts = np.array([w[1] for w in windows], dtype=np.int64)
    window_ends = np.array([w[2] for w in windows], dtype=np.int64)
    if np.any(np.diff(window_ends) < 0):
        raise ValueError("Blocks must not lie inside one another (sorted by start, ends must not decrease).")
    first_start, last_end = int(window_starts[0]), int(window_ends.max())

    eligible: list[int] = []
    service = request.service_seconds
    for index, state in enumerate(routes):
        route = state.route
        if (
            state.feasible
            and state.room >= service
            and route.shift_start <= last_end
            and route.shift_end >= first_start
            and (request.skill is None or request.skill in route.skills)
        ):
            eligible.append(index)
    if not eligible:
        return []
    workload = _workload(routes)

    chosen = [routes[i] for i in eligible]
    sizes = np.array([state.gaps.shape[1] for state in chosen], dtype=np.int64)
    gaps = np.concatenate([state.gaps for state in chosen], axis=1)
    depart, deadline, leg = gaps[0], gaps[1], gaps[2]
    origins: list[Location] = []
    destinations: list[Location] = []
    for state in chosen:
        origins.extend(state.gap_origins)
        destinations.extend(state.gap_destinations)
    travel = as_travel(travel)
    to_new = _matrix(travel, origins, [request.location]).reshape(-1)
    from_new = _matrix(travel, [request.location], destinations).reshape(-1)
    if to_new.shape != depart.shape or from_new.shape != depart.shape:
        raise ValueError("The travel times do not match the locations asked for.")

    arrival = depart + to_new
    latest = deadline - service - from_new
    added = to_new + from_new - leg
    route_of_gap = np.repeat(np.arange(len(chosen)), sizes)
    balance = np.array(
        [workload.get((s.route.technician_id, s.route.day), 0) * balance_per_hour // _HOUR for s in chosen],
        dtype=np.int64,
    )
    score = added + balance[route_of_gap]

    # The blocks a gap can serve: ends at or after its arrival, starts at or before its
    # latest start; with blocks sorted and none inside another, a contiguous run.
    first = np.searchsorted(window_ends, arrival, side="left")
    last = np.searchsorted(window_starts, latest, side="right") - 1
    counts = np.where(arrival <= latest, np.maximum(last - first + 1, 0), 0)
    total = int(counts.sum())
    if total == 0:
        return []
    gap_of = np.repeat(np.arange(len(depart)), counts)
    run_start = np.repeat(np.cumsum(counts) - counts, counts)
    block_of = np.repeat(first, counts) + (np.arange(total) - run_start)
    # Lowest score, then route order and position (the gap index carries both).
    ranked = np.lexsort((gap_of, score[gap_of], block_of))
    sorted_blocks = block_of[ranked]
    heads = ranked[np.flatnonzero(np.r_[True, sorted_blocks[1:] != sorted_blocks[:-1]])]

    offsets = np.cumsum(sizes) - sizes
    offers: list[SlotOffer] = []
    for head in heads.tolist():
        gap = int(gap_of[head])
        window = windows[int(block_of[head])]
        local = int(route_of_gap[gap])
        state = chosen[local]
        offers.append(
            SlotOffer(
                block=window[0],
                window_start=window[1],
                window_end=window[2],
                route_index=eligible[local],
                technician_id=state.route.technician_id,
                day=state.route.day,
                position=gap - int(offsets[local]),
                start=max(int(arrival[gap]), window[1]),
                added_travel=int(added[gap]),
                workload=workload.get((state.route.technician_id, state.route.day), 0),
                score=int(score[gap]),
            )
        )
    return _finish(offers, limit=limit, order=order)


def exact_best_insertion(
    *,
    routes: Sequence[RouteState],
    request: NewJob,
    blocks: Sequence[Block],
    travel: TravelTimes | Mapping[tuple[Location, Location], int],
    limit: int | None = None,
    order: Order = "start",
    balance_per_hour: int = DEFAULT_BALANCE_PER_HOUR,
) -> list[SlotOffer]:
    """The reference for `offer_slots`, same answer by brute force: for every block,
    every qualified route and every position, insert the job and re-time the whole
    route from its shift start. Only `RouteState.route` is read, never the slack."""
    travel = as_travel(travel)
    workload = _workload(routes)
    candidates: dict[int, tuple[tuple[int, int, int], SlotOffer]] = {}
    windows = _windows(request, blocks)
    for index, state in enumerate(routes):
        route = state.route
        if request.skill is not None and request.skill not in route.skills:
            continue
        locations = list(dict.fromkeys([*_nodes(route), request.location]))
        matrix = _matrix(travel, locations, locations)
        seconds = {
            (a, b): int(matrix[i, j]) for i, a in enumerate(locations) for j, b in enumerate(locations)
        }
        if _simulate(route, seconds) is None:
            continue
        booked = workload.get((route.technician_id, route.day), 0)
        balance = booked * balance_per_hour // _HOUR
        for w, (block, window_start, window_end) in enumerate(windows):
            new = PlannedStop(_NEW, request.location, request.service_seconds, window_start, window_end)
            for position in range(len(route.stops) + 1):
                stops = route.stops[:position] + (new,) + route.stops[position:]
                starts = _simulate(replace(route, stops=stops), seconds)
                if starts is None:
                    continue
                before = _nodes(route)[position]
                after = _nodes(route)[position + 1]
                added = (
                    seconds[before, request.location]
                    + seconds[request.location, after]
                    - seconds[before, after]
                )
                key = (added + balance, index, position)
                if w not in candidates or key < candidates[w][0]:
                    candidates[w] = (
                        key,
                        SlotOffer(
                            block=block,
                            window_start=window_start,
                            window_end=window_end,
                            route_index=index,
                            technician_id=route.technician_id,
                            day=route.day,
                            position=position,
                            start=starts[position],
                            added_travel=added,
                            workload=booked,
                            score=added + balance,
                        ),
                    )
    return _finish([offer for _, offer in candidates.values()], limit=limit, order=order)


def _simulate(route: RouteDay, seconds: Mapping[tuple[Location, Location], int]) -> list[int] | None:
    """Starts of service of every stop when the route is driven as early as possible,
    or None when it breaks a window or the shift end."""
    starts: list[int] = []
    clock = route.shift_start
    here = route.start_location
    for stop in route.stops:
        clock = max(clock + seconds[here, stop.location], stop.window_start)
        if clock > stop.window_end:
            return None
        starts.append(clock)
        clock += stop.service_seconds
        here = stop.location
    if clock + seconds[here, route.end_location] > route.shift_end:
        return None
    return starts


def _nodes(route: RouteDay) -> tuple[Location, ...]:
    return (route.start_location, *(stop.location for stop in route.stops), route.end_location)


def _matrix(
    travel: TravelTimes, origins: Sequence[Location], destinations: Sequence[Location]
) -> NDArray[np.int64]:
    matrix = np.asarray(travel(origins, destinations))
    if matrix.shape != (len(origins), len(destinations)):
        raise ValueError(
            f"Travel times of shape {matrix.shape} for {len(origins)} origins "
            f"and {len(destinations)} destinations."
        )
    if matrix.size and matrix.dtype.kind not in "iu":
        raise TypeError("Travel times must be whole seconds.")
    if matrix.size and int(matrix.min()) < 0:
        raise ValueError("Travel times must not be negative.")
    return matrix.astype(np.int64, copy=False)


def _windows(request: NewJob, blocks: Sequence[Block]) -> list[tuple[Block, int, int]]:
    """Each block clipped to the job's earliest/latest start, empty ones dropped,
    sorted by start."""
    windows = [
        (block, max(block.start, request.earliest), min(block.end, request.latest)) for block in blocks
    ]
    return sorted((w for w in windows if w[1] <= w[2]), key=lambda w: (w[1], w[2]))


def _workload(routes: Sequence[RouteState]) -> dict[tuple[Hashable, date], int]:
    workload: dict[tuple[Hashable, date], int] = {}
    for state in routes:
        key = (state.route.technician_id, state.route.day)
        workload[key] = workload.get(key, 0) + state.booked_service
    return workload


def _finish(offers: list[SlotOffer], *, limit: int | None, order: Order) -> list[SlotOffer]:
    if not offers or limit == 0:
        return []
    ranked = sorted(offers, key=lambda o: (o.score, o.window_start, o.route_index, o.position))
    if limit is not None:
        ranked = ranked[:limit]
    ranked[0] = replace(ranked[0], best=True)
    if order == "score":
        return ranked
    return sorted(ranked, key=lambda o: (o.window_start, o.window_end))
