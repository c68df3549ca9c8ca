"""The slot-offering engine: hand-made days with known answers, and properties on random
ones, checked against a route simulator written here, independently of the engine."""

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from klantreis.planning.slots import (
    Block,
    InsertionInfeasible,
    NewJob,
    PlannedStop,
    RouteDay,
    RouteState,
    SlotOffer,
    book,
    exact_best_insertion,
    offer_slots,
)

M = 60
H = 3600
DAY = date(2026, 3, 2)
BLOCKS = [Block(8 * H, 10 * H), Block(10 * H, 12 * H), Block(12 * H, 14 * H), Block(14 * H, 16 * H)]


def line(origins: Sequence[int], destinations: Sequence[int]) -> list[list[int]]:
    """Locations are points on a line, 10 minutes apart."""
    return [[abs(a - b) * 10 * M for b in destinations] for a in origins]


def route(
    technician: str = "anna",
    *,
    home: int = 0,
    end: int | None = None,
    skills: tuple[str, ...] = ("plumbing",),
    stops: Sequence[PlannedStop] = (),
    shift: tuple[int, int] = (8 * H, 16 * H),
    day: date = DAY,
) -> RouteState:
    day_route = RouteDay(
        technician,
        day,
        shift[0],
        shift[1],
        home,
        home if end is None else end,
        frozenset(skills),
        tuple(stops),
    )
    return RouteState.from_route(day_route, travel=line)


def stop(
    job: str, location: int, *, service: int = 30 * M, window: tuple[int, int] = (8 * H, 16 * H)
) -> PlannedStop:
    return PlannedStop(job, location, service, window[0], window[1])


def job(location: int, *, service: int = 30 * M, skill: str | None = "plumbing", earliest: int = 0) -> NewJob:
    return NewJob(location, service, skill, earliest, 24 * H)


def offer(block: Block, **fields: object) -> SlotOffer:
    defaults: dict[str, object] = {
        "window_start": block.start,
        "window_end": block.end,
        "route_index": 0,
        "technician_id": "anna",
        "day": DAY,
        "position": 0,
        "workload": 0,
        "best": False,
    }
    defaults.update(fields)
    if "score" not in defaults:
        defaults["score"] = defaults["added_travel"]
    return SlotOffer(block=block, **defaults)


def offers_for(routes: list[RouteState], request: NewJob, **options: object) -> list[SlotOffer]:
    """The engine's answer, after checking that the brute-force reference agrees."""
    found = offer_slots(routes=routes, request=request, blocks=BLOCKS, travel=line, **options)
    exact = exact_best_insertion(routes=routes, request=request, blocks=BLOCKS, travel=line, **options)
    assert found == exact
    return found


# --- hand-made days ---


def test_an_empty_route_gets_every_block_with_the_return_trip_as_added_travel():
    # given: anna lives at 0, the job is at 3 (30 minutes away) and takes an hour
    routes = [route()]

    # when
    offers = offers_for(routes, job(3, service=60 * M))

    # then: she arrives 08:30 in the first block and waits for the later ones
    assert offers == [
        offer(BLOCKS[0], start=8 * H + 30 * M, added_travel=60 * M, best=True),
        offer(BLOCKS[1], start=10 * H, added_travel=60 * M),
        offer(BLOCKS[2], start=12 * H, added_travel=60 * M),
        offer(BLOCKS[3], start=14 * H, added_travel=60 * M),
    ]


