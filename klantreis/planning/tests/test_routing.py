"""The route optimiser on small hand-made days, and a property test on random ones
whose routes are re-timed here from the matrix, independently of the solver."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from klantreis.planning.routing import (
    Problem,
    Solution,
    Stop,
    Unassigned,
    UnassignedReason,
    Vehicle,
    solve,
)

SECONDS = 0.1

# A line: depot 0, then locations 1..4 at 10, 20, 30 and 40 minutes from it.
LINE = [[abs(a - b) * 10 for b in range(5)] for a in range(5)]


def served_by(solution: Solution) -> dict[str, str]:
    return {visit.stop_id: route.vehicle_id for route in solution.routes for visit in route.visits}


def test_time_windows_decide_the_order_and_are_kept():
    # given: the far stop closes early, the near one opens late
    van = Vehicle("van", start_location=0, end_location=0, shift_start=0, shift_end=200)
    far = Stop("far", location=2, service_duration=5, earliest=0, latest=30)
    near = Stop("near", location=1, service_duration=5, earliest=100, latest=110)

    # when
    solution = solve(Problem(LINE, [van], [near, far]), seconds=SECONDS)

    # then
    assert solution.feasible is True
    assert solution.unassigned == ()
    [route] = solution.routes
    assert [visit.stop_id for visit in route.visits] == ["far", "near"]
    first, second = route.visits
    assert 0 <= first.start <= 30
    assert first.end == first.start + 5
    assert 100 <= second.start <= 110
    assert second.arrival >= first.end + 10
    assert route.distance == 40
    assert solution.distance == 40


def test_a_vehicle_without_the_skill_never_gets_the_skilled_stop():
    # given: the handyman lives 10 minutes from the gas job, the fitter 30
    handyman = Vehicle("handyman", start_location=0, end_location=0, shift_start=0, shift_end=500)
    fitter = Vehicle("fitter", 4, 4, 0, 500, skills=frozenset({"gas"}))
    gas = Stop("gas", location=1, service_duration=30, skill="gas")
    door = Stop("door", location=0, service_duration=30)

    # when
    solution = solve(Problem(LINE, [handyman, fitter], [gas, door]), seconds=SECONDS)

    # then
    assert solution.feasible is True
    assert served_by(solution) == {"gas": "fitter", "door": "handyman"}
    assert solution.unassigned == ()


def test_a_skilled_stop_without_any_qualified_vehicle_is_unassigned():
    handyman = Vehicle("handyman", 0, 0, 0, 500)
    gas = Stop("gas", location=1, skill="gas", drop_penalty=1_000)
    door = Stop("door", location=1)

    solution = solve(Problem(LINE, [handyman], [gas, door]), seconds=SECONDS)

    assert solution.feasible is True
    assert served_by(solution) == {"door": "handyman"}
    assert solution.unassigned == (Unassigned("gas", UnassignedReason.NO_QUALIFIED_VEHICLE),)


def test_a_pinned_stop_stays_on_its_vehicle():
    # given: the stop is 10 minutes from anna and 30 from bram, but the planner pinned it to bram
    anna = Vehicle("anna", 0, 0, 0, 500)
    bram = Vehicle("bram", 4, 4, 0, 500)
    pinned = Stop("pinned", location=1, service_duration=20, pinned_vehicle="bram")
    free = Stop("free", location=0, service_duration=20)

    # when
    solution = solve(Problem(LINE, [anna, bram], [pinned, free]), seconds=SECONDS)

    # then
    assert solution.feasible is True
    assert served_by(solution) == {"pinned": "bram", "free": "anna"}
    assert [route.vehicle_id for route in solution.routes] == ["anna", "bram"]


def test_the_shift_end_is_kept_by_leaving_out_the_cheaper_stop():
    # given: a 60-minute shift fits one 30-minute job 10 minutes away, not both
    van = Vehicle("van", 0, 0, shift_start=0, shift_end=60)
    cheap = Stop("cheap", location=1, service_duration=30, drop_penalty=100)
    dear = Stop("dear", location=1, service_duration=30, drop_penalty=10_000)

    # when
    solution = solve(Problem(LINE, [van], [cheap, dear]), seconds=SECONDS)

    # then
    assert solution.feasible is True
    [route] = solution.routes
    assert [visit.stop_id for visit in route.visits] == ["dear"]
    assert route.start >= 0
    assert route.end <= 60
    assert route.end == route.visits[0].end + 10
    assert solution.unassigned == (Unassigned("cheap", UnassignedReason.LEFT_OUT),)


def test_a_stop_nobody_can_reach_in_time_is_unassigned_before_solving():
    # given: the window closes 25 minutes into the shift, the stop is 30 minutes away
    van = Vehicle("van", 0, 0, shift_start=0, shift_end=480)
    late = Stop("late", location=3, earliest=0, latest=25)
    fine = Stop("fine", location=2)

    solution = solve(Problem(LINE, [van], [late, fine]), seconds=SECONDS)

    assert solution.feasible is True
    assert served_by(solution) == {"fine": "van"}
    assert solution.unassigned == (Unassigned("late", UnassignedReason.OUT_OF_REACH),)


def test_unassigned_stops_keep_the_problem_order_whatever_the_reason():
    van = Vehicle("van", 0, 0, shift_start=0, shift_end=60)
    dropped = Stop("dropped", location=1, service_duration=30, drop_penalty=1)
    late = Stop("late", location=3, latest=25)
    kept = Stop("kept", location=1, service_duration=30, drop_penalty=1_000)
    gas = Stop("gas", location=1, skill="gas")

    solution = solve(Problem(LINE, [van], [dropped, late, kept, gas]), seconds=SECONDS)

    assert served_by(solution) == {"kept": "van"}
    assert solution.unassigned == (
        Unassigned("dropped", UnassignedReason.LEFT_OUT),
        Unassigned("late", UnassignedReason.OUT_OF_REACH),
        Unassigned("gas", UnassignedReason.NO_QUALIFIED_VEHICLE),
    )


def test_a_stop_too_big_for_every_vehicle_is_out_of_reach():
    van = Vehicle("van", 0, 0, 0, 480, capacity=10)
    heavy = Stop("heavy", location=1, demand=11)

    solution = solve(Problem(LINE, [van], [heavy]), seconds=SECONDS)

    assert solution.routes == ()
    assert solution.unassigned == (Unassigned("heavy", UnassignedReason.OUT_OF_REACH),)


# PyVRP warns that its penalties hit their bound: expected, there is no feasible plan.
@pytest.mark.filterwarnings("ignore::pyvrp.exceptions.PenaltyBoundWarning")
def test_required_stops_that_do_not_fit_together_make_the_solution_infeasible():
    # given: each stop fits the shift alone, not both, and neither may be dropped
    van = Vehicle("van", 0, 0, shift_start=0, shift_end=60)
    one = Stop("one", location=1, service_duration=30)
    two = Stop("two", location=1, service_duration=30)

    solution = solve(Problem(LINE, [van], [one, two]), seconds=SECONDS)

    assert solution.feasible is False


def test_identical_vehicles_each_get_their_own_route():
    # given: two 45-minute shifts, two 30-minute jobs 5 minutes out; one van cannot do both
    matrix = [[0, 5], [5, 0]]
    vans = [Vehicle(f"van{n}", 0, 0, 0, 45) for n in (1, 2)]
    stops = [Stop(f"job{n}", location=1, service_duration=30) for n in (1, 2)]

    solution = solve(Problem(matrix, vans, stops), seconds=SECONDS)

    assert solution.feasible is True
    assert [route.vehicle_id for route in solution.routes] == ["van1", "van2"]
    assert sorted(served_by(solution)) == ["job1", "job2"]
    assert solution.distance == 20


def test_no_stops_gives_an_empty_plan():
    solution = solve(Problem(LINE, [Vehicle("van", 0, 0, 0, 10)], []), seconds=SECONDS)

    assert solution == Solution(routes=(), unassigned=(), distance=0, duration=0, feasible=True)


def test_no_vehicles_leaves_every_stop_unassigned():
    solution = solve(Problem(LINE, [], [Stop("a", 1)]), seconds=SECONDS)

    assert solution == Solution(
        routes=(),
        unassigned=(Unassigned("a", UnassignedReason.NO_QUALIFIED_VEHICLE),),
        distance=0,
        duration=0,
        feasible=True,
    )


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        (Problem([[0, 1]], [], []), "The durations matrix must be square and not empty."),
        (Problem([[0, -1], [1, 0]], [], []), "The durations matrix has a negative entry."),
        (Problem(LINE, [], [], distances=[[0]]), "The distance and duration matrices differ in size."),
        (Problem(LINE, [Vehicle("v", 0, 9, 0, 1)], []), "Vehicle 'v' starts or ends outside the matrix."),
        (Problem(LINE, [Vehicle("v", 0, 0, 5, 1)], []), "Vehicle 'v' ends its shift before it starts."),
        (Problem(LINE, [Vehicle("v", 0, 0, -1, 1)], []), "Vehicle 'v' starts its shift before time 0."),
        (Problem(LINE, [], [Stop("s", 5)]), "Stop 's' lies outside the matrix."),
        (Problem(LINE, [], [Stop("s", 1, earliest=-1)]), "Stop 's' opens before time 0."),
        (Problem(LINE, [], [Stop("s", 1, earliest=5, latest=4)]), "Stop 's' has a time window that closes"),
        (Problem(LINE, [], [Stop("s", 1, pinned_vehicle="x")]), "Stop 's' is pinned to an unknown vehicle."),
        (Problem(LINE, [], [Stop("s", 1), Stop("s", 2)]), "Two stops share an id."),
        (Problem(LINE, [Vehicle("v", 0, 0, 0, 1)] * 2, []), "Two vehicles share an id."),
    ],
)
def test_bad_input_is_refused(problem: Problem, message: str):
    with pytest.raises(ValueError, match=message):
        solve(problem, seconds=SECONDS)


# --- property: every route the optimiser returns keeps every constraint ---


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    points = draw(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=2, max_size=8))
    durations = [[abs(ax - bx) + abs(ay - by) for bx, by in points] for ax, ay in points]
    distances = [[(abs(ax - bx) + abs(ay - by)) * 3 for bx, by in points] for ax, ay in points]
    location = st.integers(0, len(points) - 1)
    skill = st.sampled_from([None, "gas", "roof"])
    vehicles = []
    for n in range(draw(st.integers(1, 3))):
        shift_start = draw(st.integers(0, 60))
        vehicles.append(
            Vehicle(
                id=f"v{n}",
                start_location=draw(location),
                end_location=draw(location),
                shift_start=shift_start,
                shift_end=shift_start + draw(st.integers(0, 200)),
                skills=frozenset(draw(st.sets(st.sampled_from(["gas", "roof"])))),
                capacity=draw(st.none() | st.integers(0, 8)),
            )
        )
    stops = []
    for n in range(draw(st.integers(0, 8))):
        earliest = draw(st.integers(0, 150))
        width = draw(st.none() | st.integers(0, 80))
        stops.append(
            Stop(
                id=f"s{n}",
                location=draw(location),
                service_duration=draw(st.integers(0, 30)),
                earliest=earliest,
                latest=None if width is None else earliest + width,
                skill=draw(skill),
                pinned_vehicle=draw(st.none() | st.sampled_from([v.id for v in vehicles])),
                demand=draw(st.integers(0, 4)),
                drop_penalty=draw(st.integers(1, 1_000)),
            )
        )
    return Problem(durations=durations, vehicles=vehicles, stops=stops, distances=distances)


def may_serve(vehicle: Vehicle, stop: Stop) -> bool:
    skilled = stop.skill is None or stop.skill in vehicle.skills
    return skilled and stop.pinned_vehicle in (None, vehicle.id)


def fits_alone(problem: Problem, vehicle: Vehicle, stop: Stop) -> bool:
    d = problem.durations
    start = max(vehicle.shift_start + d[vehicle.start_location][stop.location], stop.earliest)
    back = start + stop.service_duration + d[stop.location][vehicle.end_location]
    in_window = stop.latest is None or start <= stop.latest
    fits_load = vehicle.capacity is None or stop.demand <= vehicle.capacity
    return in_window and fits_load and back <= vehicle.shift_end


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=problems())
def test_every_returned_route_keeps_windows_shifts_skills_pins_and_capacity(problem: Problem):
    # every stop may be dropped, so a feasible plan always exists (the empty one)
    solution = solve(problem, seconds=0.02, seed=7)

    assert solution.feasible is True
    vehicles = {vehicle.id: vehicle for vehicle in problem.vehicles}
    stops = {stop.id: stop for stop in problem.stops}
    served = [visit.stop_id for route in solution.routes for visit in route.visits]
    unassigned = [item.stop_id for item in solution.unassigned]
    assert sorted(served + unassigned) == sorted(stops)
    assert problem.distances is not None
    distance = 0
    for route in solution.routes:
        vehicle = vehicles[route.vehicle_id]
        assert route.visits != ()
        assert route.start >= vehicle.shift_start
        time, here, load, route_distance = route.start, vehicle.start_location, 0, 0
        for visit in route.visits:
            stop = stops[visit.stop_id]
            assert may_serve(vehicle, stop)
            arrival = time + problem.durations[here][stop.location]
            assert visit.arrival == arrival
            assert visit.start >= max(arrival, stop.earliest)
            assert stop.latest is None or visit.start <= stop.latest
            assert visit.end == visit.start + stop.service_duration
            route_distance += problem.distances[here][stop.location]
            time, here, load = visit.end, stop.location, load + stop.demand
        route_distance += problem.distances[here][vehicle.end_location]
        assert route.end == time + problem.durations[here][vehicle.end_location]
        assert route.end <= vehicle.shift_end
        assert vehicle.capacity is None or load <= vehicle.capacity
        assert route.distance == route_distance
        distance += route_distance
    assert solution.distance == distance
    for item in solution.unassigned:
        stop = stops[item.stop_id]
        qualified = [v for v in problem.vehicles if may_serve(v, stop)]
        if item.reason is UnassignedReason.NO_QUALIFIED_VEHICLE:
            assert qualified == []
        elif item.reason is UnassignedReason.OUT_OF_REACH:
            assert qualified != []
            assert not any(fits_alone(problem, v, stop) for v in qualified)
        else:
            assert any(fits_alone(problem, v, stop) for v in qualified)
