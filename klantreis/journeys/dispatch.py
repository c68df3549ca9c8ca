"""The dispatcher: claims due touchpoints and carries them out.

Claiming is safe with any number of dispatchers: `SELECT … FOR UPDATE SKIP
LOCKED` on PostgreSQL, a conditional update on SQLite (one writer at a
time). A claim is a lease: rows a crashed worker held are given back after
the lease (`KLANTREIS_LEASE_SECONDS`) and carried out again; the message rows they wrote keep their
idempotency keys, so a repeat is recognisable (and deduplicated by providers
that honour the key).

Carrying out a batch: quiet hours and expiry are checked again (the row may
have waited), the frequency cap applied, messages rendered in the
customer's language and handed to `messaging` in one go per channel (one
SMTP connection for the batch), human touchpoints become staff tasks, and
every outcome is written to the event log.
"""

import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Min
from django.urls import reverse

from klantreis.core import clock
from klantreis.core.models import Organisation
from klantreis.customers.models import Home
from klantreis.events.models import Event
from klantreis.events.services import event_record_many
from klantreis.feedback.services import survey_issue
from klantreis.journeys.definition import MOMENT, SURVEYS, TouchpointSpec
from klantreis.journeys.models import JourneyInstance, JourneySettings, ScheduledTouchpoint, StaffTask
from klantreis.journeys.render import (
    appointment_ics,
    html_for,
    language_for,
    request_page_url,
    template_values,
)
from klantreis.journeys.services import (
    expires_at,
    quiet_hours_for,
    spec_for,
    touchpoint_armed_at,
    touchpoint_event,
    zone_for,
)
from klantreis.journeys.timing import moment_read, timing_compute
from klantreis.messaging.models import Message
from klantreis.messaging.services import MessageDraft, messages_prepare, messages_send


def claim_lease() -> timedelta:
    """How long a claim holds before it is given back (settings.KLANTREIS_LEASE_SECONDS)."""
    return timedelta(seconds=settings.KLANTREIS_LEASE_SECONDS)


SURVEY_VALID = timedelta(days=14)
# "How was this moment?" is about a moment just past: asked for days, not weeks.
MOMENT_VALID = timedelta(days=3)


def touchpoints_claim(*, limit: int, now: datetime | None = None) -> str | None:
    """Claim up to `limit` due touchpoints; returns the claim token (None: nothing due)."""
    token, claimed = _claim(limit=limit, now=now or clock.now())
    return token if claimed else None


def _claim(*, limit: int, now: datetime) -> tuple[str, int]:
    token = uuid.uuid4().hex
    due = ScheduledTouchpoint.objects.filter(state=ScheduledTouchpoint.State.SCHEDULED, due_at__lte=now)
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            ids = list(
                due.select_for_update(skip_locked=True)
                .order_by("due_at")
                .values_list("pk", flat=True)[:limit]
            )
            if not ids:
                return token, 0
            claimed = ScheduledTouchpoint.objects.filter(pk__in=ids).update(
                state=ScheduledTouchpoint.State.CLAIMED, claim=token, claimed_at=now
            )
        else:
            ids = list(due.order_by("due_at").values_list("pk", flat=True)[:limit])
            claimed = ScheduledTouchpoint.objects.filter(
                pk__in=ids, state=ScheduledTouchpoint.State.SCHEDULED
            ).update(state=ScheduledTouchpoint.State.CLAIMED, claim=token, claimed_at=now)
    return token, claimed


def touchpoints_reap(*, now: datetime | None = None) -> int:
    """Give back touchpoints whose claim ran out (their worker died)."""
    now = now or clock.now()
    return ScheduledTouchpoint.objects.filter(
        state=ScheduledTouchpoint.State.CLAIMED, claimed_at__lt=now - claim_lease()
    ).update(state=ScheduledTouchpoint.State.SCHEDULED, claim="", claimed_at=None)


class _Batch:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.settings = JourneySettings.current()
        self.organisation = Organisation.current()
        self.events: list[Event] = []
        self.finished: list[ScheduledTouchpoint] = []
        self.deferred: list[ScheduledTouchpoint] = []
        self.drafts: list[tuple[ScheduledTouchpoint, MessageDraft]] = []
        self.tasks: list[StaffTask] = []
        self.sent_recently: dict[int, tuple[int, datetime | None]] = {}

    def finish(self, row: ScheduledTouchpoint, state: str, outcome: str, activity: str | None = None) -> None:
        row.state = state
        row.outcome = outcome[:200]
        row.finished_at = self.now
        self.finished.append(row)
        if activity:
            self.events.append(touchpoint_event(row, activity, self.now, reason=outcome))

    def defer(self, row: ScheduledTouchpoint, until: datetime, why: str) -> None:
        row.state = ScheduledTouchpoint.State.SCHEDULED
        row.claim = ""
        row.claimed_at = None
        row.due_at = until
        self.deferred.append(row)
        self.events.append(
            touchpoint_event(row, "touchpoint.deferred", self.now, reason=why, due=until.isoformat())
        )


