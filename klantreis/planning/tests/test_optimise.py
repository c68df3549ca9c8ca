from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from klantreis.accounts.tests.factories import UserFactory
from klantreis.core.clock import FixedClock, use_clock
from klantreis.core.errors import ApplicationError
from klantreis.customers.tests.factories import CustomerFactory, HomeFactory
from klantreis.events.models import Event
from klantreis.intake.models import VeraCode
from klantreis.intake.services import request_create
from klantreis.intake.tests.factories import TriageTreeFactory
from klantreis.planning import optimise, services
from klantreis.planning.models import Job, WorkingHours
from klantreis.planning.tests.factories import FirmFactory, TechnicianFactory

pytestmark = pytest.mark.django_db
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
WEDNESDAY = date(2026, 3, 11)
WEST, EAST = (52.09, 5.05), (52.09, 5.20)  # about 10 km apart


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 11, hour, minute, tzinfo=AMSTERDAM)


@pytest.fixture
def crossed(vera):
    """Two plumbers, each given the two jobs next to the other one's home."""
    loo = VeraCode.objects.get(kind="ONDERHOUDSPECIALISME", code="LOO")
    firm = FirmFactory(kind="in_house")
    west = TechnicianFactory(firm=firm, specialisms=[loo], start_latitude=WEST[0], start_longitude=WEST[1])
    east = TechnicianFactory(firm=firm, specialisms=[loo], start_latitude=EAST[0], start_longitude=EAST[1])
    for technician in (west, east):
        WorkingHours.objects.create(technician=technician, weekday=2, start=time(7, 30), end=time(16))
    jobs = {}
    with use_clock(FixedClock(datetime(2026, 3, 10, 9, tzinfo=UTC))):
        for name, (lat, lon), technician, window in [
            ("west-1", (WEST[0] + 0.003, WEST[1]), east, (at(8), at(10))),
            ("west-2", (WEST[0] - 0.003, WEST[1]), east, (at(10), at(12))),
            ("east-1", (EAST[0] + 0.003, EAST[1]), west, (at(8), at(10))),
            ("east-2", (EAST[0] - 0.003, EAST[1]), west, (at(10), at(12))),
        ]:
            customer = CustomerFactory(home=HomeFactory(latitude=lat, longitude=lon))
            request = request_create(
                actor=customer.user,
                customer=customer,
                home=customer.homes.get(),
                channel="portal",
                tree=TriageTreeFactory(),
                answers={"flooding": "no", "where": "ceiling"},
                defect_location_code="BAD",
                description=name,
            )
            jobs[name] = services.job_create(
                request=request,
                firm=firm,
                technician=technician,
                actor=None,
                visit_start=window[0],
                visit_end=window[1],
            )
    return west, east, jobs


def test_a_crossed_plan_is_untangled_inside_the_promised_windows(crossed):
    west, east, jobs = crossed

    outcome = optimise.day_reoptimise(day=WEDNESDAY, seconds=1)

    assert outcome.applied
    assert outcome.travel_after < outcome.travel_before / 2
    placed = {name: Job.objects.get(pk=job.pk) for name, job in jobs.items()}
    assert {name: job.technician for name, job in placed.items()} == {
        "west-1": west,
        "west-2": west,
        "east-1": east,
        "east-2": east,
    }
    for job in placed.values():
        assert job.visit_start <= job.planned_start <= job.visit_end
    assert [placed["west-1"].route_position, placed["west-2"].route_position] == [0, 1]
    assert Event.objects.filter(activity="appointment.replanned").count() == 4


def test_a_pinned_job_stays_with_its_technician(crossed, vera):
    west, east, jobs = crossed
    planner = UserFactory(role="planner")
    services.job_pin(job=jobs["east-1"], technician=west, planned_start=None, actor=planner)

    outcome = optimise.day_reoptimise(day=WEDNESDAY, seconds=1)

    assert outcome.applied
    assert Job.objects.get(pk=jobs["east-1"].pk).technician == west
    assert Job.objects.get(pk=jobs["east-2"].pk).technician == east
    assert Job.objects.get(pk=jobs["west-1"].pk).technician == west


