"""Route optimisation: klantreis's own model of a day's routing problem, solved with PyVRP.

The model is domain-neutral and free of Django, so the Solomon benchmark
(`bench/solomon.py`) drives exactly the code the product uses. Callers describe
a day as plain dataclasses: technicians are `Vehicle`s (shift, start and end
location, skills, optional capacity), jobs are `Stop`s (location, service
duration, time window for the start of service, required skill, optional pinned
vehicle). Locations are indices into a travel matrix the caller supplies in
whole units (seconds, or scaled distances): `durations` drives time windows and
shifts, `distances` (default: the durations) is what the optimiser minimises.

Skills and pinned stops: PyVRP's open-source edition (pinned at 0.14.1) has no
skills field and no per-client vehicle restriction. Client groups do not help:
they choose *which* clients to serve, not *who* serves them. What it does have is
routing profiles: every vehicle type names the distance/duration matrices it
travels on. So every distinct set of stops a vehicle may not serve (missing
skill, or pinned to another vehicle) gets its own profile, in which every edge
into or out of such a stop is prohibitively long in both distance and duration.
The duration alone exceeds the whole planning horizon, so a route that serves a
forbidden stop always has time warp and is never a feasible solution; the
distance keeps the search away from it. Vehicles without restrictions share the
plain matrix. Each stop gets its own PyVRP location (even when two stops share an
address), because a profile forbids locations, not clients. The cost is one pair
of matrices per distinct restriction set: fine for a day's plan (tens of
technicians, a few hundred stops); grouping technicians by skill set keeps it
small. After solving, the assignment is checked against skills and pins once
more, so a mistake here shows as `feasible=False`, never as a silent violation.

Stops that no qualified vehicle could serve even on an otherwise empty route are
reported as unassigned before the optimiser runs. A stop with a `drop_penalty` is
optional: the optimiser may leave it out when serving it costs more than that
penalty or does not fit; a stop without one must be served, and if that is
impossible the solution is infeasible.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray
from pyvrp import Client, Depot, Location, ProblemData, VehicleType
from pyvrp import solve as pyvrp_solve
from pyvrp.constants import MAX_VALUE

# PyVRP's own default for "no upper bound" on a time window.
_UNBOUNDED = int(np.iinfo(np.int64).max)


@dataclass(frozen=True, slots=True)
class Vehicle:
    """A technician's day: they leave `start_location` no earlier than `shift_start`
    and are back at `end_location` no later than `shift_end`."""

    id: str
    start_location: int
    end_location: int
    shift_start: int
    shift_end: int
    skills: frozenset[str] = frozenset()
    capacity: int | None = None


@dataclass(frozen=True, slots=True)
class Stop:
    """A job: service starts within [earliest, latest] (arriving earlier means waiting).
    Times count from 0 in the matrix's unit; pinning a job to a time is a narrow window."""

    id: str
    location: int
    service_duration: int = 0
    earliest: int = 0
    latest: int | None = None
    skill: str | None = None
    pinned_vehicle: str | None = None
    demand: int = 0
    drop_penalty: int | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    durations: Sequence[Sequence[int]]
    vehicles: Sequence[Vehicle]
    stops: Sequence[Stop]
    distances: Sequence[Sequence[int]] | None = None


@dataclass(frozen=True, slots=True)
class Visit:
    stop_id: str
    arrival: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Route:
    vehicle_id: str
    visits: tuple[Visit, ...]
    start: int
    end: int
    distance: int

    @property
    def duration(self) -> int:
        return self.end - self.start


class UnassignedReason(enum.StrEnum):
    NO_QUALIFIED_VEHICLE = "no_qualified_vehicle"
    OUT_OF_REACH = "out_of_reach"
    LEFT_OUT = "left_out"


@dataclass(frozen=True, slots=True)
class Unassigned:
    stop_id: str
    reason: UnassignedReason


