"""Writes of the technician app. Each status update carries the key its form
was rendered with; `_once` records the key in the same transaction as the
update, so a phone that sends an update again (its connection dropped before
the answer came) changes nothing the second time."""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from klantreis.accounts.models import User
from klantreis.core import clock
from klantreis.core.errors import ApplicationError
from klantreis.events.models import Event
from klantreis.events.services import event_record
from klantreis.field.models import FieldUpdate, VisitPhoto
from klantreis.intake.photos import PreparedPhoto, photos_prepare
from klantreis.planning.models import Job, Technician
from klantreis.planning.services import appointment_book, job_arrive, job_complete, technician_on_the_way

MESSAGE_KEY_REUSED = _("This update was already used for another action. Please reload the page.")
MESSAGE_NO_TECHNICIAN = _("This visit has no technician yet.")
MESSAGE_REASON_MISSING = _("Please say why it could not be fixed.")
MESSAGE_FOLLOW_UP_NOT_NEEDED = _("A follow-up visit is only booked after a visit that did not fix it.")

FOLLOW_UP_STATUSES = frozenset({Job.Status.NOT_FIXED, Job.Status.NOT_HOME})


@dataclass(frozen=True)
class Applied:
    job: Job
    replayed: bool  # the key was seen before: nothing changed now
    follow_up: Job | None = None


def _technician(job: Job) -> Technician:
    if job.technician is None:
        raise ApplicationError(MESSAGE_NO_TECHNICIAN, field="job")
    return job.technician


def _once(*, key: uuid.UUID, job: Job, action: str, user: User, apply: Callable[[], Job | None]) -> bool:
    """Apply an update once per key; True when it was applied now. A refused
    update (ApplicationError) leaves no key behind, so it can be corrected."""
    with transaction.atomic():
        seen = FieldUpdate.objects.filter(key=key).first()
        if seen is None:
            try:
                # Claimed before applying: a second request with the same key
                # waits on the unique index until this one commits.
                with transaction.atomic():
                    FieldUpdate.objects.create(
                        key=key, job=job, action=action, user=user, created_at=clock.now()
                    )
            except IntegrityError:
                seen = FieldUpdate.objects.filter(key=key).first()
        if seen is not None:
            if seen.job_id != job.pk or seen.action != action:
                raise ApplicationError(MESSAGE_KEY_REUSED, field="key")
            return False
        apply()
        return True


def visit_on_the_way(
    *, job: Job, user: User, key: uuid.UUID, latitude: float | None = None, longitude: float | None = None
) -> Applied:
    """The technician sets off: the customer hears the arrival estimate. The
    phone's position when it sent one, else the last known position, else
    where the technician's day starts."""
    technician = _technician(job)
    if latitude is None or longitude is None:
        if technician.last_latitude is not None and technician.last_longitude is not None:
            latitude, longitude = technician.last_latitude, technician.last_longitude
        else:
            latitude, longitude = technician.start_latitude, technician.start_longitude
    applied = _once(
        key=key,
        job=job,
        action=FieldUpdate.Action.ON_THE_WAY,
        user=user,
        apply=lambda: technician_on_the_way(
            job=job, technician=technician, actor=user, latitude=latitude, longitude=longitude
        ),
    )
    return Applied(job=_reload(job), replayed=not applied)


def visit_arrive(*, job: Job, user: User, key: uuid.UUID) -> Applied:
    technician = _technician(job)
    applied = _once(
        key=key,
        job=job,
        action=FieldUpdate.Action.ARRIVED,
        user=user,
        apply=lambda: job_arrive(job=job, technician=technician, actor=user),
    )
    return Applied(job=_reload(job), replayed=not applied)


def visit_complete(
    *,
    job: Job,
    user: User,
    key: uuid.UUID,
    status: str,
    not_fixed_reason: str = "",
    note: str = "",
    materials: str = "",
    photos: Sequence[UploadedFile[bytes]] = (),
) -> Applied:
    """How the visit ended, with what was used and photos of the work."""
    if status == Job.Status.NOT_FIXED and not not_fixed_reason:
        raise ApplicationError(MESSAGE_REASON_MISSING, field="not_fixed_reason")
    if status != Job.Status.NOT_FIXED:
        not_fixed_reason = ""
    # Decoding and re-encoding images is slow: before any lock is taken.
    prepared = photos_prepare(list(photos))

    def apply() -> Job:
        completed = job_complete(
            job=job,
            status=status,
            actor=user,
            note=note,
            not_fixed_reason=not_fixed_reason,
            materials=materials,
        )
        _photos_store(job=completed, user=user, photos=prepared)
        return completed

    applied = _once(key=key, job=job, action=FieldUpdate.Action.COMPLETED, user=user, apply=apply)
    return Applied(job=_reload(job), replayed=not applied)


def _photos_store(*, job: Job, user: User, photos: Sequence[PreparedPhoto]) -> None:
    if not photos:
        return
    now = clock.now()
    for photo in photos:
        VisitPhoto.objects.create(
            job=job,
            image=photo.content,
            content_type=photo.content_type,
            size_bytes=photo.size,
            width=photo.width,
            height=photo.height,
            uploaded_at=now,
            uploaded_by=user,
        )
    event_record(
        case_id=job.request.case_id,
        activity="visit.photos_added",
        actor=user,
        channel=Event.Channel.ON_SITE,
        layer=Event.Layer.PHYSICAL,
        occurred_at=now,
        attributes={"request": job.request.reference, "job": job.pk, "photos": len(photos)},
    )


def visit_follow_up_book(
    *, job: Job, user: User, key: uuid.UUID, window_start: datetime, window_end: datetime
) -> Applied:
    """Book the next visit with the customer at the door, after one that did
    not fix it (or found nobody home)."""
    if job.status not in FOLLOW_UP_STATUSES:
        raise ApplicationError(MESSAGE_FOLLOW_UP_NOT_NEEDED, field="slot")
    booked: list[Job] = []

    def apply() -> Job:
        follow_up = appointment_book(
            request=job.request,
            window_start=window_start,
            window_end=window_end,
            actor=user,
            channel=Event.Channel.ON_SITE,
        )
        booked.append(follow_up)
        return follow_up

    applied = _once(key=key, job=job, action=FieldUpdate.Action.FOLLOW_UP, user=user, apply=apply)
    return Applied(job=_reload(job), replayed=not applied, follow_up=booked[0] if booked else None)


def _reload(job: Job) -> Job:
    job.refresh_from_db()
    return job
