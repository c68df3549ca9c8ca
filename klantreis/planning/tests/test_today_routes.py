"""Today's routes as slot offering sees them (planning.plan.route_states /
plan_for): what is left of the day, from where the technician is now."""

from datetime import date, time, timedelta

import pytest

from klantreis.core.clock import FixedClock, use_clock
from klantreis.planning import services
from klantreis.planning.models import Absence, Job, Technician
from klantreis.planning.plan import epoch, plan_for, slot_offer_list
from klantreis.planning.slots import offer_slots
from klantreis.planning.tests.test_booking import AMSTERDAM, CEILING, FLOOD, local, plumber, reported
from klantreis.planning.travel import Location

TODAY, TOMORROW = date(2026, 3, 10), date(2026, 3, 11)
DEPOT = Location(52.09, 5.12)  # where plumber() starts and ends the day
NORTH_1, NORTH_2 = Location(52.20, 5.30), Location(52.21, 5.31)  # some 17 km from the depot
NORTH_3 = Location(52.215, 5.32)
FLOODED = Location(52.205, 5.305)


def at(hour, minute=0):
    return local(10, hour) + timedelta(minutes=minute)


@pytest.fixture
def clock():
    with use_clock(FixedClock(at(7))) as fixed:
        yield fixed


def visit(technician, place, window, answers=CEILING):
    request = reported(answers, latitude=place.latitude, longitude=place.longitude)
    return services.job_create(
        request=request,
        firm=technician.firm,
        technician=technician,
        actor=None,
        visit_start=window[0],
        visit_end=window[1],
    )


def done(clock, job, technician, *, arrive, leave, outcome="fixed"):
    clock.set(arrive)
    services.job_arrive(job=job, technician=technician, actor=None)
    clock.set(leave)
    services.job_complete(job=job, status=outcome, actor=None)


def routes_of(plan, technician, day=TODAY):
    return [
        state
        for state in plan.routes
        if state.route.technician_id == technician.pk and state.route.day == day
    ]


def seconds(plan, origin, destination):
    return int(plan.travel([origin], [destination])[0][0])


@pytest.fixture
def morning_done(vera, clock):
    """Two visits up north finished by 11:20; one more open from noon."""
    technician = plumber()
    first = visit(technician, NORTH_1, (at(8), at(10)))
    second = visit(technician, NORTH_2, (at(10), at(12)))
    afternoon = visit(technician, NORTH_3, (at(12), at(14)))
    done(clock, first, technician, arrive=at(8, 30), leave=at(9, 45))
    done(clock, second, technician, arrive=at(10, 5), leave=at(11, 20), outcome="not_fixed")
    clock.set(at(11, 30))
    return technician, afternoon


@pytest.mark.django_db
def test_an_emergency_after_the_mornings_visits_is_offered_from_the_last_one_and_never_before_now(
    morning_done, clock
):
    technician, afternoon = morning_done
    emergency = reported(FLOOD, latitude=FLOODED.latitude, longitude=FLOODED.longitude)

    plan = plan_for(request=emergency, now=clock.now())

    [today] = routes_of(plan, technician)
    assert (today.route.shift_start, today.route.start_location) == (epoch(at(11, 30)), NORTH_2)
    assert [stop.job_id for stop in today.route.stops] == [afternoon.pk]  # the finished ones are gone
    offers = offer_slots(routes=plan.routes, request=plan.job, blocks=plan.blocks, travel=plan.travel)
    first = offers[0]
    assert (first.window_start, first.window_end) == (epoch(at(11, 30)), epoch(at(12)))
    from_here = seconds(plan, NORTH_2, FLOODED)
    assert first.start == epoch(at(11, 30)) + from_here
    assert from_here < seconds(plan, DEPOT, FLOODED) // 5  # not from the depot
    slots = slot_offer_list(request=emergency, now=clock.now())
    assert slots
    assert all(slot.start >= clock.now() for slot in slots)

    job = services.appointment_book(
        request=emergency, window_start=slots[0].start, window_end=slots[0].end, actor=None, channel="phone"
    )

    assert job.planned_start == at(11, 30) + timedelta(seconds=from_here)
    assert (job.route_position, Job.objects.get(pk=afternoon.pk).route_position) == (0, 1)


@pytest.mark.django_db
def test_a_position_reported_after_the_last_visit_is_where_the_route_starts(morning_done, clock):
    technician, _afternoon = morning_done
    clock.set(at(11, 25))
    services.technician_position_report(technician=technician, latitude=52.15, longitude=5.2)
    clock.set(at(11, 30))

    plan = plan_for(request=reported(FLOOD), now=clock.now())

    [today] = routes_of(plan, technician)
    assert today.route.start_location == Location(52.15, 5.2)


@pytest.mark.django_db
def test_a_position_older_than_the_last_finished_visit_is_not(vera, clock):
    technician = plumber()
    job = visit(technician, NORTH_1, (at(8), at(10)))
    clock.set(at(8))
    services.technician_on_the_way(job=job, technician=technician, actor=None, latitude=52.1, longitude=5.13)
    done(clock, job, technician, arrive=at(8, 30), leave=at(9, 45))
    clock.set(at(10))

    [today] = routes_of(plan_for(request=reported(FLOOD), now=clock.now()), technician)

    assert (today.route.start_location, today.route.shift_start) == (NORTH_1, epoch(at(10)))