def touchpoints_run(*, claim: str) -> int:
    """Carry out the touchpoints held by a claim. Safe to run twice: only
    rows still claimed by this token are touched."""
    rows = list(
        ScheduledTouchpoint.objects.select_related(
            "instance", "instance__definition", "instance__customer", "instance__customer__user"
        )
        .filter(claim=claim, state=ScheduledTouchpoint.State.CLAIMED)
        .order_by("due_at", "pk")
    )
    if not rows:
        return 0
    batch = _Batch(clock.now())
    customers = {row.instance.customer_id for row in rows if row.instance.customer_id}
    window_start = batch.now - timedelta(hours=batch.settings.cap_hours)
    for entry in (
        Message.objects.filter(
            customer_id__in=customers, created_at__gte=window_start, fallback_of__isnull=True, essential=False
        )
        .values("customer_id")
        .annotate(count=Count("pk"), oldest=Min("created_at"))
    ):
        batch.sent_recently[entry["customer_id"]] = (entry["count"], entry["oldest"])
    for row in rows:
        _carry_out(batch, row)
    # Messages first (their rows commit before any provider is called), then
    # the touchpoints' outcome with the events of the batch.
    messages = messages_prepare(drafts=[draft for _, draft in batch.drafts]) if batch.drafts else []
    fresh = [m for m in messages if m.status == Message.Status.QUEUED and m.attempts == 0]
    with transaction.atomic():
        for task in batch.tasks:
            task.save()
            batch.events.append(
                Event(
                    case_id=task.case_id,
                    activity="task.created",
                    occurred_at=batch.now,
                    role="system",
                    channel=Event.Channel.SYSTEM,
                    layer=Event.Layer.HUMAN,
                    attributes={
                        "task": task.pk,
                        "queue": task.queue,
                        "deadline": task.deadline.isoformat(),
                        "touchpoint": task.touchpoint.touchpoint if task.touchpoint else "",
                    },
                )
            )
        # One UPDATE per distinct outcome (the message is found by its key, tp-<pk>).
        finished: dict[tuple[str, str], list[int]] = defaultdict(list)
        for row in batch.finished:
            finished[(row.state, row.outcome)].append(row.pk)
        for (state, outcome), pks in finished.items():
            ScheduledTouchpoint.objects.filter(pk__in=pks).update(
                state=state, outcome=outcome, finished_at=batch.now, claim=""
            )
        ScheduledTouchpoint.objects.bulk_update(
            batch.deferred, fields=["state", "claim", "claimed_at", "due_at"]
        )
        event_record_many(batch.events)
    if fresh:
        messages_send(messages=fresh)
    return len(rows)


def _carry_out(batch: _Batch, row: ScheduledTouchpoint) -> None:
    instance = row.instance
    if instance.state != JourneyInstance.State.RUNNING:
        batch.finish(row, ScheduledTouchpoint.State.CANCELLED, "journey ended", "touchpoint.cancelled")
        return
    spec = spec_for(instance.definition)
    try:
        touchpoint = spec.touchpoint(row.touchpoint)
    except KeyError:  # pragma: no cover - versions are immutable
        batch.finish(row, ScheduledTouchpoint.State.SKIPPED, "unknown touchpoint", "touchpoint.skipped")
        return
    zone = zone_for(instance.customer)
    armed_at = touchpoint_armed_at(row)
    expiry = expires_at(touchpoint=touchpoint, anchors=instance.anchors, armed_at=armed_at, zone=zone)
    if expiry is not None and batch.now > expiry:
        batch.finish(row, ScheduledTouchpoint.State.SKIPPED, "expired", "touchpoint.skipped")
        return
    quiet = quiet_hours_for(instance=instance, settings=batch.settings)
    if touchpoint.layer == "human":
        _staff_task(batch, row, touchpoint, zone)
        return
    if touchpoint.layer == "physical" or not touchpoint.message:
        batch.finish(row, ScheduledTouchpoint.State.DONE, "nothing to send", "touchpoint.done")
        return
    if quiet is not None and not touchpoint.ignore_quiet_hours and quiet.contains(batch.now, zone):
        batch.defer(row, quiet.next_allowed(batch.now, zone), "quiet hours")
        return
    customer = instance.customer
    if customer is None:
        batch.finish(row, ScheduledTouchpoint.State.SKIPPED, "no customer", "touchpoint.skipped")
        return
    if not touchpoint.essential:
        count, oldest = batch.sent_recently.get(customer.pk, (0, None))
        if count >= batch.settings.cap_messages and oldest is not None:
            until = oldest + timedelta(hours=batch.settings.cap_hours)
            if quiet is not None:
                until = quiet.next_allowed(until, zone)
            batch.defer(row, until, "frequency cap")
            return
        batch.sent_recently[customer.pk] = (count + 1, oldest or batch.now)
    language = language_for(customer)
    key = f"tp-{row.pk}"
    survey_link = ""
    if touchpoint.survey:
        token = survey_issue(
            key=key,
            kind=touchpoint.survey,
            case_id=instance.case_id,
            customer=customer,
            language=language,
            expires_at=batch.now + (MOMENT_VALID if MOMENT in touchpoint.survey else SURVEY_VALID),
            touchpoint=touchpoint.id,
            topic=touchpoint.name,
        )
        survey_link = settings.SITE_URL + reverse("feedback:answer", kwargs={"token": token})
    values = template_values(
        customer=customer,
        attributes=instance.attributes,
        anchors=instance.anchors,
        context=row.context,
        zone=zone,
        language=language,
        organisation=batch.organisation,
        survey_link=survey_link,
    )
    subject, text = touchpoint.message[language].render(values)
    attachments = []
    if "appointment_ics" in touchpoint.attach:
        attachment = _ics(batch, instance, values, language)
        if attachment is not None:
            attachments.append(attachment)
    batch.drafts.append(
        (
            row,
            MessageDraft(
                idempotency_key=key,
                customer=customer,
                case_id=instance.case_id,
                source=f"journey:{instance.key}:{touchpoint.id}",
                channels=touchpoint.channels,
                language=language,
                subject=subject,
                text=text,
                html=html_for(text, subject=subject, language=language),
                attachments=tuple(attachments),
                fallback_after=touchpoint.fallback_after,
                essential=touchpoint.essential,
            ),
        )
    )
    batch.finish(row, ScheduledTouchpoint.State.DONE, "sent")


