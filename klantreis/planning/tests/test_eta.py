from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from klantreis.core.clock import FixedClock, use_clock
from klantreis.core.errors import ApplicationError
from klantreis.customers.tests.factories import CustomerFactory, HomeFactory
from klantreis.events.models import Event
from klantreis.intake.models import VeraCode
from klantreis.intake.services import request_create
from klantreis.intake.tests.factories import TriageTreeFactory
from klantreis.planning import services
from klantreis.planning.models import Job, PlanningSettings, Technician
from klantreis.planning.tests.factories import FirmFactory, TechnicianFactory
from klantreis.planning.travel import HaversineSource, Location

pytestmark = pytest.mark.django_db
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
DEPOT = (52.090, 5.100)
FIRST_HOME = (52.090, 5.130)  # about 2 km east
SECOND_HOME = (52.100, 5.160)


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 11, hour, minute, tzinfo=AMSTERDAM)


def travel_seconds(a: tuple[float, float], b: tuple[float, float]) -> int:
    settings = PlanningSettings.current()
    return HaversineSource(settings.circuity_factor, settings.average_speed_kmh).seconds(
        Location(*a), Location(*b)
    )


@pytest.fixture
def day(vera):
    loo = VeraCode.objects.get(kind="ONDERHOUDSPECIALISME", code="LOO")
    firm = FirmFactory(kind="in_house")
    technician = TechnicianFactory(
        firm=firm, specialisms=[loo], start_latitude=DEPOT[0], start_longitude=DEPOT[1]
    )
    jobs = []
    with use_clock(FixedClock(datetime(2026, 3, 10, 9, tzinfo=UTC))):
        for position, (home, window) in enumerate(
            [(FIRST_HOME, (at(8), at(10))), (SECOND_HOME, (at(10), at(12)))]
        ):
            customer = CustomerFactory(home=HomeFactory(latitude=home[0], longitude=home[1]))
            request = request_create(
                actor=customer.user,
                customer=customer,
                home=customer.homes.get(),
                channel="portal",
                tree=TriageTreeFactory(),
                answers={"flooding": "no", "where": "ceiling"},  # 90 minutes
                defect_location_code="BAD",
                description="Lek",
            )
            job = services.job_create(
                request=request,
                firm=firm,
                technician=technician,
                actor=None,
                visit_start=window[0],
                visit_end=window[1],
            )
            Job.objects.filter(pk=job.pk).update(route_position=position)
            jobs.append(Job.objects.get(pk=job.pk))
    return technician, jobs


def test_on_my_way_tells_the_arrival_estimate_and_times_the_rest_of_the_day(day):
    technician, (first, second) = day
    leave = at(8, 5)

    with use_clock(FixedClock(leave)):
        services.technician_on_the_way(
            job=first, technician=technician, actor=None, latitude=DEPOT[0], longitude=DEPOT[1]
        )

    first.refresh_from_db()
    second.refresh_from_db()
    eta_first = leave + timedelta(seconds=travel_seconds(DEPOT, FIRST_HOME))
    assert first.expected_arrival == eta_first
    assert first.eta_published == eta_first
    # The second customer: after 90 minutes of work and the drive over; not told yet.
    assert second.expected_arrival == eta_first + timedelta(
        minutes=90, seconds=travel_seconds(FIRST_HOME, SECOND_HOME)
    )
    assert second.eta_published is None
    told = Event.objects.filter(activity="eta.updated")
    assert [e.attributes["job"] for e in told] == [first.pk]
    assert datetime.fromisoformat(told[0].attributes["eta"]) == eta_first
    assert told[0].attributes["late"] is False
    assert Event.objects.filter(activity="technician.on_the_way").count() == 1
    assert Technician.objects.get(pk=technician.pk).last_position_at == leave