def test_a_job_on_the_way_costs_nothing_between_two_stops_and_pushes_within_the_slack():
    # given: anna drives 0 -> 2 -> 6 -> 8 (her day ends at 8); the stop at 6 is booked 12-14
    routes = [
        route(end=8, stops=[stop("a", 2, window=(8 * H, 10 * H)), stop("b", 6, window=(12 * H, 14 * H))])
    ]

    # when: a job at 4, on the way from 2 to 6
    offers = offers_for(routes, job(4))

    # then: between the stops in the first three blocks (starting at 12:00 pushes b to
    # 12:50, inside its window); 14:00 would push b past 14:00, so the last block is
    # only possible after b, on the way home: 20 + 40 - 20 minutes of extra travel
    booked = {"workload": H, "score": 60}
    assert offers == [
        offer(BLOCKS[0], position=1, start=9 * H + 10 * M, added_travel=0, **booked, best=True),
        offer(BLOCKS[1], position=1, start=10 * H, added_travel=0, **booked),
        offer(BLOCKS[2], position=1, start=12 * H, added_travel=0, **booked),
        offer(BLOCKS[3], position=2, start=14 * H, added_travel=40 * M, workload=H, score=40 * M + 60),
    ]


def test_the_end_of_the_shift_decides_whether_the_last_block_fits():
    # given: a morning shift 08:00-12:00, a job 30 minutes from home
    routes = [route(shift=(8 * H, 12 * H))]

    # when: 90 minutes of work in block 10-12 brings her home at exactly 12:00
    exactly = offers_for(routes, job(3, service=90 * M))
    # and one minute more does not
    too_long = offers_for(routes, job(3, service=91 * M))

    # then
    assert exactly == [
        offer(BLOCKS[0], start=8 * H + 30 * M, added_travel=60 * M, best=True),
        offer(BLOCKS[1], start=10 * H, added_travel=60 * M),
    ]
    assert too_long == [offer(BLOCKS[0], start=8 * H + 30 * M, added_travel=60 * M, best=True)]


def test_a_block_outside_the_shift_is_never_offered():
    routes = [route(shift=(13 * H, 16 * H))]

    offers = offers_for(routes, job(0, service=60 * M))

    assert offers == [
        offer(BLOCKS[2], start=13 * H, added_travel=0, best=True),
        offer(BLOCKS[3], start=14 * H, added_travel=0),
    ]


def test_waiting_time_absorbs_a_push_and_the_window_of_the_next_stop_bounds_it():
    # given: anna arrives at 08:10 for a stop booked 12-14, so she waits; after it she
    # is home at 12:40, so the stop's slack is its window: 2 hours
    routes = [route(stops=[stop("b", 1, window=(12 * H, 14 * H))])]
    assert routes[0].slack == (2 * H,)

    # when: a job at the same address, before it
    fits = offers_for(routes, job(1, service=5 * H + 50 * M))
    too_long = offers_for(routes, job(1, service=5 * H + 51 * M))

    # then: 08:10 + 5h50 = 14:00 pushes b by exactly its slack; a minute more does not fit
    # anywhere (after b, 12:30 + 5h51 is past the shift end)
    assert fits == [
        offer(BLOCKS[0], start=8 * H + 10 * M, added_travel=0, workload=30 * M, score=30, best=True)
    ]
    assert too_long == []


def test_only_technicians_with_the_skill_are_offered():
    # given: anna (plumbing) lives where the job is, bram (electrical) 30 minutes away
    routes = [route("anna", home=3), route("bram", home=0, skills=("electrical",))]

    # when
    electrical = offers_for(routes, job(3, skill="electrical"))
    roofing = offers_for(routes, job(3, skill="roofing"))
    anyone = offers_for(routes, job(3, skill=None))

    # then
    assert [(o.technician_id, o.route_index, o.added_travel) for o in electrical] == [("bram", 1, 60 * M)] * 4
    assert roofing == []
    assert [(o.technician_id, o.added_travel) for o in anyone] == [("anna", 0)] * 4