def test_a_time_pinned_job_keeps_its_start(crossed):
    west, east, jobs = crossed
    planner = UserFactory(role="planner")
    services.job_pin(job=jobs["west-2"], technician=east, planned_start=at(11, 15), actor=planner)

    optimise.day_reoptimise(day=WEDNESDAY, seconds=1)

    pinned = Job.objects.get(pk=jobs["west-2"].pk)
    assert (pinned.technician, pinned.planned_start) == (east, at(11, 15))


def test_a_plan_made_while_the_day_changed_is_not_applied(crossed):
    west, east, jobs = crossed
    stale = optimise._day_jobs(WEDNESDAY, AMSTERDAM)
    Job.objects.filter(pk=jobs["west-1"].pk).update(status="cancelled")

    outcome = optimise.day_reoptimise(day=WEDNESDAY, seconds=1)  # sees the cancellation: fine
    assert outcome.jobs == 3
    assert optimise._fingerprint(stale) != optimise._fingerprint(optimise._day_jobs(WEDNESDAY, AMSTERDAM))


def test_an_already_good_plan_is_left_alone(crossed):
    optimise.day_reoptimise(day=WEDNESDAY, seconds=1)
    events = Event.objects.count()

    outcome = optimise.day_reoptimise(day=WEDNESDAY, seconds=1)

    assert (outcome.applied, outcome.reason) == (False, "unchanged since the last run")
    assert Event.objects.count() == events


def test_a_changed_day_is_solved_again_and_a_good_plan_stays(crossed):
    west, east, jobs = crossed
    optimise.day_reoptimise(day=WEDNESDAY, seconds=1)
    Job.objects.filter(pk=jobs["west-2"].pk).update(status="cancelled")
    events = Event.objects.count()

    outcome = optimise.day_reoptimise(day=WEDNESDAY, seconds=1)

    assert (outcome.applied, outcome.reason) == (False, "no shorter plan")
    assert Event.objects.count() == events


@pytest.mark.parametrize(
    ("planned_start", "message"),
    [(at(13), services.MESSAGE_PIN_OUTSIDE_WINDOW)],
)
def test_pinning_outside_the_window_is_refused(crossed, planned_start, message):
    west, east, jobs = crossed
    planner = UserFactory(role="planner")

    with pytest.raises(ApplicationError) as raised:
        services.job_pin(job=jobs["west-1"], technician=west, planned_start=planned_start, actor=planner)

    assert raised.value.message == message
    assert not Job.objects.get(pk=jobs["west-1"].pk).pinned


def test_pinning_to_a_technician_without_the_specialism_is_refused(crossed, vera):
    west, east, jobs = crossed
    electrician = TechnicianFactory(
        firm=west.firm, specialisms=[VeraCode.objects.get(kind="ONDERHOUDSPECIALISME", code="ELE")]
    )
    planner = UserFactory(role="planner")

    with pytest.raises(ApplicationError) as raised:
        services.job_pin(job=jobs["west-1"], technician=electrician, planned_start=None, actor=planner)

    assert raised.value.message == services.MESSAGE_PIN_OTHER_SPECIALISM


def test_pinning_re_times_both_routes_even_without_a_re_plan(crossed):
    west, east, jobs = crossed
    planner = UserFactory(role="planner")

    services.job_pin(job=jobs["east-1"], technician=east, planned_start=None, actor=planner)

    east_day = list(Job.objects.filter(technician=east).order_by("route_position"))
    west_day = list(Job.objects.filter(technician=west).order_by("route_position"))
    assert [job.route_position for job in east_day] == [0, 1, 2]
    assert [job.route_position for job in west_day] == [0]
    for job in east_day + west_day:
        assert job.planned_start is not None
        assert job.visit_start <= job.planned_start
    starts = [job.planned_start for job in east_day]
    assert starts == sorted(starts)
