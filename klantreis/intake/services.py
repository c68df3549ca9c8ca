"""Writes of the intake domain. Both intakes (portal and phone) and the API
call `request_create`; the triage is walked again here, so what a browser
sends back can never choose its own urgency or specialism."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from klantreis.accounts.models import User
from klantreis.core import clock
from klantreis.core.errors import ApplicationError
from klantreis.customers.models import Customer, Home
from klantreis.events.models import Event
from klantreis.events.services import event_record
from klantreis.intake.models import RepairRequest, RequestPhoto, TriageTree, VeraCode
from klantreis.intake.photos import photos_prepare
from klantreis.intake.triage import Walk, tree_walk

DESCRIPTION_MAX = 2000
NOTES_MAX = 4000

MESSAGE_NOT_YOUR_HOME = _("This address is not one of the customer's homes.")
MESSAGE_DESCRIPTION_EMPTY = _("Please describe the problem in a few words.")
MESSAGE_DESCRIPTION_TOO_LONG = _("Please keep the description under %(max)d characters.")
MESSAGE_NOTES_TOO_LONG = _("Please keep the notes under %(max)d characters.")
MESSAGE_TRIAGE_UNFINISHED = _("Please answer all the questions first.")
MESSAGE_UNKNOWN_LOCATION = _("Unknown defect location %(code)r.")
MESSAGE_UNKNOWN_DEFECT_TYPE = _("Unknown defect type %(code)r.")
MESSAGE_UNKNOWN_SPECIALISM = _("Unknown specialism %(code)r.")
MESSAGE_TREE_INACTIVE = _("This kind of problem can no longer be reported here.")
MESSAGE_INVALID_STATUS_CHANGE = _("A %(old)s request cannot become %(new)s.")

CHANNEL_LAYER = {
    RepairRequest.Channel.PORTAL: (Event.Channel.PORTAL, Event.Layer.DIGITAL),
    RepairRequest.Channel.PHONE: (Event.Channel.PHONE, Event.Layer.HUMAN),
    RepairRequest.Channel.API: (Event.Channel.API, Event.Layer.DIGITAL),
}


@dataclass(frozen=True)
class TriageResult:
    tree: TriageTree
    walk: Walk


def vera_code_get(*, kind: str, code: str, message: object) -> VeraCode:
    found = VeraCode.objects.filter(kind=kind, code=code).first()
    if found is None:
        raise ApplicationError(str(message) % {"code": code}, field=kind.lower())
    return found


def request_triage(*, tree: TriageTree, answers: Mapping[str, str]) -> TriageResult:
    if not tree.active:
        raise ApplicationError(MESSAGE_TREE_INACTIVE, field="tree")
    return TriageResult(tree=tree, walk=tree_walk(tree.definition, answers))


@transaction.atomic
def request_create(
    *,
    actor: User,
    customer: Customer,
    home: Home,
    channel: str,
    tree: TriageTree,
    answers: Mapping[str, str],
    defect_location_code: str,
    description: str,
    photos: Sequence[UploadedFile[bytes]] = (),
    agent_notes: str = "",
) -> RepairRequest:
    if not customer.tenancies.filter(home=home).exists():
        raise ApplicationError(MESSAGE_NOT_YOUR_HOME, field="home")
    description = description.strip()
    if not description:
        raise ApplicationError(MESSAGE_DESCRIPTION_EMPTY, field="description")
    if len(description) > DESCRIPTION_MAX:
        raise ApplicationError(MESSAGE_DESCRIPTION_TOO_LONG % {"max": DESCRIPTION_MAX}, field="description")
    agent_notes = agent_notes.strip()
    if len(agent_notes) > NOTES_MAX:
        raise ApplicationError(MESSAGE_NOTES_TOO_LONG % {"max": NOTES_MAX}, field="agent_notes")

    # The triage texts are stored in the reporter's language: it is their account.
    with translation.override(customer.language):
        walk = request_triage(tree=tree, answers=answers).walk
    outcome = walk.outcome
    if outcome is None:
        raise ApplicationError(MESSAGE_TRIAGE_UNFINISHED, field="answers")

    location = vera_code_get(
        kind=VeraCode.Kind.DEFECT_LOCATION,
        code=outcome.defect_location or defect_location_code,
        message=MESSAGE_UNKNOWN_LOCATION,
    )
    defect_type = (
        vera_code_get(
            kind=VeraCode.Kind.DEFECT_TYPE, code=outcome.defect_type, message=MESSAGE_UNKNOWN_DEFECT_TYPE
        )
        if outcome.defect_type
        else tree.defect_type
    )
    specialism = vera_code_get(
        kind=VeraCode.Kind.SPECIALISM, code=outcome.specialism, message=MESSAGE_UNKNOWN_SPECIALISM
    )
    prepared = photos_prepare(list(photos))

    now = clock.now()
    request = RepairRequest.objects.create(
        # A unique placeholder until the primary key gives the public reference.
        reference=f"tmp-{now.timestamp():.6f}"[:16],
        home=home,
        customer=customer,
        reported_by=actor,
        channel=channel,
        reported_at=now,
        description=description,
        triage_tree=tree,
        triage_answers=walk.as_record(),
        defect_type=defect_type,
        defect_location=location,
        specialism=specialism,
        urgency=outcome.urgency,
        urgency_reason=outcome.reason.get(customer.language) or outcome.reason["nl"],
        estimated_minutes=outcome.minutes,
        material=outcome.material,
        agent_notes=agent_notes,
    )
    request.reference = f"M{now:%y}-{request.pk:06d}"
    request.save(update_fields=["reference"])
    for photo in prepared:
        RequestPhoto.objects.create(
            request=request,
            image=photo.content,
            content_type=photo.content_type,
            size_bytes=photo.size,
            width=photo.width,
            height=photo.height,
            uploaded_at=now,
            uploaded_by=actor,
        )
    event_channel, layer = CHANNEL_LAYER[RepairRequest.Channel(channel)]
    event_record(
        case_id=request.case_id,
        activity="request.reported",
        actor=actor,
        channel=event_channel,
        layer=layer,
        occurred_at=now,
        attributes={
            "request": request.reference,
            "customer": customer.pk,
            "home": home.pk,
            "defect_type": defect_type.code,
            "defect_location": location.code,
            "specialism": specialism.code,
            "urgency": request.urgency,
            "estimated_minutes": request.estimated_minutes,
            "triage_tree": tree.slug,
            "triage_outcome": outcome.key,
            "photos": len(prepared),
        },
    )
    return request


ALLOWED_STATUS_CHANGES = {
    RepairRequest.Status.REGISTERED: {RepairRequest.Status.IN_PROGRESS, RepairRequest.Status.CANCELLED},
    RepairRequest.Status.IN_PROGRESS: {
        RepairRequest.Status.TECHNICALLY_DONE,
        RepairRequest.Status.CANCELLED,
    },
    RepairRequest.Status.TECHNICALLY_DONE: {RepairRequest.Status.COMPLETED, RepairRequest.Status.IN_PROGRESS},
    RepairRequest.Status.COMPLETED: set(),
    RepairRequest.Status.CANCELLED: set(),
}


@transaction.atomic
def request_status_change(
    *, request: RepairRequest, status: str, actor: User | None, channel: str, layer: str, note: str = ""
) -> RepairRequest:
    locked = RepairRequest.objects.select_for_update().get(pk=request.pk)
    old = RepairRequest.Status(locked.status)
    new = RepairRequest.Status(status)
    if new not in ALLOWED_STATUS_CHANGES[old]:
        raise ApplicationError(
            MESSAGE_INVALID_STATUS_CHANGE % {"old": old.label, "new": new.label}, field="status"
        )
    locked.status = new
    locked.save(update_fields=["status"])
    event_record(
        case_id=locked.case_id,
        activity="request.status_changed",
        actor=actor,
        channel=channel,
        layer=layer,
        attributes={"request": locked.reference, "from": old.value, "to": new.value, "note": note},
    )
    request.status = new
    return locked
