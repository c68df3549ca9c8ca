"""Writes of the planning domain (the foundation part: giving a request to a
firm and a technician, and recording how a visit ended)."""

from datetime import date, datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from klantreis.accounts.models import User
from klantreis.core import clock
from klantreis.core.errors import ApplicationError
from klantreis.core.models import Organisation
from klantreis.events.models import Event
from klantreis.events.services import event_record
from klantreis.intake.models import RepairRequest
from klantreis.intake.services import request_status_change
from klantreis.planning.eta import estimates
from klantreis.planning.models import Firm, Job, PlanningSettings, Technician
from klantreis.planning.plan import SourceTravel, epoch, moment, plan_for, technician_ends
from klantreis.planning.selectors import BOOKABLE_STATUSES, technician_list_for_specialism, technician_shifts
from klantreis.planning.slots import PlannedStop, RouteDay, RouteState, book, offer_slots
from klantreis.planning.tasks import day_reoptimise_task
from klantreis.planning.travel import Location, TravelTimeError, travel_source_for

MESSAGE_TECHNICIAN_OTHER_FIRM = _("This technician does not work for that firm.")
MESSAGE_TECHNICIAN_LACKS_SPECIALISM = _("This technician lacks the specialism the request needs.")
MESSAGE_JOB_CLOSED = _("This job is already closed.")
MESSAGE_VISIT_WINDOW = _("The visit must end after it starts.")


@transaction.atomic
def job_create(
    *,
    request: RepairRequest,
    firm: Firm,
    technician: Technician | None,
    actor: User | None,
    visit_start: datetime | None = None,
    visit_end: datetime | None = None,
) -> Job:
    if technician is not None:
        if technician.firm_id != firm.pk:
            raise ApplicationError(MESSAGE_TECHNICIAN_OTHER_FIRM, field="technician")
        if not technician.specialisms.filter(pk=request.specialism_id).exists():
            raise ApplicationError(MESSAGE_TECHNICIAN_LACKS_SPECIALISM, field="technician")
    if (visit_start is None) != (visit_end is None) or (
        visit_start is not None and visit_end is not None and visit_end <= visit_start
    ):
        raise ApplicationError(MESSAGE_VISIT_WINDOW, field="visit_end")
    job = Job.objects.create(
        request=request,
        firm=firm,
        technician=technician,
        created_at=clock.now(),
        visit_start=visit_start,
        visit_end=visit_end,
    )
    if request.status == RepairRequest.Status.REGISTERED:
        request_status_change(
            request=request,
            status=RepairRequest.Status.IN_PROGRESS,
            actor=actor,
            channel=Event.Channel.SYSTEM,
            layer=Event.Layer.DIGITAL,
        )
    event_record(
        case_id=request.case_id,
        activity="job.assigned",
        actor=actor,
        channel=Event.Channel.SYSTEM,
        layer=Event.Layer.DIGITAL,
        attributes={
            "request": request.reference,
            "job": job.pk,
            "firm": firm.pk,
            "firm_kind": firm.kind,
            "technician": technician.pk if technician else None,
            "window_start": visit_start.isoformat() if visit_start else None,
            "window_end": visit_end.isoformat() if visit_end else None,
        },
    )
    return job


@transaction.atomic
def job_complete(*, job: Job, status: str, actor: User | None, note: str = "") -> Job:
    locked = Job.objects.select_for_update().select_related("request").get(pk=job.pk)
    if locked.status != Job.Status.OPEN:
        raise ApplicationError(MESSAGE_JOB_CLOSED, field="status")
    outcome = Job.Status(status)
    if outcome == Job.Status.OPEN:
        raise ApplicationError(MESSAGE_JOB_CLOSED, field="status")
    now = clock.now()
    locked.status = outcome
    locked.completed_at = now
    locked.outcome_note = note
    locked.save(update_fields=["status", "completed_at", "outcome_note"])
    request = locked.request
    event_record(
        case_id=request.case_id,
        activity=f"visit.{outcome.value}",
        actor=actor,
        channel=Event.Channel.ON_SITE,
        layer=Event.Layer.PHYSICAL,
        occurred_at=now,
        attributes={
            "request": request.reference,
            "job": locked.pk,
            "technician": locked.technician_id,
            "note": note,
        },
    )
    if outcome == Job.Status.FIXED:
        request_status_change(
            request=request,
            status=RepairRequest.Status.TECHNICALLY_DONE,
            actor=actor,
            channel=Event.Channel.ON_SITE,
            layer=Event.Layer.PHYSICAL,
        )
    return locked


