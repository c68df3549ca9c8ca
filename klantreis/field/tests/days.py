"""A Wednesday with two plumbers of the organisation's own service (Wim West
and Olga Oost, two visits each) and a subcontractor's plumber with one visit.
The clock stands at 07:00 that morning."""

from dataclasses import dataclass
from datetime import time

from klantreis.accounts.models import User
from klantreis.accounts.tests.factories import UserFactory
from klantreis.intake.models import VeraCode
from klantreis.planning import services
from klantreis.planning.models import Firm, Job, Technician, WorkingHours
from klantreis.planning.tests.days import EAST, at, crossed_day, reported
from klantreis.planning.tests.factories import FirmFactory, TechnicianFactory


@dataclass(frozen=True)
class FieldDay:
    firm: Firm
    west: Technician
    east: Technician
    sub_firm: Firm
    sub_technician: Technician
    sub_job: Job
    jobs: dict[str, Job]
    west_user: User
    east_user: User
    sub_user: User  # office of the subcontractor firm


def field_day_make() -> FieldDay:
    """Needs the VERA codes loaded (`vera`); call it with the clock on the day."""
    day = crossed_day()
    west_user = UserFactory(username="wim", role="technician", language="en")
    east_user = UserFactory(username="olga", role="technician", language="en")
    Technician.objects.filter(pk=day.west.pk).update(user=west_user)
    Technician.objects.filter(pk=day.east.pk).update(user=east_user)
    loo = VeraCode.objects.get(kind="ONDERHOUDSPECIALISME", code="LOO")
    sub_firm = FirmFactory(name="Loodgieters Koster", kind="subcontractor")
    sub_technician = TechnicianFactory(
        firm=sub_firm, name="Sam Koster", specialisms=[loo], start_latitude=EAST[0], start_longitude=EAST[1]
    )
    WorkingHours.objects.create(technician=sub_technician, weekday=2, start=time(7, 30), end=time(16))
    sub_job = services.job_create(
        request=reported("sub-1", EAST[0] + 0.01, EAST[1]),
        firm=sub_firm,
        technician=sub_technician,
        actor=None,
        visit_start=at(12),
        visit_end=at(14),
    )
    sub_user = UserFactory(username="koster", role="subcontractor", language="en")
    sub_firm.members.add(sub_user)
    # Thursday too, so a follow-up can be booked "from tomorrow".
    WorkingHours.objects.create(technician=day.west, weekday=3, start=time(7, 30), end=time(16))
    day.west.refresh_from_db()
    day.east.refresh_from_db()
    return FieldDay(
        firm=day.firm,
        west=day.west,
        east=day.east,
        sub_firm=sub_firm,
        sub_technician=sub_technician,
        sub_job=sub_job,
        jobs={name: Job.objects.get(pk=job.pk) for name, job in day.jobs.items()},
        west_user=west_user,
        east_user=east_user,
        sub_user=sub_user,
    )
