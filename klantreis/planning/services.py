"""Writes of the planning domain (the foundation part: giving a request to a
firm and a technician, and recording how a visit ended)."""

from datetime import datetime

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