MESSAGE_SLOT_TAKEN = _("This time is no longer available. Please choose another one.")
MESSAGE_ALREADY_BOOKED = _("This request already has an appointment.")
MESSAGE_NOT_BOOKABLE = _("This request can no longer be planned.")


@transaction.atomic
def appointment_book(
    *,
    request: RepairRequest,
    window_start: datetime,
    window_end: datetime,
    actor: User | None,
    channel: str,
) -> Job:
    """Book the time block [window_start, window_end] for `request`.

    Race-safe: the request and every qualified technician are locked (in
    primary-key order, so two bookings never deadlock), then the plan is read
    again and the block must still fit someone's route. Two customers can
    never both take the last capacity: the second waits for the first's
    commit, sees its job and is told the time is gone.
    """
    locked_request = (
        RepairRequest.objects.select_for_update(of=("self",))
        .select_related("home", "specialism")
        .get(pk=request.pk)
    )
    if locked_request.status not in BOOKABLE_STATUSES:
        raise ApplicationError(MESSAGE_NOT_BOOKABLE, field="window")
    if locked_request.jobs.filter(status=Job.Status.OPEN).exists():
        raise ApplicationError(MESSAGE_ALREADY_BOOKED, field="window")
    technicians = list(
        technician_list_for_specialism(specialism=locked_request.specialism).select_for_update(of=("self",))
    )
    plan = plan_for(request=locked_request, now=clock.now(), technicians=technicians)
    # The block is recognised by its end and its (unclipped) start: the
    # block under way is offered from "now", which moves while people click.
    offers = [
        offer
        for offer in offer_slots(routes=plan.routes, request=plan.job, blocks=plan.blocks, travel=plan.travel)
        if offer.block.end == epoch(window_end)
        and offer.block.start <= epoch(window_start) <= offer.block.end
    ]
    if not offers:
        raise ApplicationError(MESSAGE_SLOT_TAKEN, field="window")
    offer = offers[0]
    window_start, window_end = moment(offer.window_start), moment(offer.window_end)
    technician = plan.technicians[cast(int, offer.technician_id)]
    job = job_create(
        request=locked_request,
        firm=technician.firm,
        technician=technician,
        actor=actor,
        visit_start=window_start,
        visit_end=window_end,
    )
    state = plan.routes[offer.route_index]
    booked = book(
        state,
        offer.position,
        PlannedStop(
            job_id=job.pk,
            location=plan.job.location,
            service_seconds=plan.job.service_seconds,
            window_start=offer.window_start,
            window_end=offer.window_end,
        ),
        travel=plan.travel,
    )
    _route_store(booked, jobs=plan.jobs | {job.pk: job})
    job.refresh_from_db()
    event_record(
        case_id=locked_request.case_id,
        activity="appointment.booked",
        actor=actor,
        channel=channel,
        layer=Event.Layer.DIGITAL if channel != Event.Channel.PHONE else Event.Layer.HUMAN,
        attributes={
            "request": locked_request.reference,
            "job": job.pk,
            "technician": technician.pk,
            "firm": technician.firm_id,
            "window_start": window_start.isoformat(),
            "window_end": window_end.isoformat(),
            "planned_start": job.planned_start.isoformat() if job.planned_start else None,
            "added_travel_seconds": offer.added_travel,
        },
    )
    # The insertion was the cheapest for this job alone; let the solver
    # look at the whole day again once the booking is committed.
    day = window_start.astimezone(plan.zone).date().isoformat()
    transaction.on_commit(lambda: day_reoptimise_task.enqueue(day))
    return job


