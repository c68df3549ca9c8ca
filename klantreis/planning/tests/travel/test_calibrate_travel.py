"""Reading trips from the job history, and `manage.py calibrate_travel` on generated jobs."""

import io
import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from klantreis.core.clock import FixedClock, use_clock
from klantreis.customers.tests.factories import CustomerFactory, HomeFactory
from klantreis.intake.models import RepairRequest, VeraCode
from klantreis.intake.services import request_create
from klantreis.intake.tests.factories import TriageTreeFactory
from klantreis.planning.models import Job, PlanningSettings, Technician
from klantreis.planning.services import job_complete, job_create
from klantreis.planning.tests.factories import TechnicianFactory
from klantreis.planning.travel import Location
from klantreis.planning.travel.calibration import Observation, job_observations
from klantreis.planning.travel.haversine import great_circle_metres

pytestmark = pytest.mark.django_db

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
TUESDAY = datetime(2026, 3, 10, tzinfo=AMSTERDAM)

P1, P2, P3, P4, P5, P6, P7 = (
    Location(52.0907, 5.1214),
    Location(52.1000, 5.1100),
    Location(52.0800, 5.1300),
    Location(52.0700, 5.1000),
    Location(52.1100, 5.0900),
    Location(52.0600, 5.1500),
    Location(52.3700, 4.9000),
)


@pytest.fixture
def technician(vera) -> Technician:
    return TechnicianFactory(specialisms=[VeraCode.objects.get(kind=VeraCode.Kind.SPECIALISM, code="LOO")])


def visit(
    technician: Technician,
    place: Location,
    completed: datetime,
    *,
    status: str = Job.Status.FIXED,
    planned: bool = True,
    duration_minutes: int | None = 30,
) -> Job:
    """A job at `place` (a ceiling leak, estimated at 90 minutes) that `technician`
    completed at `completed`, after having been route-planned or not."""
    customer = CustomerFactory(home=HomeFactory(latitude=place.latitude, longitude=place.longitude))
    with use_clock(FixedClock(completed - timedelta(days=2))):
        request = request_create(
            actor=customer.user,
            customer=customer,
            home=customer.homes.get(),
            channel=RepairRequest.Channel.PORTAL,
            tree=TriageTreeFactory(),
            answers={"flooding": "no", "where": "ceiling"},
            defect_location_code="BAD",
            description="Er komt water door het plafond.",
        )
        job = job_create(
            request=request,
            firm=technician.firm,
            technician=technician,
            actor=None,
            visit_start=completed.replace(hour=8, minute=0),
            visit_end=completed.replace(hour=18, minute=0),
        )
    # Route planning is not built yet: its result is written here directly.
    Job.objects.filter(pk=job.pk).update(
        planned_start=completed - timedelta(minutes=45) if planned else None,
        duration_minutes=duration_minutes,
    )
    with use_clock(FixedClock(completed)):
        job_complete(job=job, status=status, actor=None)
    return job


def at(hour: int, minute: int = 0, *, day: datetime = TUESDAY) -> datetime:
    return day.replace(hour=hour, minute=minute)


def test_trips_are_read_between_consecutive_planned_visits_ending_at_a_fixed_job(technician):
    colleague = TechnicianFactory(firm=technician.firm, specialisms=list(technician.specialisms.all()))
    visit(technician, P1, at(8, 30))
    visit(technician, P7, at(9, 0), status=Job.Status.CANCELLED)  # no visit: does not count
    visit(colleague, P7, at(9, 10))  # another technician's day: never paired with this one
    visit(technician, P2, at(9, 20))  # arrived 08:50, 20 min after leaving P1
    visit(technician, P3, at(9, 40), status=Job.Status.NOT_HOME)  # no on-site time known
    visit(technician, P4, at(10, 30))  # arrived 10:00, 20 min after leaving P3
    visit(technician, P5, at(12, 30), duration_minutes=None)  # the request's 90 min: arrived 11:00
    visit(technician, P6, at(13, 0), planned=False)  # not route-planned: not a trip, nor the next
    visit(technician, P1, at(13, 40))
    visit(technician, P2, at(17, 0))  # arrived 16:30, 2 h 50 min after leaving P1: a break
    visit(technician, P3, at(8, 30, day=TUESDAY + timedelta(days=1)))  # the next day

    history = job_observations()

    assert history.observations == [
        Observation(origin=P1, destination=P2, seconds=1200),
        Observation(origin=P3, destination=P4, seconds=1200),
        Observation(origin=P4, destination=P5, seconds=1800),
    ]
    assert history.pairs == 4