def test_near_ties_in_travel_go_to_the_emptier_day_and_clear_savings_win():
    # given: anna has 4 hours booked at home (0); bram (home 2) has nothing. A job at 1 costs
    # both 20 minutes of extra travel; carl (home 4) would drive an hour extra
    anna = route("anna", home=0, stops=[stop("busy", 0, service=4 * H)])
    bram = route("bram", home=2)
    carl = route("carl", home=4)

    # when
    balanced = offers_for([anna, bram], job(1), order="score", limit=1)
    travel_only = offers_for([anna, bram], job(1), order="score", limit=1, balance_per_hour=0)
    far = offers_for([anna, carl], job(1), order="score", limit=1)

    # then: 4 hours booked weigh 4 minutes (60 s per hour); equal travel goes to bram
    assert balanced == [
        offer(
            BLOCKS[0],
            route_index=1,
            technician_id="bram",
            start=8 * H + 10 * M,
            added_travel=20 * M,
            best=True,
        )
    ]
    # without balance the tie goes to the first route given
    assert travel_only == [
        offer(BLOCKS[0], start=8 * H + 10 * M, added_travel=20 * M, workload=4 * H, best=True)
    ]
    # 40 minutes of travel saved outweigh 4 hours of workload
    assert far == [
        offer(
            BLOCKS[0],
            start=8 * H + 10 * M,
            added_travel=20 * M,
            workload=4 * H,
            score=20 * M + 4 * M,
            best=True,
        )
    ]


def test_offers_sorted_by_score_or_by_start_with_the_best_marked_and_a_limit():
    # given: the 14-16 block costs 40 minutes more than the others (see above)
    routes = [
        route(end=8, stops=[stop("a", 2, window=(8 * H, 10 * H)), stop("b", 6, window=(12 * H, 14 * H))])
    ]

    by_score = offers_for(routes, job(4), order="score")
    best_two = offers_for(routes, job(4), order="start", limit=2)
    none = offers_for(routes, job(4), limit=0)

    assert [(o.block, o.best) for o in by_score] == [
        (BLOCKS[0], True),
        (BLOCKS[1], False),
        (BLOCKS[2], False),
        (BLOCKS[3], False),
    ]
    assert [(o.block, o.best) for o in best_two] == [(BLOCKS[0], True), (BLOCKS[1], False)]
    assert none == []


def test_an_urgent_request_only_gets_blocks_within_its_earliest_and_latest_start():
    routes = [route()]
    # given: now is 09:00; the job must start today before 11:00
    urgent = NewJob(3, 30 * M, "plumbing", earliest=9 * H, latest=11 * H)

    offers = offer_slots(routes=routes, request=urgent, blocks=BLOCKS, travel=line)

    # then: the running block is offered from now on, the next one up to 11:00
    assert offers == [
        offer(BLOCKS[0], window_start=9 * H, start=9 * H, added_travel=60 * M, best=True),
        offer(BLOCKS[1], window_end=11 * H, start=10 * H, added_travel=60 * M),
    ]
    assert offers == exact_best_insertion(routes=routes, request=urgent, blocks=BLOCKS, travel=line)


def test_no_capacity_gives_an_empty_list():
    # given: the only plumber's day is full (8 hours of work at home)
    routes = [route(stops=[stop("full", 0, service=8 * H)])]

    assert offers_for(routes, job(0, service=1)) == []
    assert offer_slots(routes=routes, request=job(0), blocks=[], travel=line) == []
    assert offer_slots(routes=[], request=job(0), blocks=BLOCKS, travel=line) == []


def test_a_route_that_is_already_late_gets_no_more_work():
    # given: the first stop had to start by 08:05 but is 30 minutes away
    late = route(stops=[stop("late", 3, window=(8 * H, 8 * H + 5 * M))])
    assert late.feasible is False

    assert offers_for([late], job(0)) == []


def test_the_pieces_of_a_day_split_by_an_absence_add_up_for_the_workload():
    # given: anna works 08:00-12:00 (a fixed 2.5-hour job at home first) and, after a
    # dentist's appointment, 14:30-16:00
    fixed = stop("m", 0, service=2 * H + 30 * M, window=(8 * H, 8 * H))
    morning = route(shift=(8 * H, 12 * H), stops=[fixed])
    afternoon = route(shift=(14 * H + 30 * M, 16 * H))

    # when
    offers = offers_for([morning, afternoon], job(0, service=H))

    # then: both pieces count 2.5 hours booked (150 s of score); nothing fits 12-14
    assert offers == [
        offer(
            BLOCKS[1], position=1, start=10 * H + 30 * M, added_travel=0, workload=9_000, score=150, best=True
        ),
        offer(BLOCKS[3], route_index=1, start=14 * H + 30 * M, added_travel=0, workload=9_000, score=150),
    ]