def _route_store(state: RouteState, *, jobs: dict[int, Job]) -> None:
    """Write a route's order and planned start times back to its jobs."""
    for position, (stop, start) in enumerate(zip(state.route.stops, state.starts, strict=True)):
        job = jobs[cast(int, stop.job_id)]
        planned = moment(start)
        if job.route_position != position or job.planned_start != planned:
            Job.objects.filter(pk=job.pk).update(route_position=position, planned_start=planned)


MESSAGE_PIN_OTHER_SPECIALISM = _("This technician cannot do this job: the specialism is missing.")
MESSAGE_PIN_OUTSIDE_WINDOW = _("A pinned time must lie inside the promised window.")


@transaction.atomic
def job_pin(*, job: Job, technician: Technician, planned_start: datetime | None, actor: User) -> Job:
    """A planner fixes who does a job (and optionally when, inside the
    promised window); re-optimisation keeps it so."""
    locked = Job.objects.select_for_update(of=("self",)).select_related("request").get(pk=job.pk)
    if locked.status != Job.Status.OPEN:
        raise ApplicationError(MESSAGE_JOB_CLOSED, field="job")
    if technician.firm_id != locked.firm_id:
        raise ApplicationError(MESSAGE_TECHNICIAN_OTHER_FIRM, field="technician")
    if not technician.specialisms.filter(pk=locked.request.specialism_id).exists():
        raise ApplicationError(MESSAGE_PIN_OTHER_SPECIALISM, field="technician")
    if planned_start is not None and not (
        locked.visit_start is not None
        and locked.visit_end is not None
        and locked.visit_start <= planned_start <= locked.visit_end
    ):
        raise ApplicationError(MESSAGE_PIN_OUTSIDE_WINDOW, field="planned_start")
    previous = locked.technician_id
    locked.technician = technician
    locked.pinned = True
    if planned_start is not None:
        locked.planned_start = planned_start
    locked.save(update_fields=["technician", "pinned", "planned_start"])
    if locked.visit_start is not None:
        # Re-time both routes at once, so the plan stays consistent even when
        # the re-optimisation that usually follows finds nothing shorter.
        zone = ZoneInfo(Organisation.current().time_zone)
        day = locked.visit_start.astimezone(zone).date()
        affected_ids = {technician.pk} | ({previous} if previous is not None else set())
        try:
            for affected in Technician.objects.filter(pk__in=affected_ids):
                _day_retime(technician=affected, day=day, zone=zone)
        except TravelTimeError:
            # Without travel times the pin still holds; the board shows the
            # old times as at risk until travel times are back.
            pass
    event_record(
        case_id=locked.request.case_id,
        activity="job.pinned",
        actor=actor,
        channel=Event.Channel.SYSTEM,
        layer=Event.Layer.HUMAN,
        attributes={
            "request": locked.request.reference,
            "job": locked.pk,
            "technician": technician.pk,
            "previous_technician": previous,
            "planned_start": planned_start.isoformat() if planned_start else None,
        },
    )
    return locked


MESSAGE_NOT_YOUR_JOB = _("This job is not on your list.")
MESSAGE_BAD_POSITION = _("That position is not a place on earth.")
MESSAGE_ALREADY_ARRIVED = _("You have already arrived at this job.")


def _position(latitude: float, longitude: float) -> Location:
    try:
        return Location(float(latitude), float(longitude))
    except (TypeError, ValueError):
        raise ApplicationError(MESSAGE_BAD_POSITION, field="position") from None


def _own_open_job(job: Job, technician: Technician) -> Job:
    locked = (
        Job.objects.select_for_update(of=("self",))
        .select_related("request__home", "technician")
        .get(pk=job.pk)
    )
    if locked.technician_id != technician.pk:
        raise ApplicationError(MESSAGE_NOT_YOUR_JOB, field="job")
    if locked.status != Job.Status.OPEN:
        raise ApplicationError(MESSAGE_JOB_CLOSED, field="job")
    return locked


