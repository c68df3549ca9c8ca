"""Writes of the planning domain (the foundation part: giving a request to a
firm and a technician, and recording how a visit ended)."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
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
from klantreis.planning.calendar import local
from klantreis.planning.eta import estimates
from klantreis.planning.models import Firm, Job, PlanningSettings, Technician
from klantreis.planning.plan import (
    Plan,
    SourceTravel,
    epoch,
    job_minutes,
    moment,
    plan_for,
    route_states,
    technician_ends,
)
from klantreis.planning.selectors import (
    BOOKABLE_STATUSES,
    VISITED_STATUSES,
    technician_list_for_specialism,
    technician_shifts,
)
from klantreis.planning.slots import NewJob, PlannedStop, RouteDay, RouteState, SlotOffer, book, offer_slots
from klantreis.planning.tasks import day_reoptimise_task
from klantreis.planning.travel import Location, TravelTimeError, travel_source_for

MESSAGE_TECHNICIAN_OTHER_FIRM = _("This technician does not work for that firm.")
MESSAGE_TECHNICIAN_LACKS_SPECIALISM = _("This technician lacks the specialism the request needs.")
MESSAGE_JOB_CLOSED = _("This job is already closed.")
MESSAGE_VISIT_WINDOW = _("The visit must end after it starts.")
MESSAGE_NOT_FIXED_REASON = _("A reason is only given, from the list, for a visit that did not fix it.")


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
def job_complete(
    *,
    job: Job,
    status: str,
    actor: User | None,
    note: str = "",
    not_fixed_reason: str = "",
    materials: str = "",
) -> Job:
    """Record how a visit ended; `not_fixed_reason` (a `Job.NotFixedReason`)
    only for a visit that did not fix it, `materials` what was used."""
    locked = Job.objects.select_for_update().select_related("request").get(pk=job.pk)
    if locked.status != Job.Status.OPEN:
        raise ApplicationError(MESSAGE_JOB_CLOSED, field="status")
    outcome = Job.Status(status)
    if outcome == Job.Status.OPEN:
        raise ApplicationError(MESSAGE_JOB_CLOSED, field="status")
    if not_fixed_reason and (
        outcome != Job.Status.NOT_FIXED or not_fixed_reason not in Job.NotFixedReason.values
    ):
        raise ApplicationError(MESSAGE_NOT_FIXED_REASON, field="not_fixed_reason")
    now = clock.now()
    locked.status = outcome
    locked.completed_at = now
    locked.outcome_note = note
    locked.not_fixed_reason = not_fixed_reason
    locked.materials = materials
    locked.save(update_fields=["status", "completed_at", "outcome_note", "not_fixed_reason", "materials"])
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
            "materials": materials,
            **({"reason": not_fixed_reason} if outcome == Job.Status.NOT_FIXED else {}),
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
    offer = _offer_for(plan=plan, job=plan.job, window_start=window_start, window_end=window_end)
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
            "customer": locked_request.customer_id,
            "job": job.pk,
            "technician": technician.pk,
            "firm": technician.firm_id,
            "window_start": window_start.isoformat(),
            "window_end": window_end.isoformat(),
            "planned_start": job.planned_start.isoformat() if job.planned_start else None,
            "added_travel_seconds": offer.added_travel,
            # A visit that did not fix it (or found nobody home) needs another.
            "follow_up": locked_request.jobs.filter(status__in=VISITED_STATUSES).exists(),
        },
    )
    # The insertion was the cheapest for this job alone; let the solver
    # look at the whole day again once the booking is committed.
    _reoptimise_on_commit({window_start.astimezone(plan.zone).date()})
    return job


def _offer_for(*, plan: Plan, job: NewJob, window_start: datetime, window_end: datetime) -> SlotOffer:
    """The offer behind the block the customer chose, if it is still offered.

    The block is recognised by its end and its (unclipped) start: the block
    under way is offered from "now", which moves while people click (a
    window that shrank to nothing is gone)."""
    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise ValueError("A time block is a pair of aware datetimes.")
    for offer in offer_slots(routes=plan.routes, request=job, blocks=plan.blocks, travel=plan.travel):
        if (
            offer.block.end == epoch(window_end)
            and offer.block.start <= epoch(window_start) <= offer.block.end
            and offer.window_start < offer.window_end
        ):
            return offer
    raise ApplicationError(MESSAGE_SLOT_TAKEN, field="window")


def _reoptimise_on_commit(days: set[date]) -> None:
    for day in sorted(days):
        transaction.on_commit(partial(day_reoptimise_task.enqueue, day.isoformat()))


def _route_store(state: RouteState, *, jobs: dict[int, Job]) -> None:
    """Write a route's order and planned start times back to its jobs."""
    for position, (stop, start) in enumerate(zip(state.route.stops, state.starts, strict=True)):
        job = jobs[cast(int, stop.job_id)]
        planned = moment(start)
        if job.route_position != position or job.planned_start != planned:
            Job.objects.filter(pk=job.pk).update(route_position=position, planned_start=planned)