def test_a_small_change_is_not_told_again_a_big_one_is(day):
    technician, (first, _second) = day
    with use_clock(FixedClock(at(8, 5))):
        services.technician_on_the_way(
            job=first, technician=technician, actor=None, latitude=DEPOT[0], longitude=DEPOT[1]
        )

    with use_clock(FixedClock(at(8, 8))):  # three minutes later, still at the depot: +3 min
        services.technician_position_report(technician=technician, latitude=DEPOT[0], longitude=DEPOT[1])
    assert Event.objects.filter(activity="eta.updated").count() == 1

    with use_clock(FixedClock(at(8, 30))):  # stuck in traffic at the depot: +25 min
        services.technician_position_report(technician=technician, latitude=DEPOT[0], longitude=DEPOT[1])
    told = list(Event.objects.filter(activity="eta.updated"))
    assert len(told) == 2
    assert told[1].attributes["previous_eta"] == told[0].attributes["eta"]


def test_a_visit_running_late_moves_the_next_customers_estimate(day):
    technician, (first, second) = day
    with use_clock(FixedClock(at(8, 0))):
        services.technician_on_the_way(
            job=first, technician=technician, actor=None, latitude=DEPOT[0], longitude=DEPOT[1]
        )
    with use_clock(FixedClock(at(8, 10))):
        services.job_arrive(job=first, technician=technician, actor=None)
    with use_clock(FixedClock(at(9, 0))):  # still inside the 90 minutes: nothing new
        assert services.visits_running_late_refresh(technician=technician) == 0
    second.refresh_from_db()
    planned = second.expected_arrival

    with use_clock(FixedClock(at(10, 30))):  # 20 minutes past the expected end
        services.visits_running_late_refresh(technician=technician)

    second.refresh_from_db()
    assert second.expected_arrival == at(10, 30) + timedelta(seconds=travel_seconds(FIRST_HOME, SECOND_HOME))
    assert second.expected_arrival > planned
    assert Event.objects.filter(activity="visit.arrived").count() == 1


def test_the_estimate_says_late_when_past_the_window(day):
    technician, (first, _second) = day

    with use_clock(FixedClock(at(9, 58))):
        services.technician_on_the_way(
            job=first, technician=technician, actor=None, latitude=DEPOT[0], longitude=DEPOT[1]
        )

    assert Event.objects.get(activity="eta.updated").attributes["late"] is True


def test_a_job_of_another_technician_is_refused(day, vera):
    _technician, (first, _second) = day
    other = TechnicianFactory()

    with pytest.raises(ApplicationError) as raised:
        services.technician_on_the_way(job=first, technician=other, actor=None, latitude=52.0, longitude=5.0)

    assert raised.value.message == services.MESSAGE_NOT_YOUR_JOB
    assert not Event.objects.filter(activity__in=["technician.on_the_way", "eta.updated"]).exists()


@pytest.mark.parametrize(("latitude", "longitude"), [(91, 5), (52, 181), ("x", 5), (float("nan"), 5)])
def test_a_position_off_the_earth_is_refused(day, latitude, longitude):
    technician, (first, _second) = day

    with pytest.raises(ApplicationError) as raised:
        services.technician_on_the_way(
            job=first, technician=technician, actor=None, latitude=latitude, longitude=longitude
        )

    assert raised.value.message == services.MESSAGE_BAD_POSITION
    first.refresh_from_db()
    assert first.on_the_way_at is None


def test_a_closed_job_gets_no_estimate(day):
    technician, (first, _second) = day
    services.job_complete(job=first, status="fixed", actor=None)

    with pytest.raises(ApplicationError) as raised:
        services.technician_on_the_way(
            job=first, technician=technician, actor=None, latitude=52.0, longitude=5.0
        )

    assert raised.value.message == services.MESSAGE_JOB_CLOSED


def test_working_hours_are_not_needed_for_estimates(day):
    # Estimates follow the jobs, not the shift: a technician working late still gets them.
    technician, (first, _second) = day
    assert not technician.working_hours.exists()
    with use_clock(FixedClock(at(8))):
        services.technician_on_the_way(
            job=first, technician=technician, actor=None, latitude=DEPOT[0], longitude=DEPOT[1]
        )
    assert Job.objects.get(pk=first.pk).expected_arrival is not None
    assert time(8) <= Job.objects.get(pk=first.pk).expected_arrival.astimezone(AMSTERDAM).time()
