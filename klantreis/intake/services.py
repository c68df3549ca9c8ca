"""Writes of the intake domain. Both intakes (portal and phone) and the API
call `request_create`; the triage is walked again here, so what a browser
sends back can never choose its own urgency or specialism."""

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
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
from klantreis.intake.photos import MESSAGE_PHOTO_TOO_MANY, PreparedPhoto, photo_prepare, photos_prepare
from klantreis.intake.triage import LANGUAGES, TreeError, Walk, tree_validate, tree_walk

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
        _photo_store(request=request, photo=photo, actor=actor, at=now)
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


def _photo_store(*, request: RepairRequest, photo: PreparedPhoto, actor: User, at: datetime) -> RequestPhoto:
    return RequestPhoto.objects.create(
        request=request,
        image=photo.content,
        content_type=photo.content_type,
        size_bytes=photo.size,
        width=photo.width,
        height=photo.height,
        uploaded_at=at,
        uploaded_by=actor,
    )


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


MESSAGE_REQUEST_CLOSED = _("This request is closed; photos can no longer be added.")


def request_photo_add(
    *, request: RepairRequest, actor: User, upload: UploadedFile[bytes], channel: str
) -> RequestPhoto:
    """Add one photo to a reported request (the API sends photos one by one)."""

    # Decoding and re-encoding the image is slow: do it before taking the lock.
    prepared = photo_prepare(upload)
    with transaction.atomic():
        # The lock makes the count check hold when two uploads race.
        locked = RepairRequest.objects.select_for_update().get(pk=request.pk)
        if locked.status in (RepairRequest.Status.COMPLETED, RepairRequest.Status.CANCELLED):
            raise ApplicationError(MESSAGE_REQUEST_CLOSED, field="photo")
        max_count = settings.KLANTREIS_PHOTO_MAX_COUNT
        if locked.photos.count() >= max_count:
            raise ApplicationError(MESSAGE_PHOTO_TOO_MANY % {"max": max_count}, field="photo")
        now = clock.now()
        photo = _photo_store(request=locked, photo=prepared, actor=actor, at=now)
        event_channel, layer = CHANNEL_LAYER[RepairRequest.Channel(channel)]
        event_record(
            case_id=locked.case_id,
            activity="request.photo_added",
            actor=actor,
            channel=event_channel,
            layer=layer,
            occurred_at=now,
            attributes={
                "request": locked.reference,
                "photo": photo.pk,
                "content_type": photo.content_type,
                "size_bytes": photo.size_bytes,
                "photos": locked.photos.count(),
            },
        )
    return photo


INFORMATION_MAX = 2000
CLOSED_STATUSES = (RepairRequest.Status.COMPLETED, RepairRequest.Status.CANCELLED)

MESSAGE_INFORMATION_EMPTY = _("Please write something or add a photo.")
MESSAGE_INFORMATION_TOO_LONG = _("Please keep your text under %(max)d characters.")
MESSAGE_INFORMATION_CLOSED = _(
    "This request is closed, so nothing can be added to it. Please report a new problem or call us."
)


def request_information_add(
    *,
    request: RepairRequest,
    actor: User,
    text: str,
    photos: Sequence[UploadedFile[bytes]] = (),
    channel: str = RepairRequest.Channel.PORTAL,
) -> RepairRequest:
    """The customer adds words and/or photos to an open request afterwards
    (“it now leaks in the hall too”). The text is kept in the event, where
    the tenant's and the staff's history read it."""
    text = text.strip()
    if len(text) > INFORMATION_MAX:
        raise ApplicationError(MESSAGE_INFORMATION_TOO_LONG % {"max": INFORMATION_MAX}, field="text")
    if not text and not photos:
        raise ApplicationError(MESSAGE_INFORMATION_EMPTY, field="text")
    # Decoding and re-encoding images is slow: do it before taking the lock.
    prepared = photos_prepare(list(photos))
    with transaction.atomic():
        locked = RepairRequest.objects.select_for_update().get(pk=request.pk)
        if locked.status in CLOSED_STATUSES:
            raise ApplicationError(MESSAGE_INFORMATION_CLOSED)
        max_count = settings.KLANTREIS_PHOTO_MAX_COUNT
        if prepared and locked.photos.count() + len(prepared) > max_count:
            raise ApplicationError(MESSAGE_PHOTO_TOO_MANY % {"max": max_count}, field="photos")
        now = clock.now()
        for photo in prepared:
            _photo_store(request=locked, photo=photo, actor=actor, at=now)
        event_channel, layer = CHANNEL_LAYER[RepairRequest.Channel(channel)]
        event_record(
            case_id=locked.case_id,
            activity="request.information_added",
            actor=actor,
            channel=event_channel,
            layer=layer,
            occurred_at=now,
            attributes={"request": locked.reference, "text": text, "photos": len(prepared)},
        )
    return locked


# --- Default triage trees -------------------------------------------------
# The shipped trees live as JSON in intake/data/triage/<slug>.json (format:
# intake/triage.py and docs/triage.md). Installing never touches a tree that
# exists unless asked to, so edits made in the admin survive a redeploy.