@transaction.atomic
def technician_on_the_way(
    *, job: Job, technician: Technician, actor: User | None, latitude: float, longitude: float
) -> Job:
    """The technician sets off to `job`: its arrival estimate is told at once
    (the journey sends the "on my way" message), the rest of the day follows."""
    origin = _position(latitude, longitude)
    locked = _own_open_job(job, technician)
    if locked.arrived_at is not None:
        raise ApplicationError(MESSAGE_ALREADY_ARRIVED, field="job")
    now = clock.now()
    locked.on_the_way_at = now
    locked.save(update_fields=["on_the_way_at"])
    _position_store(technician, origin, now)
    event_record(
        case_id=locked.request.case_id,
        activity="technician.on_the_way",
        actor=actor,
        channel=Event.Channel.ON_SITE,
        layer=Event.Layer.PHYSICAL,
        attributes={"request": locked.request.reference, "job": locked.pk, "technician": technician.pk},
    )
    eta_refresh(technician=technician, origin=origin, leave_at=now, first=locked, force_first=True)
    locked.refresh_from_db()
    return locked


@transaction.atomic
def technician_position_report(*, technician: Technician, latitude: float, longitude: float) -> None:
    """A position from the technician's phone: the estimates of the rest of
    the day are recomputed; those that moved enough are told again."""
    origin = _position(latitude, longitude)
    now = clock.now()
    _position_store(technician, origin, now)
    in_progress = _day_jobs_left(technician, now).filter(arrived_at__isnull=False).first()
    if in_progress is not None:
        # At a job: the position says nothing new; the visit's end does.
        return
    eta_refresh(technician=technician, origin=origin, leave_at=now)


@transaction.atomic
def job_arrive(*, job: Job, technician: Technician, actor: User | None) -> Job:
    locked = _own_open_job(job, technician)
    if locked.arrived_at is not None:
        raise ApplicationError(MESSAGE_ALREADY_ARRIVED, field="job")
    now = clock.now()
    locked.arrived_at = now
    locked.save(update_fields=["arrived_at"])
    event_record(
        case_id=locked.request.case_id,
        activity="visit.arrived",
        actor=actor,
        channel=Event.Channel.ON_SITE,
        layer=Event.Layer.PHYSICAL,
        attributes={
            "request": locked.request.reference,
            "job": locked.pk,
            "technician": technician.pk,
            "on_time": locked.visit_end is None or now <= locked.visit_end,
            "expected_arrival": locked.expected_arrival.isoformat() if locked.expected_arrival else None,
        },
    )
    return locked


def visits_running_late_refresh(*, technician: Technician) -> int:
    """While a visit runs past its expected end, the next customers' estimates
    slip with it: recompute from the job's address, leaving now. Returns how
    many estimates were told again (run every few minutes)."""
    now = clock.now()
    with transaction.atomic():
        current = (
            _day_jobs_left(technician, now)
            .filter(arrived_at__isnull=False)
            .select_related("request__home", "request")
            .first()
        )
        if current is None or current.arrived_at is None:
            return 0
        expected_end = current.arrived_at + timedelta(
            minutes=current.duration_minutes or current.request.estimated_minutes
        )
        return eta_refresh(
            technician=technician,
            origin=Location(current.request.home.latitude, current.request.home.longitude),
            leave_at=max(now, expected_end),
            exclude=current,
        )


def _position_store(technician: Technician, origin: Location, now: datetime) -> None:
    Technician.objects.filter(pk=technician.pk).update(
        last_latitude=origin.latitude, last_longitude=origin.longitude, last_position_at=now
    )


def _day_jobs_left(technician: Technician, now: datetime) -> QuerySet[Job]:
    zone = ZoneInfo(Organisation.current().time_zone)
    day_start = datetime.combine(now.astimezone(zone).date(), datetime.min.time(), tzinfo=zone)
    return Job.objects.filter(
        technician=technician,
        status=Job.Status.OPEN,
        visit_start__gte=day_start,
        visit_start__lt=day_start + timedelta(days=1),
    ).order_by("route_position", "visit_start", "pk")