def test_route_state_times_every_stop_and_its_slack():
    state = route(end=8, stops=[stop("a", 2, window=(8 * H, 10 * H)), stop("b", 6, window=(12 * H, 14 * H))])

    assert state.legs == (20 * M, 40 * M, 20 * M)
    assert state.arrivals == (8 * H + 20 * M, 9 * H + 30 * M)
    assert state.starts == (8 * H + 20 * M, 12 * H)
    assert state.end_arrival == 12 * H + 50 * M
    assert state.end_slack == 3 * H + 10 * M
    # a: its own window leaves 1h40, and b's waiting (2h30) plus b's slack (2h) more
    assert state.slack == (H + 40 * M, 2 * H)
    assert state.feasible is True
    assert state.booked_service == 60 * M
    assert state.gaps.tolist() == [
        [8 * H, 8 * H + 50 * M, 12 * H + 30 * M],
        [10 * H, 14 * H, 16 * H],
        [20 * M, 40 * M, 20 * M],
    ]
    assert state.room == 5 * H + 10 * M


def test_book_inserts_the_offered_stop_and_retimes_the_route():
    state = route(end=8, stops=[stop("a", 2, window=(8 * H, 10 * H)), stop("b", 6, window=(12 * H, 14 * H))])
    [offer_12_14] = [o for o in offers_for([state], job(4)) if o.block == BLOCKS[2]]
    new = stop("new", 4, window=(offer_12_14.window_start, offer_12_14.window_end))

    booked = book(state, offer_12_14.position, new, travel=line)

    assert [s.job_id for s in booked.route.stops] == ["a", "new", "b"]
    assert booked.starts == (8 * H + 20 * M, 12 * H, 12 * H + 50 * M)
    assert booked.slack == (H + 40 * M, H + 10 * M, H + 10 * M)
    assert booked.legs == (20 * M, 20 * M, 20 * M, 20 * M)
    assert booked.end_arrival == 13 * H + 40 * M
    # the state it came from is unchanged
    assert [s.job_id for s in state.route.stops] == ["a", "b"]
    assert state.starts == (8 * H + 20 * M, 12 * H)


def test_book_refuses_an_insertion_that_does_not_fit():
    state = route(stops=[stop("b", 1, window=(12 * H, 14 * H))])

    with pytest.raises(InsertionInfeasible):
        book(state, 0, stop("long", 1, service=6 * H, window=(8 * H, 10 * H)), travel=line)
    with pytest.raises(IndexError):
        book(state, 2, stop("x", 1), travel=line)


def test_bad_input_is_refused():
    routes = [route()]

    with pytest.raises(ValueError, match="inside one another"):
        offer_slots(
            routes=routes, request=job(0), blocks=[Block(8 * H, 16 * H), Block(9 * H, 10 * H)], travel=line
        )
    with pytest.raises(ValueError, match="shape"):
        offer_slots(routes=routes, request=job(0), blocks=BLOCKS, travel=lambda o, d: [])
    with pytest.raises(ValueError, match="negative"):
        offer_slots(
            routes=routes, request=job(0), blocks=BLOCKS, travel=lambda o, d: [[-1] * len(d)] * len(o)
        )
    with pytest.raises(TypeError, match="whole seconds"):
        offer_slots(
            routes=routes, request=job(0), blocks=BLOCKS, travel=lambda o, d: [[0.5] * len(d)] * len(o)
        )
    with pytest.raises(ValueError, match="window"):
        PlannedStop("x", 0, 60, 10, 5)
    with pytest.raises(ValueError, match="shift"):
        RouteDay("anna", DAY, 10, 5, 0, 0, frozenset())
    with pytest.raises(ValueError, match="block"):
        Block(10, 5)
    with pytest.raises(ValueError, match="negative"):
        NewJob(0, -1, None, 0, 10)


