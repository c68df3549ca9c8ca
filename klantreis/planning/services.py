"""Writes of the planning domain (the foundation part: giving a request to a
firm and a technician, and recording how a visit ended)."""

from datetime import datetime
from typing import cast

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from klantreis.accounts.models import User
from klantreis.core import clock
from klantreis.core.errors import ApplicationError
from klantreis.events.models import Event
from klantreis.events.services import event_record
from klantreis.intake.models import RepairRequest
from klantreis.intake.services import request_status_change
from klantreis.planning.models import Firm, Job, Technician
from klantreis.planning.plan import epoch, moment, plan_for
from klantreis.planning.selectors import technician_list_for_specialism
from klantreis.planning.slots import PlannedStop, RouteState, book, offer_slots
from klantreis.planning.tasks import day_reoptimise_task

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
    if locked_request.status not in (RepairRequest.Status.REGISTERED, RepairRequest.Status.IN_PROGRESS):
        raise ApplicationError(MESSAGE_NOT_BOOKABLE, field="window")
    if locked_request.jobs.filter(status=Job.Status.OPEN).exists():
        raise ApplicationError(MESSAGE_ALREADY_BOOKED, field="window")
    technicians = list(
        technician_list_for_specialism(specialism=locked_request.specialism).select_for_update(of=("self",))
    )
    plan = plan_for(request=locked_request, now=clock.now(), technicians=technicians)
    wanted = (epoch(window_start), epoch(window_end))
    offers = [
        offer
        for offer in offer_slots(routes=plan.routes, request=plan.job, blocks=plan.blocks, travel=plan.travel)
        if (offer.window_start, offer.window_end) == wanted
    ]
    if not offers:
        raise ApplicationError(MESSAGE_SLOT_TAKEN, field="window")
    offer = offers[0]
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
