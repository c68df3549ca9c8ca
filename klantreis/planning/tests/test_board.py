"""board_for_day: the planner board's read of one day."""

from datetime import UTC, datetime, time

import pytest

from klantreis.core.clock import FixedClock, use_clock
from klantreis.intake.models import VeraCode
from klantreis.planning import services
from klantreis.planning.calendar import Interval
from klantreis.planning.models import Absence, Job, PlanningSettings, WorkingHours
from klantreis.planning.selectors import AtRisk, board_for_day
from klantreis.planning.tests.days import AMSTERDAM, EAST, WEDNESDAY, WEST, at, crossed_day, reported
from klantreis.planning.tests.factories import FirmFactory, TechnicianFactory
from klantreis.planning.travel import HaversineSource, Location

pytestmark = pytest.mark.django_db
THURSDAY = WEDNESDAY.replace(day=12)


def seconds(origin: Location, destination: Location) -> int:
    """What the organisation's default travel source says (straight line × 1.35 at 30 km/h)."""
    return int(HaversineSource(1.35, 30.0).matrix([origin], [destination]).durations[0][0])


def home_of(job: Job) -> Location:
    return Location(job.request.home.latitude, job.request.home.longitude)


def plan(job: Job, start: datetime | None, position: int | None = None) -> None:
    Job.objects.filter(pk=job.pk).update(planned_start=start, route_position=position)


def test_the_board_shows_each_technicians_route_in_order_with_travel_between_the_stops(vera):
    day = crossed_day()
    jobs = day.jobs
    # Planned starts decide the order, whatever the route positions say.
    plan(jobs["east-1"], at(8, 30), position=1)
    plan(jobs["east-2"], at(10, 15), position=0)

    board = board_for_day(day=WEDNESDAY, zone=AMSTERDAM)

    assert [route.technician for route in board.routes] == [day.east, day.west]  # by firm, then name
    west_route = board.routes[1]
    assert [stop.job.pk for stop in west_route.stops] == [jobs["east-1"].pk, jobs["east-2"].pk]
    assert west_route.shifts == (Interval(at(7, 30), at(16)),)
    home = Location(*WEST)
    first, second = (home_of(stop.job) for stop in west_route.stops)
    assert [stop.travel_seconds for stop in west_route.stops] == [
        seconds(home, first),
        seconds(first, second),
    ]
    assert west_route.return_travel_seconds == seconds(second, home)
    assert west_route.stops[0].added_travel_seconds == (
        seconds(home, first) + seconds(first, second) - seconds(home, second)
    )
    assert west_route.travel_seconds == seconds(home, first) + seconds(first, second) + seconds(second, home)
    assert board.travel_seconds == west_route.travel_seconds + board.routes[0].travel_seconds
    assert board.travel_known
    assert [stop.duration_minutes for stop in west_route.stops] == [90, 90]  # the request's estimate
    assert west_route.stops[0].planned_end == at(10)
    assert [stop.candidates for stop in west_route.stops] == [(day.east, day.west), (day.east, day.west)]


def test_visits_at_risk_say_why(vera):
    day = crossed_day()
    jobs = day.jobs
    # Olga (east) is away from 12:00: her shift is 07:30–12:00.
    Absence.objects.create(technician=day.east, start=at(12), end=at(17))
    plan(jobs["west-1"], at(8, 15))  # fine
    plan(jobs["west-2"], at(11))  # 90 minutes: ends 12:30, after her shift
    plan(jobs["east-1"], at(7))  # before Wim's working hours
    plan(jobs["east-2"], at(12, 5))  # after the 10:00–12:00 window

    board = board_for_day(day=WEDNESDAY, zone=AMSTERDAM)

    assert {stop.job.pk: stop.risk for route in board.routes for stop in route.stops} == {
        jobs["west-1"].pk: None,
        jobs["west-2"].pk: AtRisk.PAST_SHIFT,
        jobs["east-1"].pk: AtRisk.OFF_SHIFT,
        jobs["east-2"].pk: AtRisk.LATE,
    }
    assert [stop.job.pk for stop in board.at_risk] == [
        jobs["west-2"].pk,
        jobs["east-1"].pk,
        jobs["east-2"].pk,
    ]