MESSAGE_APPOINTMENT_CLOSED = _("This appointment has already taken place or was cancelled.")
MESSAGE_NO_APPOINTMENT = _("This job has no appointment to change.")
MESSAGE_VISIT_UNDER_WAY = _(
    "The technician is already at work on this appointment; it can no longer be changed."
)
MESSAGE_REASON_TOO_LONG = _("The reason may be at most %(max)s characters long.")
REASON_MAX_LENGTH = 1000
MESSAGE_CHANGE_TOO_LATE = _(
    "An appointment can be changed until %(time)s on the day before. Please call us to change it."
)


def _appointment_lock(
    *, job: Job, qualified: bool = False
) -> tuple[RepairRequest, dict[int, Technician], list[Technician], Job]:
    """Lock what changing an appointment touches, in appointment_book's
    order (the request, then technicians in primary-key order, then the
    job), so a change and a booking never deadlock and never both take the
    last capacity. Locks the job's technician and, when `qualified`, every
    technician who could take the job's request (returned as the list)."""
    current = Job.objects.only("request_id", "technician_id").get(pk=job.pk)
    locked_request = (
        RepairRequest.objects.select_for_update(of=("self",))
        .select_related("home", "specialism", "customer")
        .get(pk=current.request_id)
    )
    qualified_ids: set[int] = set()
    if qualified:
        qualified_ids = set(
            technician_list_for_specialism(specialism=locked_request.specialism).values_list("pk", flat=True)
        )
    wanted = qualified_ids | ({current.technician_id} if current.technician_id is not None else set())
    technicians = {
        technician.pk: technician
        for technician in Technician.objects.filter(pk__in=wanted)
        .select_related("firm")
        .order_by("pk")
        .select_for_update(of=("self",))
    }
    locked = Job.objects.select_for_update(of=("self",)).get(pk=job.pk)
    locked.request = locked_request
    if locked.technician_id is not None and locked.technician_id not in technicians:
        # A planner pinned the job to someone else between the two reads.
        technicians[locked.technician_id] = (
            Technician.objects.select_for_update(of=("self",))
            .select_related("firm")
            .get(pk=locked.technician_id)
        )
    # Who was deactivated between the two reads can no longer take work.
    qualified_list = [technicians[pk] for pk in sorted(qualified_ids) if technicians[pk].active]
    return locked_request, technicians, qualified_list, locked


def _appointment_changeable(*, job: Job, actor: User | None, now: datetime, zone: ZoneInfo) -> None:
    if job.status != Job.Status.OPEN:
        raise ApplicationError(MESSAGE_APPOINTMENT_CLOSED, field="job")
    if job.visit_start is None or job.visit_end is None or job.technician_id is None:
        raise ApplicationError(MESSAGE_NO_APPOINTMENT, field="job")
    if job.arrived_at is not None:
        raise ApplicationError(MESSAGE_VISIT_UNDER_WAY, field="job")
    cutoff = PlanningSettings.current().change_cutoff
    if cutoff is None or actor is None or actor.role != User.Role.CUSTOMER:
        return
    # "No changes after 17:00 the day before": the wall clock of that day,
    # so across a change to or from summer time too (compared in UTC: Python
    # compares two times of one zone by their wall clock).
    day_before = job.visit_start.astimezone(zone).date() - timedelta(days=1)
    if now.astimezone(UTC) > local(day_before, cutoff, zone).astimezone(UTC):
        raise ApplicationError(MESSAGE_CHANGE_TOO_LATE % {"time": f"{cutoff:%H:%M}"}, field="job")


def _layer(channel: str) -> str:
    return Event.Layer.HUMAN if channel == Event.Channel.PHONE else Event.Layer.DIGITAL


def _self_service(request: RepairRequest, actor: User | None) -> bool:
    return actor is not None and actor.pk == request.customer.user_id


def _piece(state: RouteState) -> tuple[object, date, int]:
    # Pieces of one technician's day never share an end.
    return (state.route.technician_id, state.route.day, state.route.shift_end)


def _day_routes_store(
    *,
    technician: Technician,
    day: date,
    now: datetime,
    zone: ZoneInfo,
    travel: SourceTravel,
    skip: set[object],
) -> None:
    """Re-time a technician's day from the stored plan (as slot offering
    sees it) and store it, except the pieces in `skip`."""
    routes, jobs = route_states(technicians=[technician], days=[day], now=now, zone=zone, travel=travel)
    for state in routes:
        if _piece(state) not in skip:
            _route_store(state, jobs=jobs)