@dataclass(frozen=True, slots=True)
class Solution:
    """`routes` holds only vehicles that serve at least one stop, in the problem's
    vehicle order; `unassigned` follows the problem's stop order. `feasible` means
    every route keeps every time window, shift, skill, pin and capacity, and every
    stop without a drop penalty that could be served at all is served."""

    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...]
    distance: int
    duration: int
    feasible: bool


def solve(problem: Problem, *, seconds: float, seed: int = 0) -> Solution:
    """Plans the stops onto the vehicles within `seconds` of wall-clock time,
    model building included."""
    deadline = time.perf_counter() + seconds
    durations = _matrix(problem.durations, "durations")
    distances = durations if problem.distances is None else _matrix(problem.distances, "distances")
    if distances.shape != durations.shape:
        raise ValueError("The distance and duration matrices differ in size.")
    _validate(problem, size=durations.shape[0])

    vehicles = list(problem.vehicles)
    unassigned: list[Unassigned] = []
    planned: list[Stop] = []
    for stop in problem.stops:
        qualified = [vehicle for vehicle in vehicles if _qualified(vehicle, stop)]
        if not qualified:
            unassigned.append(Unassigned(stop.id, UnassignedReason.NO_QUALIFIED_VEHICLE))
        elif not any(_reachable_alone(vehicle, stop, durations) for vehicle in qualified):
            unassigned.append(Unassigned(stop.id, UnassignedReason.OUT_OF_REACH))
        else:
            planned.append(stop)
    if not planned:
        return Solution(routes=(), unassigned=tuple(unassigned), distance=0, duration=0, feasible=True)

    model = _Model.build(vehicles, planned, durations, distances)
    result = pyvrp_solve(
        model.data,
        _Deadline(deadline),
        seed=seed,
        collect_stats=False,
        display=False,
    )

    feasible = True
    served: set[str] = set()
    routes_by_vehicle: dict[str, Route] = {}
    free_vehicles = [list(group) for group in model.type_vehicles]
    for pyvrp_route in result.best.routes():
        vehicle = free_vehicles[pyvrp_route.vehicle_type()].pop(0)
        visits: list[Visit] = []
        for activity in pyvrp_route.schedule():
            if activity.is_client():
                stop = planned[activity.idx]
                visits.append(
                    Visit(
                        stop_id=stop.id,
                        arrival=activity.start_time - activity.wait_duration,
                        start=activity.start_time,
                        end=activity.end_time,
                    )
                )
                served.add(stop.id)
                feasible = feasible and _qualified(vehicle, stop)
        stop_locations = [model.stop_by_id[visit.stop_id].location for visit in visits]
        path = [vehicle.start_location, *stop_locations, vehicle.end_location]
        routes_by_vehicle[vehicle.id] = Route(
            vehicle_id=vehicle.id,
            visits=tuple(visits),
            start=pyvrp_route.start_time(),
            end=pyvrp_route.end_time(),
            distance=int(distances[path[:-1], path[1:]].sum()),
        )
        feasible = feasible and pyvrp_route.is_feasible()

    for stop in planned:
        if stop.id not in served:
            unassigned.append(Unassigned(stop.id, UnassignedReason.LEFT_OUT))
            feasible = feasible and stop.drop_penalty is not None

    routes = tuple(routes_by_vehicle[v.id] for v in vehicles if v.id in routes_by_vehicle)
    order = {stop.id: index for index, stop in enumerate(problem.stops)}
    return Solution(
        routes=routes,
        unassigned=tuple(sorted(unassigned, key=lambda item: order[item.stop_id])),
        distance=sum(route.distance for route in routes),
        duration=sum(route.duration for route in routes),
        feasible=feasible,
    )


class _Deadline:
    """A PyVRP stopping criterion on an absolute deadline, so the time spent building
    the model and the initial solution counts against the caller's budget."""

    def __init__(self, deadline: float) -> None:
        self._deadline = deadline

    def __call__(self, best_cost: int) -> bool:
        return time.perf_counter() >= self._deadline


