from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import QuerySet

from klantreis.accounts.access import ALL_REQUESTS_ROLES
from klantreis.accounts.models import User
from klantreis.intake.models import RepairRequest, VeraCode
from klantreis.planning.calendar import Interval, local, subtract
from klantreis.planning.models import Absence, Job, Technician, WorkingHours


def job_list_for(*, user: User) -> QuerySet[Job]:
    """Jobs `user` may see: a subcontractor only their own firm's."""
    jobs = Job.objects.select_related("request", "request__home", "firm", "technician")
    if not user.is_authenticated or not user.is_active:
        return jobs.none()
    if user.role in ALL_REQUESTS_ROLES:
        return jobs
    if user.role == User.Role.SUBCONTRACTOR:
        return jobs.filter(firm__members=user)
    if user.role == User.Role.TECHNICIAN:
        return jobs.filter(technician__user=user)
    return jobs.none()


def technician_list_for_specialism(*, specialism: VeraCode) -> QuerySet[Technician]:
    """Active technicians who may do work of this specialism."""
    return (
        Technician.objects.filter(active=True, specialisms=specialism)
        .select_related("firm")
        .prefetch_related("working_hours")
        .order_by("pk")
    )


def technician_shifts(
    *, technicians: Sequence[Technician], days: Sequence[date], zone: ZoneInfo
) -> dict[tuple[int, date], list[Interval]]:
    """Each technician's plannable time per day: working hours (local wall
    clock) minus absences. Two queries, however many technicians and days."""
    if not technicians or not days:
        return {}
    hours: dict[tuple[int, int], list[WorkingHours]] = defaultdict(list)
    for row in WorkingHours.objects.filter(technician__in=technicians):
        hours[(row.technician_id, row.weekday)].append(row)
    window = Interval(local(min(days), time(0), zone), local(max(days) + timedelta(days=1), time(0), zone))
    absences: dict[int, list[Interval]] = defaultdict(list)
    for absence in Absence.objects.filter(
        technician__in=technicians, start__lt=window.end, end__gt=window.start
    ):
        absences[absence.technician_id].append(Interval(absence.start, absence.end))
    shifts = {}
    for technician in technicians:
        for day in days:
            pieces = [
                Interval(local(day, row.start, zone), local(day, row.end, zone))
                for row in hours[(technician.pk, day.weekday())]
            ]
            left = subtract(pieces, absences[technician.pk])
            if left:
                shifts[(technician.pk, day)] = left
    return shifts


def job_list_planned(*, technicians: Sequence[Technician], start: datetime, end: datetime) -> QuerySet[Job]:
    """Open jobs with a promised window in [start, end), in route order."""
    return (
        Job.objects.filter(
            technician__in=technicians,
            status=Job.Status.OPEN,
            visit_start__gte=start,
            visit_start__lt=end,
        )
        .select_related("request__home")
        .order_by("technician_id", "visit_start", "route_position", "pk")
    )


# The request statuses a time block may still be booked for (appointment_book
# refuses the others).
BOOKABLE_STATUSES = frozenset({RepairRequest.Status.REGISTERED, RepairRequest.Status.IN_PROGRESS})


def job_open_for_request(*, request: RepairRequest) -> Job | None:
    """The request's open job, with or without a promised window."""
    return (
        Job.objects.filter(request=request, status=Job.Status.OPEN)
        .select_related("technician", "firm")
        .order_by("-created_at", "-pk")
        .first()
    )


def appointment_for_request(*, request: RepairRequest) -> Job | None:
    """The request's appointment: its open job with a promised time window."""
    return (
        Job.objects.filter(request=request, status=Job.Status.OPEN, visit_start__isnull=False)
        .select_related("technician", "firm")
        .order_by("-created_at", "-pk")
        .first()
    )


def technician_names(*, ids: Iterable[int]) -> dict[int, str]:
    return dict(Technician.objects.filter(pk__in=set(ids)).values_list("pk", "name"))