def eta_refresh(
    *,
    technician: Technician,
    origin: Location,
    leave_at: datetime,
    first: Job | None = None,
    force_first: bool = False,
    exclude: Job | None = None,
) -> int:
    """Time the technician's remaining jobs of the day and store the
    estimates; announce (event `eta.updated`) each one that moved at least the
    organisation's threshold since last told, and `first` always when forced.
    Returns the number of estimates told."""
    settings = PlanningSettings.current()
    remaining = list(
        _day_jobs_left(technician, leave_at)
        .filter(arrived_at__isnull=True)
        .select_related("request__home", "request")
    )
    if exclude is not None:
        remaining = [job for job in remaining if job.pk != exclude.pk]
    if first is not None:
        # The job being driven to comes first, whatever the stored order says.
        remaining = [job for job in remaining if job.pk == first.pk] + [
            j for j in remaining if j.pk != first.pk
        ]
    threshold = timedelta(minutes=settings.eta_change_minutes)
    told = 0
    for estimate in estimates(
        origin=origin, leave_at=leave_at, jobs=remaining, travel=travel_source_for(settings)
    ):
        job = estimate.job
        forced = force_first and first is not None and job.pk == first.pk
        moved = job.eta_published is None or abs(estimate.arrival - job.eta_published) >= threshold
        update = {"expected_arrival": estimate.arrival}
        # A customer is told an estimate when the technician sets off to them,
        # and again whenever it moves by the threshold after that.
        if forced or (moved and (job.on_the_way_at is not None or job.eta_published is not None)):
            update["eta_published"] = estimate.arrival
            event_record(
                case_id=job.request.case_id,
                activity="eta.updated",
                actor=None,
                channel=Event.Channel.SYSTEM,
                layer=Event.Layer.DIGITAL,
                attributes={
                    "request": job.request.reference,
                    "job": job.pk,
                    "technician": technician.pk,
                    "eta": estimate.arrival.isoformat(),
                    "window_start": job.visit_start.isoformat() if job.visit_start else None,
                    "window_end": job.visit_end.isoformat() if job.visit_end else None,
                    "late": estimate.late,
                    "previous_eta": job.eta_published.isoformat() if job.eta_published else None,
                },
            )
            told += 1
        Job.objects.filter(pk=job.pk).update(**update)
    return told


def _day_retime(*, technician: Technician, day: date, zone: ZoneInfo) -> None:
    """Time a technician's jobs of `day` in the order of their planned (or
    promised) start, from the start of their working day, and store the
    order and planned starts. A job pinned in time keeps its time."""
    start_of_day = datetime.combine(day, datetime.min.time(), tzinfo=zone)
    jobs = list(
        Job.objects.filter(
            technician=technician,
            status=Job.Status.OPEN,
            visit_start__gte=start_of_day,
            visit_start__lt=start_of_day + timedelta(days=1),
            visit_end__isnull=False,
        ).select_related("request__home", "request")
    )
    if not jobs:
        return
    jobs.sort(key=lambda job: (job.planned_start or job.visit_start or start_of_day, job.pk))
    pieces = technician_shifts(technicians=[technician], days=[day], zone=zone).get((technician.pk, day), [])
    shift_start = epoch(pieces[0].start) if pieces else epoch(start_of_day)
    shift_end = epoch(pieces[-1].end) if pieces else epoch(start_of_day + timedelta(days=1))
    home, end = technician_ends(technician)
    stops = []
    for job in jobs:
        if job.visit_start is None or job.visit_end is None:  # filtered above
            continue
        window = (epoch(job.visit_start), epoch(job.visit_end))
        if job.pinned and job.planned_start is not None:
            window = (epoch(job.planned_start), epoch(job.planned_start))
        stops.append(
            PlannedStop(
                job_id=job.pk,
                location=Location(job.request.home.latitude, job.request.home.longitude),
                service_seconds=(job.duration_minutes or job.request.estimated_minutes) * 60,
                window_start=window[0],
                window_end=window[1],
            )
        )
    route = RouteDay(
        technician_id=technician.pk,
        day=day,
        shift_start=min(shift_start, stops[0].window_start),
        shift_end=max(shift_end, stops[-1].window_end),
        start_location=home,
        end_location=end,
        skills=frozenset(),
        stops=tuple(stops),
    )
    state = RouteState.from_route(route, travel=SourceTravel(travel_source_for(PlanningSettings.current())))
    _route_store(state, jobs={job.pk: job for job in jobs})