TRIAGE_DEFAULTS_DIR = Path(__file__).resolve().parent / "data" / "triage"
TRIAGE_DEFAULT_FIELDS = frozenset({"slug", "title", "hint", "defect_type", "position", "definition"})

MESSAGE_VERA_NOT_LOADED = _("Load the VERA codes first (manage.py load_vera).")
MESSAGE_DEFAULT_TREE_INVALID = _("Default triage tree %(file)s is invalid:\n%(errors)s")


def vera_code_checker() -> Callable[[str, str], bool]:
    """A `code_exists(kind, code)` for `tree_validate`: the VERA codes in
    force today. Expired codes (ZAN since 2023) may stay on old requests but
    must not be chosen by a tree."""
    today = clock.now().date()
    known = set(
        VeraCode.objects.exclude(valid_until__lte=today).values_list("kind", "code"),
    )
    return lambda kind, code: (kind, code) in known


def _triage_default_errors(
    data: Any, *, slug: str, code_exists: Callable[[str, str], bool]
) -> list[TreeError]:
    if not isinstance(data, dict):
        return [TreeError("$", str(_("must be an object with slug, title, defect_type and definition")))]
    errors = [
        TreeError(f"$.{extra}", str(_("unknown field")))
        for extra in sorted(set(data) - TRIAGE_DEFAULT_FIELDS)
    ]
    if data.get("slug") != slug:
        errors.append(TreeError("$.slug", str(_("must be %(slug)r, the name of the file")) % {"slug": slug}))
    for name, required, max_length in (("title", True, 120), ("hint", False, 200)):
        texts = data.get(name, None if required else {})
        if not isinstance(texts, dict):
            errors.append(TreeError(f"$.{name}", str(_("must give the text in Dutch (nl) and English (en)"))))
            continue
        for language in LANGUAGES:
            text = texts.get(language, "")
            if not isinstance(text, str) or (required and not text.strip()):
                errors.append(TreeError(f"$.{name}.{language}", str(_("text missing"))))
            elif len(text) > max_length:
                errors.append(
                    TreeError(
                        f"$.{name}.{language}",
                        str(_("at most %(max)d characters")) % {"max": max_length},
                    )
                )
    defect_type = data.get("defect_type")
    if not isinstance(defect_type, str) or not code_exists(VeraCode.Kind.DEFECT_TYPE, defect_type):
        errors.append(
            TreeError("$.defect_type", str(_("unknown VERA code %(code)r")) % {"code": defect_type})
        )
    position = data.get("position", 0)
    if not isinstance(position, int) or isinstance(position, bool) or not 0 <= position <= 32767:
        errors.append(TreeError("$.position", str(_("must be a whole number from 0 to 32767"))))
    errors += [
        TreeError("$.definition" + error.path[1:], error.message)
        for error in tree_validate(data.get("definition"), code_exists=code_exists)
    ]
    return errors


def _triage_default_read(path: Path, *, code_exists: Callable[[str, str], bool]) -> dict[str, Any]:
    shown = (
        path.name
        if path.parent != TRIAGE_DEFAULTS_DIR
        else str(path.relative_to(TRIAGE_DEFAULTS_DIR.parents[3]))
    )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        errors: list[TreeError] = [TreeError("$", str(error))]
    else:
        errors = _triage_default_errors(data, slug=path.stem, code_exists=code_exists)
    if errors:
        raise ApplicationError(
            MESSAGE_DEFAULT_TREE_INVALID
            % {"file": shown, "errors": "\n".join(f"  {error}" for error in errors)},
            field="definition",
        )
    result: dict[str, Any] = data
    return result


@transaction.atomic
def triage_tree_install_defaults(*, overwrite: bool = False, directory: Path = TRIAGE_DEFAULTS_DIR) -> int:
    """Create the shipped triage trees that are missing; with `overwrite`,
    also reset existing ones to the shipped version (their `active` flag
    stays as staff set it). Every file is validated before anything is
    written. Returns how many trees were created or reset."""
    if not VeraCode.objects.exists():
        raise ApplicationError(MESSAGE_VERA_NOT_LOADED)
    code_exists = vera_code_checker()
    defaults = [
        _triage_default_read(path, code_exists=code_exists) for path in sorted(directory.glob("*.json"))
    ]
    defect_types = {code.code: code for code in VeraCode.objects.filter(kind=VeraCode.Kind.DEFECT_TYPE)}
    written = 0
    for data in defaults:
        fields = {
            "title_nl": data["title"]["nl"],
            "title_en": data["title"]["en"],
            "hint_nl": data.get("hint", {}).get("nl", ""),
            "hint_en": data.get("hint", {}).get("en", ""),
            "defect_type": defect_types[data["defect_type"]],
            "position": data.get("position", 0),
            "definition": data["definition"],
        }
        tree = TriageTree.objects.select_for_update().filter(slug=data["slug"]).first()
        if tree is None:
            TriageTree.objects.create(slug=data["slug"], **fields)
        elif overwrite:
            for name, value in fields.items():
                setattr(tree, name, value)
            tree.save(update_fields=list(fields))
        else:
            continue
        written += 1
    return written