@dataclass(frozen=True, slots=True)
class _Model:
    data: ProblemData
    # For every PyVRP vehicle type, the problem's vehicles it stands for.
    type_vehicles: list[list[Vehicle]]
    stop_by_id: dict[str, Stop]

    @classmethod
    def build(
        cls,
        vehicles: list[Vehicle],
        stops: list[Stop],
        durations: NDArray[np.int64],
        distances: NDArray[np.int64],
    ) -> _Model:
        # PyVRP locations: first every distinct start/end location (as depots),
        # then one per stop.
        depot_locations = list(
            dict.fromkeys(loc for v in vehicles for loc in (v.start_location, v.end_location))
        )
        depot_index = {loc: index for index, loc in enumerate(depot_locations)}
        source = np.array(depot_locations + [stop.location for stop in stops], dtype=np.intp)
        first_stop = len(depot_locations)

        base_durations = durations[np.ix_(source, source)]
        base_distances = distances[np.ix_(source, source)]
        np.fill_diagonal(base_durations, 0)
        np.fill_diagonal(base_distances, 0)

        # Longer than any horizon and any route: see the module docstring.
        horizon = max(v.shift_end for v in vehicles) - min(v.shift_start for v in vehicles)
        largest = int(max(durations.max(), distances.max())) + max(s.service_duration for s in stops)
        prohibitive = min(MAX_VALUE, (largest + horizon + 1) * (len(source) + 1))

        forbidden_sets: dict[frozenset[int], int] = {frozenset(): 0}
        vehicle_profile: list[int] = []
        for vehicle in vehicles:
            forbidden = frozenset(k for k, stop in enumerate(stops) if not _qualified(vehicle, stop))
            vehicle_profile.append(forbidden_sets.setdefault(forbidden, len(forbidden_sets)))
        duration_matrices: list[NDArray[np.int64]] = []
        distance_matrices: list[NDArray[np.int64]] = []
        for forbidden in forbidden_sets:
            profile_durations = base_durations.copy()
            profile_distances = base_distances.copy()
            if forbidden:
                rows = np.array(sorted(forbidden), dtype=np.intp) + first_stop
                for matrix in (profile_durations, profile_distances):
                    matrix[rows, :] = prohibitive
                    matrix[:, rows] = prohibitive
                    matrix[rows, rows] = 0
            duration_matrices.append(profile_durations)
            distance_matrices.append(profile_distances)

        with_load = any(v.capacity is not None for v in vehicles) or any(s.demand for s in stops)
        unlimited_capacity = sum(s.demand for s in stops)

        # Identical vehicles become one vehicle type: PyVRP's search then need not
        # try swapping routes between interchangeable vehicles.
        types: dict[tuple[int, int, int, int, int | None, int], list[Vehicle]] = {}
        for vehicle, profile in zip(vehicles, vehicle_profile, strict=True):
            key = (
                vehicle.start_location,
                vehicle.end_location,
                vehicle.shift_start,
                vehicle.shift_end,
                vehicle.capacity,
                profile,
            )
            types.setdefault(key, []).append(vehicle)
        vehicle_types = [
            VehicleType(
                num_available=len(group),
                capacity=([unlimited_capacity if capacity is None else capacity] if with_load else []),
                start_depot=depot_index[start],
                end_depot=depot_index[end],
                tw_early=shift_start,
                tw_late=shift_end,
                profile=profile,
                name=group[0].id,
            )
            for (start, end, shift_start, shift_end, capacity, profile), group in types.items()
        ]

        clients = [
            Client(
                location=first_stop + k,
                delivery=[stop.demand] if with_load else [],
                service_duration=stop.service_duration,
                tw_early=stop.earliest,
                tw_late=_UNBOUNDED if stop.latest is None else stop.latest,
                prize=stop.drop_penalty or 0,
                required=stop.drop_penalty is None,
                name=stop.id,
            )
            for k, stop in enumerate(stops)
        ]
        # PyVRP's stub spells the matrices `ndarray[int]`, which numpy's generic
        # array types never match; the arrays are the int64 matrices it wants.
        data = ProblemData(
            locations=[Location(x=0, y=0, name=str(loc)) for loc in source.tolist()],
            clients=clients,
            depots=[Depot(location=index) for index in range(first_stop)],
            vehicle_types=vehicle_types,
            distance_matrices=cast("list[Any]", distance_matrices),
            duration_matrices=cast("list[Any]", duration_matrices),
        )
        return cls(
            data=data,
            type_vehicles=list(types.values()),
            stop_by_id={stop.id: stop for stop in stops},
        )


