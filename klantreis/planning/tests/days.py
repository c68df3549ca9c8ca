"""A seeded day for the planner board's tests: two plumbers of one firm
whose jobs are crossed (each was given the two jobs next to the other one's
home), as in the optimiser's tests. Needs the VERA codes loaded (`vera`)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from klantreis.core.clock import FixedClock, use_clock
from klantreis.customers.tests.factories import CustomerFactory, HomeFactory
from klantreis.intake.models import RepairRequest, VeraCode
from klantreis.intake.services import request_create
from klantreis.intake.tests.factories import TriageTreeFactory
from klantreis.planning import services
from klantreis.planning.models import Firm, Job, Technician, WorkingHours
from klantreis.planning.tests.factories import FirmFactory, TechnicianFactory

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
WEDNESDAY = date(2026, 3, 11)
WEST, EAST = (52.09, 5.05), (52.09, 5.20)  # about 10 km apart


def at(hour: int, minute: int = 0, day: date = WEDNESDAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=AMSTERDAM)


@dataclass(frozen=True)
class CrossedDay:
    firm: Firm
    west: Technician
    east: Technician
    jobs: dict[str, Job]


def reported(description: str, latitude: float, longitude: float) -> RepairRequest:
    customer = CustomerFactory(home=HomeFactory(latitude=latitude, longitude=longitude))
    return request_create(
        actor=customer.user,
        customer=customer,
        home=customer.homes.get(),
        channel="portal",
        tree=TriageTreeFactory(),
        answers={"flooding": "no", "where": "ceiling"},
        defect_location_code="BAD",
        description=description,
    )


def crossed_day() -> CrossedDay:
    loo = VeraCode.objects.get(kind="ONDERHOUDSPECIALISME", code="LOO")
    firm = FirmFactory(name="Eigen dienst", kind="in_house")
    west = TechnicianFactory(
        firm=firm, name="Wim West", specialisms=[loo], start_latitude=WEST[0], start_longitude=WEST[1]
    )
    east = TechnicianFactory(
        firm=firm, name="Olga Oost", specialisms=[loo], start_latitude=EAST[0], start_longitude=EAST[1]
    )
    for technician in (west, east):
        WorkingHours.objects.create(technician=technician, weekday=2, start=time(7, 30), end=time(16))
    jobs = {}
    with use_clock(FixedClock(datetime(2026, 3, 10, 9, tzinfo=UTC))):
        for name, (latitude, longitude), technician, window in [
            ("west-1", (WEST[0] + 0.003, WEST[1]), east, (at(8), at(10))),
            ("west-2", (WEST[0] - 0.003, WEST[1]), east, (at(10), at(12))),
            ("east-1", (EAST[0] + 0.003, EAST[1]), west, (at(8), at(10))),
            ("east-2", (EAST[0] - 0.003, EAST[1]), west, (at(10), at(12))),
        ]:
            jobs[name] = services.job_create(
                request=reported(name, latitude, longitude),
                firm=firm,
                technician=technician,
                actor=None,
                visit_start=window[0],
                visit_end=window[1],
            )
    return CrossedDay(firm=firm, west=west, east=east, jobs=jobs)