@transaction.atomic
def appointment_reschedule(
    *, job: Job, window_start: datetime, window_end: datetime, actor: User | None, channel: str
) -> Job:
    """Move a booked, open job to the time block [window_start, window_end],
    which must be offered now with the job taken off its route (it may stay
    with its technician, earlier or later that day).

    Race-safe as appointment_book: the new place is taken under the same
    locks, and the old one is given up in the same transaction, so the job
    is never without a place nor in two. Customers cannot change after the
    organisation's cut-off on the day before; staff always can."""
    locked_request, technicians, qualified, locked = _appointment_lock(job=job, qualified=True)
    now = clock.now()
    zone = ZoneInfo(Organisation.current().time_zone)
    _appointment_changeable(job=locked, actor=actor, now=now, zone=zone)
    if locked_request.status not in BOOKABLE_STATUSES:
        raise ApplicationError(MESSAGE_NOT_BOOKABLE, field="window")
    previous_start, previous_end = cast(datetime, locked.visit_start), cast(datetime, locked.visit_end)
    previous_technician = technicians[cast(int, locked.technician_id)]
    plan = plan_for(request=locked_request, now=now, technicians=qualified, without_job=locked.pk)
    # The job keeps its own length (a planner may have set one).
    moving = replace(plan.job, service_seconds=job_minutes(locked) * 60)
    offer = _offer_for(plan=plan, job=moving, window_start=window_start, window_end=window_end)
    technician = plan.technicians[cast(int, offer.technician_id)]
    booked = book(
        plan.routes[offer.route_index],
        offer.position,
        PlannedStop(
            job_id=locked.pk,
            location=moving.location,
            service_seconds=moving.service_seconds,
            window_start=offer.window_start,
            window_end=offer.window_end,
        ),
        travel=plan.travel,
    )
    locked.technician = technician
    locked.firm = technician.firm
    locked.visit_start, locked.visit_end = moment(offer.window_start), moment(offer.window_end)
    # A pin and the arrival estimates were for the old time.
    locked.pinned = False
    locked.on_the_way_at = locked.expected_arrival = locked.eta_published = None
    locked.save(
        update_fields=[
            "technician",
            "firm",
            "visit_start",
            "visit_end",
            "pinned",
            "on_the_way_at",
            "expected_arrival",
            "eta_published",
        ]
    )
    _route_store(booked, jobs=plan.jobs | {locked.pk: locked})
    previous_day = previous_start.astimezone(zone).date()
    _day_routes_store(
        technician=previous_technician,
        day=previous_day,
        now=now,
        zone=zone,
        travel=plan.travel,
        skip={_piece(booked)},
    )
    locked.refresh_from_db()
    event_record(
        case_id=locked_request.case_id,
        activity="appointment.rescheduled",
        actor=actor,
        channel=channel,
        layer=_layer(channel),
        attributes={
            "request": locked_request.reference,
            "customer": locked_request.customer_id,
            "job": locked.pk,
            "technician": technician.pk,
            "firm": technician.firm_id,
            "window_start": locked.visit_start.isoformat() if locked.visit_start else None,
            "window_end": locked.visit_end.isoformat() if locked.visit_end else None,
            "previous_technician": previous_technician.pk,
            "previous_window_start": previous_start.isoformat(),
            "previous_window_end": previous_end.isoformat(),
            "planned_start": locked.planned_start.isoformat() if locked.planned_start else None,
            "self_service": _self_service(locked_request, actor),
        },
    )
    _reoptimise_on_commit({previous_day, offer.day})
    return locked


@transaction.atomic
def appointment_cancel(*, job: Job, actor: User | None, channel: str, reason: str = "") -> Job:
    """Cancel a booked, open job: its technician's day is re-timed without
    it and the request can be booked again. The request stays in progress:
    the intake's statuses never go back to registered, and in progress is
    bookable. Customers cannot cancel after the cut-off on the day before;
    staff always can."""
    # PostgreSQL stores no NUL character (in text nor in JSON).
    reason = reason.replace("\x00", "").strip()
    if len(reason) > REASON_MAX_LENGTH:
        raise ApplicationError(MESSAGE_REASON_TOO_LONG % {"max": REASON_MAX_LENGTH}, field="reason")
    locked_request, technicians, _qualified, locked = _appointment_lock(job=job)
    now = clock.now()
    zone = ZoneInfo(Organisation.current().time_zone)
    _appointment_changeable(job=locked, actor=actor, now=now, zone=zone)
    window_start, window_end = cast(datetime, locked.visit_start), cast(datetime, locked.visit_end)
    technician = technicians[cast(int, locked.technician_id)]
    locked.status = Job.Status.CANCELLED
    locked.outcome_note = reason
    locked.save(update_fields=["status", "outcome_note"])
    day = window_start.astimezone(zone).date()
    try:
        _day_routes_store(
            technician=technician,
            day=day,
            now=now,
            zone=zone,
            travel=SourceTravel(travel_source_for(PlanningSettings.current())),
            skip=set(),
        )
    except TravelTimeError:
        # The cancellation holds without travel times; the others' stored
        # times stay (they could only get earlier) until travel times are back.
        pass
    event_record(
        case_id=locked_request.case_id,
        activity="appointment.cancelled",
        actor=actor,
        channel=channel,
        layer=_layer(channel),
        attributes={
            "request": locked_request.reference,
            "customer": locked_request.customer_id,
            "job": locked.pk,
            "technician": technician.pk,
            "window_start": window_start.isoformat(),
            "window_end": window_end.isoformat(),
            "reason": reason,
            "self_service": _self_service(locked_request, actor),
        },
    )
    _reoptimise_on_commit({day})
    return locked


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