def _qualified(vehicle: Vehicle, stop: Stop) -> bool:
    if stop.pinned_vehicle is not None and stop.pinned_vehicle != vehicle.id:
        return False
    return stop.skill is None or stop.skill in vehicle.skills


def _reachable_alone(vehicle: Vehicle, stop: Stop, durations: NDArray[np.int64]) -> bool:
    if vehicle.capacity is not None and stop.demand > vehicle.capacity:
        return False
    arrival = vehicle.shift_start + int(durations[vehicle.start_location, stop.location])
    start = max(arrival, stop.earliest)
    if stop.latest is not None and start > stop.latest:
        return False
    back = start + stop.service_duration + int(durations[stop.location, vehicle.end_location])
    return back <= vehicle.shift_end


def _matrix(rows: Sequence[Sequence[int]], name: str) -> NDArray[np.int64]:
    matrix = np.asarray(rows, dtype=np.int64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise ValueError(f"The {name} matrix must be square and not empty.")
    if (matrix < 0).any():
        raise ValueError(f"The {name} matrix has a negative entry.")
    if matrix.max() > MAX_VALUE:
        raise ValueError(f"The {name} matrix has an entry above {MAX_VALUE}; use coarser units.")
    return matrix


def _validate(problem: Problem, *, size: int) -> None:
    vehicle_ids = [vehicle.id for vehicle in problem.vehicles]
    if len(set(vehicle_ids)) != len(vehicle_ids):
        raise ValueError("Two vehicles share an id.")
    stop_ids = [stop.id for stop in problem.stops]
    if len(set(stop_ids)) != len(stop_ids):
        raise ValueError("Two stops share an id.")
    for vehicle in problem.vehicles:
        if not (0 <= vehicle.start_location < size and 0 <= vehicle.end_location < size):
            raise ValueError(f"Vehicle {vehicle.id!r} starts or ends outside the matrix.")
        if vehicle.shift_start < 0:
            raise ValueError(f"Vehicle {vehicle.id!r} starts its shift before time 0.")
        if vehicle.shift_end < vehicle.shift_start:
            raise ValueError(f"Vehicle {vehicle.id!r} ends its shift before it starts.")
        if vehicle.capacity is not None and vehicle.capacity < 0:
            raise ValueError(f"Vehicle {vehicle.id!r} has a negative capacity.")
    for stop in problem.stops:
        if not 0 <= stop.location < size:
            raise ValueError(f"Stop {stop.id!r} lies outside the matrix.")
        if stop.service_duration < 0 or stop.demand < 0:
            raise ValueError(f"Stop {stop.id!r} has a negative service duration or demand.")
        if stop.earliest < 0:
            raise ValueError(f"Stop {stop.id!r} opens before time 0.")
        if stop.latest is not None and stop.latest < stop.earliest:
            raise ValueError(f"Stop {stop.id!r} has a time window that closes before it opens.")
        if stop.drop_penalty is not None and not 0 <= stop.drop_penalty <= MAX_VALUE:
            raise ValueError(f"Stop {stop.id!r} has a drop penalty outside 0..{MAX_VALUE}.")
        if stop.pinned_vehicle is not None and stop.pinned_vehicle not in vehicle_ids:
            raise ValueError(f"Stop {stop.id!r} is pinned to an unknown vehicle.")