def test_no_history_reads_no_trips():
    history = job_observations()

    assert history.observations == []
    assert history.pairs == 0


def a_day_at(technician: Technician, *, speed_kmh: float, circuity: float, stops: int) -> None:
    """`stops` visits of 15 minutes in Utrecht, driven exactly as the estimate would."""
    rng = random.Random(11)  # noqa: S311 - test positions
    places = [Location(rng.uniform(52.05, 52.12), rng.uniform(5.05, 5.17)) for _ in range(stops)]
    completed = at(7, 15)
    visit(technician, places[0], completed, duration_minutes=15)
    for previous, place in zip(places, places[1:], strict=False):
        drive = round(great_circle_metres(previous, place) * circuity / (speed_kmh / 3.6))
        completed += timedelta(seconds=drive, minutes=15)
        visit(technician, place, completed, duration_minutes=15)


def run(*arguments: str) -> str:
    out = io.StringIO()
    call_command("calibrate_travel", *arguments, stdout=out)
    return out.getvalue()


def test_the_command_prints_the_fit_and_stores_nothing(technician):
    a_day_at(technician, speed_kmh=24.0, circuity=1.35, stops=23)

    output = run()

    assert output.splitlines() == [
        "Trips: 22 used of 22 observed (22 consecutive job pairs)",
        "Fit: 202 s per straight-line km = circuity 1.35 at 24 km/h (now: circuity 1.35 at 30 km/h)",
        "Error: 0 s root-mean-square per trip",
        "Not stored; run with --apply to store it.",
    ]
    assert not PlanningSettings.objects.exists()


def test_the_command_with_apply_stores_the_fit(technician):
    PlanningSettings.objects.create(circuity_factor=1.4, average_speed_kmh=30.0, slot_minutes=60)
    a_day_at(technician, speed_kmh=26.0, circuity=1.4, stops=23)

    output = run("--apply")

    assert output.splitlines()[1] == (
        "Fit: 194 s per straight-line km = circuity 1.4 at 26 km/h (now: circuity 1.4 at 30 km/h)"
    )
    assert output.splitlines()[-1] == "Stored in the planning settings."
    assert PlanningSettings.objects.values_list(
        "circuity_factor", "average_speed_kmh", "slot_minutes"
    ).get() == (
        1.4,
        26.0,
        60,
    )


def test_the_command_says_plainly_when_there_is_nothing_to_learn_from(technician):
    visit(technician, P1, at(8, 30), planned=False)
    visit(technician, P2, at(9, 30), planned=False)

    output = run("--apply")

    assert output == (
        "No trips to calibrate from: no consecutive route-planned visits of one technician on one day "
        "ending at a fixed job (0 pairs looked at). Nothing changed.\n"
    )
    assert not PlanningSettings.objects.exists()


def test_the_command_refuses_too_few_trips_and_stores_nothing(technician):
    PlanningSettings.objects.create()
    a_day_at(technician, speed_kmh=24.0, circuity=1.35, stops=6)

    with pytest.raises(CommandError) as refused:
        run("--apply")

    assert str(refused.value) == (
        "Too few observations to calibrate travel times: 5, at least 20 are needed. Nothing changed."
    )
    assert PlanningSettings.objects.values_list("average_speed_kmh", flat=True).get() == 30.0