def test_a_route_can_be_timed_from_stored_legs_without_travel_times():
    stops = [stop("a", 2, window=(8 * H, 10 * H)), stop("b", 6, window=(12 * H, 14 * H))]
    from_travel = route(end=8, stops=stops)

    from_legs = RouteState.from_route(from_travel.route, legs=[20 * M, 40 * M, 20 * M])

    assert snapshot(from_legs) == snapshot(from_travel)
    with pytest.raises(ValueError, match="one more than the stops"):
        RouteState.from_route(from_travel.route, legs=[20 * M, 40 * M])
    with pytest.raises(ValueError, match="negative"):
        RouteState.from_route(from_travel.route, legs=[20 * M, -1, 20 * M])
    with pytest.raises(TypeError, match="not both"):
        RouteState.from_route(from_travel.route, legs=[20 * M, 40 * M, 20 * M], travel=line)
    with pytest.raises(TypeError, match="travel or legs"):
        RouteState.from_route(from_travel.route)


def test_a_mapping_of_travel_times_works_like_a_callable():
    seconds = {(a, b): line([a], [b])[0][0] for a in range(5) for b in range(5)}
    routes = [RouteState.from_route(route().route, travel=seconds)]

    offers = offer_slots(routes=routes, request=job(3), blocks=BLOCKS, travel=seconds)

    assert offers == offers_for([route()], job(3))


# --- properties on random days ---

LOCATIONS = 6
SKILLS = ("a", "b")


@st.composite
def days(draw: st.DrawFn) -> tuple[dict[tuple[int, int], int], list[RouteState], NewJob, list[Block], int]:
    """A few technician days on an arbitrary (asymmetric, not necessarily metric) travel
    matrix, stops with random windows (some routes infeasible), blocks that may overlap."""
    seconds = {
        (a, b): 0 if a == b else draw(st.integers(0, 60)) for a in range(LOCATIONS) for b in range(LOCATIONS)
    }
    location = st.integers(0, LOCATIONS - 1)
    routes = []
    for t in range(draw(st.integers(0, 3))):
        for d in range(draw(st.integers(1, 2))):
            offset = d * 1_000
            shift_start = offset + draw(st.integers(0, 100))
            stops = []
            for n in range(draw(st.integers(0, 4))):
                opens = offset + draw(st.integers(0, 500))
                stops.append(
                    PlannedStop(
                        f"{t}-{d}-{n}",
                        draw(location),
                        draw(st.integers(0, 100)),
                        opens,
                        opens + draw(st.integers(0, 300)),
                    )
                )
            stops.sort(key=lambda s: s.window_start)
            day_route = RouteDay(
                f"t{t}",
                date(2026, 3, 2 + d),
                shift_start,
                shift_start + draw(st.integers(0, 800)),
                draw(location),
                draw(location),
                frozenset(draw(st.sets(st.sampled_from(SKILLS)))),
                tuple(stops),
            )
            routes.append(RouteState.from_route(day_route, travel=seconds))
    length = draw(st.integers(1, 300))
    step = draw(st.integers(1, 300))
    first = draw(st.integers(0, 300))
    blocks = [
        Block(first + k * step + o, first + k * step + o + length) for o in (0, 1_000) for k in range(3)
    ]
    # Mostly the whole horizon, sometimes an urgent slice of it.
    earliest = draw(st.just(0) | st.integers(0, 1_500))
    request = NewJob(
        draw(location),
        draw(st.integers(0, 150)),
        draw(st.none() | st.sampled_from(SKILLS)),
        earliest,
        earliest + draw(st.just(2_000) | st.integers(0, 2_000)),
    )
    balance = draw(st.sampled_from([0, 60, 36_000]))
    return seconds, routes, request, blocks, balance