def test_a_visit_without_planned_time_is_at_risk(vera):
    day = crossed_day()

    board = board_for_day(day=WEDNESDAY, zone=AMSTERDAM)

    assert [stop.risk for stop in board.at_risk] == [AtRisk.NOT_TIMED] * 4
    assert {stop.job.pk for stop in board.at_risk} == {job.pk for job in day.jobs.values()}


def test_jobs_without_technician_or_window_wait_to_be_planned(vera):
    day = crossed_day()
    with use_clock(FixedClock(datetime(2026, 3, 10, 12, tzinfo=UTC))):
        no_technician = services.job_create(
            request=reported("no technician", *WEST),
            firm=day.firm,
            technician=None,
            actor=None,
            visit_start=at(13),
            visit_end=at(15),
        )
        no_window = services.job_create(
            request=reported("no window", *EAST), firm=day.firm, technician=day.west, actor=None
        )
        tomorrow = services.job_create(
            request=reported("tomorrow", *WEST),
            firm=day.firm,
            technician=None,
            actor=None,
            visit_start=at(8, day=THURSDAY),
            visit_end=at(10, day=THURSDAY),
        )
        closed = services.job_create(
            request=reported("closed", *WEST),
            firm=day.firm,
            technician=None,
            actor=None,
            visit_start=at(8),
            visit_end=at(10),
        )
        services.job_complete(job=closed, status=Job.Status.CANCELLED, actor=None)
    with use_clock(FixedClock(datetime(2026, 3, 12, 12, tzinfo=UTC))):
        later = services.job_create(
            request=reported("reported after the day", *EAST), firm=day.firm, technician=None, actor=None
        )

    board = board_for_day(day=WEDNESDAY, zone=AMSTERDAM)

    assert [stop.job.pk for stop in board.unassigned] == [no_technician.pk, no_window.pk]
    assert board.unassigned[0].candidates == (day.east, day.west)
    shown = {stop.job.pk for route in board.routes for stop in route.stops}
    assert shown == {job.pk for job in day.jobs.values()}
    assert {tomorrow.pk, closed.pk, later.pk}.isdisjoint(shown | {s.job.pk for s in board.unassigned})


def test_only_working_qualified_technicians_of_the_firm_may_take_a_job(vera):
    day = crossed_day()
    loo = VeraCode.objects.get(kind="ONDERHOUDSPECIALISME", code="LOO")
    ele = VeraCode.objects.get(kind="ONDERHOUDSPECIALISME", code="ELE")
    other_firm = TechnicianFactory(firm=FirmFactory(), specialisms=[loo])
    electrician = TechnicianFactory(firm=day.firm, specialisms=[ele])
    day_off = TechnicianFactory(firm=day.firm, specialisms=[loo])
    retired = TechnicianFactory(firm=day.firm, specialisms=[loo], active=False)
    for technician in (other_firm, electrician, retired):
        WorkingHours.objects.create(technician=technician, weekday=2, start=time(8), end=time(16))
    WorkingHours.objects.create(technician=day_off, weekday=3, start=time(8), end=time(16))

    board = board_for_day(day=WEDNESDAY, zone=AMSTERDAM)

    assert {stop.candidates for route in board.routes for stop in route.stops} == {(day.east, day.west)}
    # Working technicians are on the board even without visits; the others are not.
    assert {route.technician for route in board.routes} == {day.east, day.west, other_firm, electrician}


def test_without_travel_times_the_board_still_shows_the_day(vera):
    day = crossed_day()
    PlanningSettings.objects.create(travel_source=PlanningSettings.TravelSource.OSRM, osrm_url="")

    board = board_for_day(day=WEDNESDAY, zone=AMSTERDAM)

    assert not board.travel_known
    assert board.travel_seconds is None
    assert [len(route.stops) for route in board.routes] == [2, 2]
    assert {stop.travel_seconds for route in board.routes for stop in route.stops} == {None}
    assert day.west in {route.technician for route in board.routes}