@pytest.mark.django_db
def test_yesterdays_position_says_nothing_about_today(vera, clock):
    technician = plumber()
    Technician.objects.filter(pk=technician.pk).update(
        last_latitude=52.3, last_longitude=5.4, last_position_at=local(9, 17)
    )
    clock.set(at(9))

    [today] = routes_of(plan_for(request=reported(FLOOD), now=clock.now()), technician)

    assert (today.route.start_location, today.route.shift_start) == (DEPOT, epoch(at(9)))


@pytest.mark.django_db
def test_without_news_today_the_route_starts_at_the_depot_at_the_shift_start(vera, clock):
    technician = plumber()  # from 07:30; it is 07:00
    clock.set(at(7))

    [today] = routes_of(plan_for(request=reported(FLOOD), now=clock.now()), technician)

    assert (today.route.start_location, today.route.shift_start) == (DEPOT, epoch(at(7, 30)))


@pytest.mark.django_db
def test_a_visit_under_way_keeps_the_technician_there_until_its_planned_end(vera, clock):
    technician = plumber()
    current = visit(technician, NORTH_1, (at(10), at(12)))  # 90 minutes
    clock.set(at(10, 15))
    services.job_arrive(job=current, technician=technician, actor=None)
    clock.set(at(11))

    plan = plan_for(
        request=reported(FLOOD, latitude=FLOODED.latitude, longitude=FLOODED.longitude), now=clock.now()
    )

    [today] = routes_of(plan, technician)
    assert (today.route.start_location, today.route.shift_start, today.route.stops) == (
        NORTH_1,
        epoch(at(11, 45)),
        (),
    )
    offers = offer_slots(routes=plan.routes, request=plan.job, blocks=plan.blocks, travel=plan.travel)
    assert offers[0].start == epoch(at(11, 45)) + seconds(plan, NORTH_1, FLOODED)


@pytest.mark.django_db
def test_a_visit_running_over_its_planned_end_keeps_the_technician_there_until_now(vera, clock):
    technician = plumber()
    current = visit(technician, NORTH_1, (at(10), at(12)))
    clock.set(at(10))
    services.job_arrive(job=current, technician=technician, actor=None)
    clock.set(at(12, 10))  # 90 minutes were planned

    [today] = routes_of(plan_for(request=reported(FLOOD), now=clock.now()), technician)

    assert (today.route.start_location, today.route.shift_start) == (NORTH_1, epoch(at(12, 10)))


@pytest.mark.django_db
def test_tomorrow_starts_at_the_depot_at_the_shift_start_whatever_happened_today(morning_done, clock):
    technician, _afternoon = morning_done
    tomorrow = visit(technician, NORTH_1, (local(11, 8), local(11, 10)))
    services.technician_position_report(technician=technician, latitude=52.15, longitude=5.2)

    plan = plan_for(request=reported(CEILING), now=clock.now())  # urgent: today and tomorrow

    [next_day] = routes_of(plan, technician, TOMORROW)
    assert (next_day.route.start_location, next_day.route.shift_start) == (
        DEPOT,
        epoch(local(11, 7) + timedelta(minutes=30)),
    )
    assert [stop.job_id for stop in next_day.route.stops] == [tomorrow.pk]
    [today] = routes_of(plan, technician)
    assert today.route.start_location == Location(52.15, 5.2)


@pytest.mark.django_db
def test_a_piece_of_today_that_is_over_is_left_out_and_the_next_starts_where_the_technician_is(vera, clock):
    technician = plumber()
    Absence.objects.create(technician=technician, start=at(12), end=at(13), reason="other")
    services.technician_position_report(technician=technician, latitude=52.15, longitude=5.2)
    clock.set(at(12, 30))

    routes = routes_of(plan_for(request=reported(FLOOD), now=clock.now()), technician)

    assert [
        (state.route.shift_start, state.route.shift_end, state.route.start_location) for state in routes
    ] == [(epoch(at(13)), epoch(at(16)), Location(52.15, 5.2))]


@pytest.mark.django_db
def test_a_piece_that_is_over_with_a_missed_visit_stays_late_and_gets_no_more_work(vera, clock):
    technician = plumber(start=time(7, 30), end=time(12))
    missed = visit(technician, NORTH_1, (at(8), at(10)))
    clock.set(at(12, 30))
    emergency = reported(FLOOD)

    plan = plan_for(request=emergency, now=clock.now())

    [today] = routes_of(plan, technician)
    assert [stop.job_id for stop in today.route.stops] == [missed.pk]
    assert not today.feasible
    assert slot_offer_list(request=emergency, now=clock.now()) == []


@pytest.mark.django_db
def test_a_job_whose_window_opens_before_the_shift_takes_its_capacity(vera, clock):
    # From 09:00 to 11:00 there is room for one 90-minute job; its window 08:00-10:00.
    technician = plumber(start=time(9), end=time(11))
    first = reported(CEILING)
    services.appointment_book(
        request=first, window_start=local(11, 8), window_end=local(11, 10), actor=None, channel="portal"
    )
    second = reported(CEILING, latitude=52.1, longitude=5.13)

    plan = plan_for(request=second, now=clock.now())

    [next_day] = routes_of(plan, technician, TOMORROW)
    assert [stop.job_id for stop in next_day.route.stops] == [Job.objects.get(request=first).pk]
    assert all(
        slot.start.astimezone(AMSTERDAM).date() != TOMORROW
        for slot in slot_offer_list(request=second, now=clock.now())
    )
