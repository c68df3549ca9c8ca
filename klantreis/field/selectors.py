"""Reads of the technician app: a day's visits, one visit, a home's past."""

import uuid
from dataclasses import dataclass
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import F, QuerySet
from django.http import Http404

from klantreis.accounts.models import User
from klantreis.field.models import FieldUpdate
from klantreis.intake.models import RepairRequest
from klantreis.planning.calendar import local
from klantreis.planning.models import Job, Technician
from klantreis.planning.selectors import job_list_for


def visit_list_for_day(*, user: User, day: date, zone: ZoneInfo, technician: int | None = None) -> list[Job]:
    """The visits of `day` (local calendar day in `zone`) that `user` may
    see, per technician in route order. Cancelled visits are left out."""
    start, end = local(day, time(0), zone), local(day + timedelta(days=1), time(0), zone)
    jobs = (
        job_list_for(user=user)
        .filter(visit_start__gte=start, visit_start__lt=end)
        .exclude(status=Job.Status.CANCELLED)
        .select_related("request__defect_type", "request__defect_location")
    )
    if technician is not None:
        jobs = jobs.filter(technician_id=technician)
    return list(
        jobs.order_by(
            F("technician__name").asc(nulls_last=True),
            "technician_id",
            F("route_position").asc(nulls_last=True),
            F("planned_start").asc(nulls_last=True),
            "visit_start",
            "pk",
        )
    )


def visit_get_for(*, user: User, job_id: int) -> Job:
    """One visit, or 404 when it does not exist or is not the user's to see
    (another technician's, another firm's)."""
    job = (
        job_list_for(user=user)
        .select_related(
            "request__defect_type",
            "request__defect_location",
            "request__specialism",
            "request__customer",
            "technician",
        )
        .filter(pk=job_id)
        .first()
    )
    if job is None:
        raise Http404
    return job


def technician_list_for(*, user: User) -> QuerySet[Technician]:
    """The technicians whose day `user` may choose to look at."""
    technicians = Technician.objects.select_related("firm").order_by("name", "pk")
    if user.role == User.Role.TECHNICIAN:
        return technicians.filter(user=user)
    if user.role == User.Role.SUBCONTRACTOR:
        return technicians.filter(firm__members=user)
    if user.role in (User.Role.PLANNER, User.Role.ADMIN):
        return technicians.filter(active=True)
    return technicians.none()


@dataclass(frozen=True)
class PastRequest:
    request: RepairRequest
    outcomes: list[str]  # how its visits ended, oldest first


def home_history(*, job: Job) -> list[PastRequest]:
    """Earlier requests on the same home, newest first, with how their
    visits ended: a returning leak is worth knowing at the door."""
    earlier = (
        RepairRequest.objects.filter(home_id=job.request.home_id, reported_at__lt=job.request.reported_at)
        .exclude(pk=job.request_id)
        .select_related("defect_type")
        .prefetch_related("jobs")
        .order_by("-reported_at", "-pk")[:20]
    )
    history = []
    for request in earlier:
        visits = sorted(request.jobs.all(), key=lambda visit: (visit.created_at, visit.pk))
        outcomes = [
            visit.get_status_display() + (f": {visit.outcome_note}" if visit.outcome_note else "")
            for visit in visits
            if visit.status != Job.Status.OPEN
        ]
        history.append(PastRequest(request=request, outcomes=outcomes))
    return history


def field_update_seen(*, key: uuid.UUID, job: Job, action: str) -> bool:
    return FieldUpdate.objects.filter(key=key, job=job, action=action).exists()