def simulate(day: RouteDay, seconds: dict[tuple[int, int], int]) -> list[int] | None:
    """Starts of service driving as early as possible, None if a window or the shift breaks."""
    starts, clock, here = [], day.shift_start, day.start_location
    for s in day.stops:
        clock = max(clock + seconds[here, s.location], s.window_start)
        if clock > s.window_end:
            return None
        starts.append(clock)
        clock += s.service_seconds
        here = s.location
    if clock + seconds[here, day.end_location] > day.shift_end:
        return None
    return starts


def travel_of(day: RouteDay, seconds: dict[tuple[int, int], int]) -> int:
    nodes = [day.start_location, *(s.location for s in day.stops), day.end_location]
    return sum(seconds[a, b] for a, b in zip(nodes, nodes[1:], strict=False))


PROPERTY = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(case=days())
def test_every_offered_slot_fits_when_inserted_and_the_route_is_driven_from_scratch(case):
    seconds, routes, request, blocks, balance = case

    offers = offer_slots(
        routes=routes, request=request, blocks=blocks, travel=seconds, balance_per_hour=balance
    )

    assert len({o.block for o in offers}) == len(offers)
    assert sum(o.best for o in offers) == (1 if offers else 0)
    for o in offers:
        day = routes[o.route_index].route
        assert request.skill is None or request.skill in day.skills
        assert o.block in blocks
        assert max(o.block.start, request.earliest) == o.window_start <= o.window_end
        assert o.window_end == min(o.block.end, request.latest)
        new = PlannedStop("new", request.location, request.service_seconds, o.window_start, o.window_end)
        inserted = replace(day, stops=day.stops[: o.position] + (new,) + day.stops[o.position :])
        starts = simulate(inserted, seconds)
        assert starts is not None
        assert o.window_start <= starts[o.position] == o.start <= o.window_end
        assert o.added_travel == travel_of(inserted, seconds) - travel_of(day, seconds)
        workload = sum(
            r.booked_service
            for r in routes
            if (r.route.technician_id, r.route.day) == (o.technician_id, o.day)
        )
        assert o.workload == workload
        assert o.score == o.added_travel + workload * balance // 3600


@PROPERTY
@given(case=days(), order=st.sampled_from(["start", "score"]), limit=st.none() | st.integers(0, 4))
def test_the_offer_for_every_block_equals_the_exact_best_insertion(case, order, limit):
    seconds, routes, request, blocks, balance = case
    options = {"order": order, "limit": limit, "balance_per_hour": balance}

    offers = offer_slots(routes=routes, request=request, blocks=blocks, travel=seconds, **options)
    exact = exact_best_insertion(routes=routes, request=request, blocks=blocks, travel=seconds, **options)

    assert offers == exact


@PROPERTY
@given(case=days(), data=st.data())
def test_book_equals_rebuilding_the_route_from_scratch(case, data):
    seconds, routes, request, _, _ = case
    if not routes:
        return
    state = data.draw(st.sampled_from(routes))
    position = data.draw(st.integers(0, len(state.route.stops)))
    opens = data.draw(st.integers(0, 2_000))
    new = PlannedStop(
        "new", request.location, request.service_seconds, opens, opens + data.draw(st.integers(0, 500))
    )
    day = state.route
    rebuilt = RouteState.from_route(
        replace(day, stops=day.stops[:position] + (new,) + day.stops[position:]), travel=seconds
    )

    if not rebuilt.feasible:
        with pytest.raises(InsertionInfeasible):
            book(state, position, new, travel=seconds)
        return
    booked = book(state, position, new, travel=seconds)

    assert snapshot(booked) == snapshot(rebuilt)
    assert simulate(booked.route, seconds) == list(booked.starts)


def snapshot(state: RouteState) -> tuple[object, ...]:
    return (
        state.route,
        state.legs,
        state.arrivals,
        state.starts,
        state.slack,
        state.end_arrival,
        state.end_slack,
        state.feasible,
        state.booked_service,
        state.room,
        state.gaps.tolist(),
        state.gap_origins,
        state.gap_destinations,
    )