def _ics(batch: _Batch, instance: JourneyInstance, values: dict[str, str], language: str) -> Any:
    start = moment_read(instance.anchors.get("appointment.start"))
    end = moment_read(instance.anchors.get("appointment.end"))
    if start is None or end is None:
        return None
    home_id = instance.attributes.get("home")
    home = Home.objects.filter(pk=home_id).first() if isinstance(home_id, int) else None
    summary = (
        f"Monteur {batch.organisation.name} ({values['reference']})"
        if language == "nl"
        else f"Technician {batch.organisation.name} ({values['reference']})"
    )
    return appointment_ics(
        uid=f"{instance.case_id}@klantreis",
        start=start,
        end=end,
        summary=summary,
        # Calendars are shared and synced: the entry links to the page
        # behind the sign-in, never to a link that signs in by itself.
        description=request_page_url(values["reference"]),
        location=str(home) if home is not None else "",
        organisation=batch.organisation,
        # Grows with every later version of the entry (minutes since 1970).
        sequence=int(batch.now.timestamp()) // 60,
        stamp=batch.now,
    )


def _staff_task(batch: _Batch, row: ScheduledTouchpoint, touchpoint: TouchpointSpec, zone: Any) -> None:
    if touchpoint.task is None:  # pragma: no cover - the definition check requires it
        batch.finish(row, ScheduledTouchpoint.State.SKIPPED, "no task", "touchpoint.skipped")
        return
    armed_at = touchpoint_armed_at(row)
    deadline = timing_compute(touchpoint.task.deadline, anchor=armed_at, zone=zone)
    # A survey answer's first kind is `kind` and `score`; the other kinds it
    # asked (e.g. nps, ces) come under their own names.
    others = [kind for kind in SURVEYS if kind != row.context.get("kind")]
    details = {
        k: v
        for k, v in row.context.items()
        if k in ("score", "request", "survey", "kind", "comment_given", *others)
    }
    batch.tasks.append(
        StaffTask(
            instance=row.instance,
            touchpoint=row,
            queue=touchpoint.task.queue,
            title_nl=touchpoint.task.title["nl"],
            title_en=touchpoint.task.title["en"],
            case_id=row.instance.case_id,
            details=details,
            deadline=deadline,
            created_at=batch.now,
        )
    )
    batch.finish(row, ScheduledTouchpoint.State.DONE, "task created")


def dispatch(*, batch_size: int, max_batches: int = 50, run: Any = None) -> int:
    """Claim due touchpoints batch by batch and hand each batch to `run`
    (enqueue a task by default; tests and the benchmark may run inline).

    A batch smaller than `batch_size` took everything that was due, so the
    round ends there: what falls due meanwhile waits for the next round and
    goes out together, instead of one task per touchpoint (a task costs
    about as much as carrying out ten touchpoints)."""
    from klantreis.journeys.tasks import touchpoints_run_task

    claimed = 0
    for _ in range(max_batches):
        claim, count = _claim(limit=batch_size, now=clock.now())
        if not count:
            break
        if run is None:
            touchpoints_run_task.enqueue(claim)
        else:
            run(claim)
        claimed += 1
        if count < batch_size:
            break
    return claimed
