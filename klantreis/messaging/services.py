"""Sending messages: one row per message, written before the provider is
called; retries with backoff; handing over to the next channel when a
message fails or is not delivered in time; every step in the event log."""

import base64
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from klantreis.accounts.models import User
from klantreis.core import clock
from klantreis.core.errors import ApplicationError
from klantreis.customers.models import Customer
from klantreis.events.models import Event
from klantreis.events.services import event_record_many
from klantreis.messaging.channels.base import (
    Attachment,
    ChannelError,
    DeliveryReport,
    OutgoingMessage,
    SendResult,
)
from klantreis.messaging.channels.registry import channel_get
from klantreis.messaging.models import Message

MAX_ATTEMPTS = 5


def sending_lease() -> timedelta:
    """How long a send may take before it is tried again (settings.KLANTREIS_LEASE_SECONDS)."""
    return timedelta(seconds=settings.KLANTREIS_LEASE_SECONDS)


BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(hours=1))
EVENT_CHANNEL = {
    Message.Channel.EMAIL: Event.Channel.EMAIL,
    Message.Channel.SMS: Event.Channel.SMS,
    Message.Channel.WHATSAPP: Event.Channel.WHATSAPP,
    Message.Channel.INAPP: Event.Channel.PORTAL,
}
STATUS_ORDER = {
    Message.Status.QUEUED: 0,
    Message.Status.SENDING: 1,
    Message.Status.SENT: 2,
    Message.Status.DELIVERED: 3,
    Message.Status.READ: 4,
    Message.Status.FAILED: 5,
}

# What only a provider's report sets; a send outcome never overwrites it.
REPORTED_STATUSES = frozenset({Message.Status.DELIVERED, Message.Status.READ, Message.Status.FAILED})

MESSAGE_NOT_FAILED = _("Only a failed message can be sent again.")


@dataclass(frozen=True)
class MessageDraft:
    """What a caller wants said; the channel is chosen from `channels`."""

    idempotency_key: str
    customer: Customer
    case_id: str
    source: str
    channels: Sequence[str]
    language: str
    subject: str
    text: str
    html: str = ""
    attachments: tuple[Attachment, ...] = ()
    fallback_after: timedelta | None = None
    status_callback_url: str = ""
    essential: bool = False


def recipient_for(*, customer: Customer, channel: str) -> str | None:
    """Where a channel reaches the customer, if they can be and may be reached there."""
    match channel:
        case Message.Channel.EMAIL:
            return customer.email if customer.consent_email and customer.email else None
        case Message.Channel.SMS:
            return customer.phone if customer.consent_sms and customer.phone else None
        case Message.Channel.WHATSAPP:
            return customer.phone if customer.consent_whatsapp and customer.phone else None
        case Message.Channel.INAPP:
            return str(customer.pk)
    return None


def channels_resolve(*, customer: Customer, policy: Sequence[str]) -> list[str]:
    """The policy's channels in order, `preferred` replaced by the customer's
    preference, without the ones the customer cannot or may not be reached on."""
    resolved: list[str] = []
    for name in policy:
        channel = customer.preferred_channel if name == "preferred" else name
        if channel in Message.Channel.values and channel not in resolved:
            if recipient_for(customer=customer, channel=channel) is not None:
                resolved.append(channel)
    return resolved


def messages_prepare(*, drafts: Sequence[MessageDraft]) -> list[Message]:
    """Write the rows (queued) for drafts; a draft whose key already has a row
    gets that row back, so preparing twice never means sending twice.
    Drafts with no usable channel come back as failed rows."""
    now = clock.now()
    keys = [draft.idempotency_key for draft in drafts]
    existing = {
        message.idempotency_key: message for message in Message.objects.filter(idempotency_key__in=keys)
    }
    new: list[Message] = []
    for draft in drafts:
        if draft.idempotency_key in existing:
            continue
        channels = channels_resolve(customer=draft.customer, policy=draft.channels)
        first = channels[0] if channels else Message.Channel.INAPP
        new.append(
            Message(
                idempotency_key=draft.idempotency_key,
                customer=draft.customer,
                case_id=draft.case_id,
                source=draft.source,
                channel=first,
                recipient=recipient_for(customer=draft.customer, channel=first) or "",
                language=draft.language,
                subject=draft.subject[:200],
                text=draft.text,
                html=draft.html,
                attachments=[
                    {
                        "filename": a.filename,
                        "mimetype": a.mimetype,
                        "content": base64.b64encode(a.content).decode(),
                    }
                    for a in draft.attachments
                ],
                fallback_channels=channels[1:],
                fallback_after=draft.fallback_after,
                essential=draft.essential,
                created_at=now,
            )
        )
    if new:
        try:
            with transaction.atomic():
                Message.objects.bulk_create(new)
        except IntegrityError:
            # Another worker wrote some of them meanwhile: take theirs.
            for message in new:
                Message.objects.get_or_create(
                    idempotency_key=message.idempotency_key, defaults=_fields(message)
                )
    rows = {message.idempotency_key: message for message in Message.objects.filter(idempotency_key__in=keys)}
    return [rows[key] for key in keys]


def _fields(message: Message) -> dict[str, Any]:
    return {
        f.attname: getattr(message, f.attname)
        for f in Message._meta.concrete_fields
        if f.attname not in ("id", "idempotency_key")
    }


def _outgoing(message: Message) -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key=message.idempotency_key,
        to=message.recipient,
        language=message.language,
        subject=message.subject,
        text=message.text,
        html=message.html if message.channel == Message.Channel.EMAIL else "",
        attachments=tuple(
            Attachment(filename=a["filename"], content=base64.b64decode(a["content"]), mimetype=a["mimetype"])
            for a in message.attachments
        )
        if message.channel == Message.Channel.EMAIL
        else (),
        # Twilio reports an SMS's fate only to the callback URL given with each send.
        status_callback_url=settings.SITE_URL + reverse("messaging:twilio_status")
        if message.channel == Message.Channel.SMS
        else "",
    )


def _event(message: Message, activity: str, now: datetime, **attributes: Any) -> Event | None:
    if not message.case_id:
        return None
    return Event(
        case_id=message.case_id,
        activity=activity,
        occurred_at=now,
        actor=None,
        role="system",
        channel=EVENT_CHANNEL.get(Message.Channel(message.channel), Event.Channel.SYSTEM),
        layer=Event.Layer.DIGITAL,
        attributes={
            "message": message.pk,
            "key": message.idempotency_key,
            "source": message.source,
            "channel": message.channel,
            **attributes,
        },
    )


def messages_send(*, messages: Sequence[Message]) -> None:
    """Hand queued messages to their channels and record what happened.

    Marked `sending` (and the attempt counted) in one transaction before the
    provider is called, the outcome written in another after: a crash in
    between leaves `sending` rows that `messages_recover` sends again under
    the same idempotency key.
    """
    sendable = [m for m in messages if m.status in (Message.Status.QUEUED, Message.Status.SENDING)]
    failed_at_once = [m for m in sendable if not m.recipient]
    sendable = [m for m in sendable if m.recipient]
    now = clock.now()
    if failed_at_once:
        _fail(failed_at_once, reason="no channel reaches this customer", now=now)
    if not sendable:
        return
    with transaction.atomic():
        # The lease: if this worker dies before recording the outcome,
        # `messages_retry_due` sends again (same key) once it has run out.
        Message.objects.filter(pk__in=[m.pk for m in sendable]).update(
            status=Message.Status.SENDING, next_attempt_at=now + sending_lease()
        )
    by_channel: dict[str, list[Message]] = defaultdict(list)
    for message in sendable:
        message.attempts += 1
        by_channel[message.channel].append(message)
    outcomes: list[tuple[Message, SendResult | ChannelError]] = []
    for channel_name, batch in by_channel.items():
        channel = channel_get(channel_name)
        results = channel.send_many([_outgoing(message) for message in batch])
        outcomes.extend(zip(batch, results, strict=True))
    _outcomes_store(outcomes)


def _outcomes_store(outcomes: list[tuple[Message, SendResult | ChannelError]]) -> None:
    now = clock.now()
    events: list[Event | None] = []
    fallbacks: list[Message] = []
    with transaction.atomic():
        # Lock the batch's rows first: a delivery report that came before
        # this outcome (found by its echoed key) has moved the message on
        # already, and one arriving now waits for this commit.
        reported = {
            pk: (status, delivered_at, read_at, last_error)
            for pk, status, delivered_at, read_at, last_error in Message.objects.select_for_update()
            .filter(pk__in=[m.pk for m, _ in outcomes])
            .values_list("pk", "status", "delivered_at", "read_at", "last_error")
            if status in REPORTED_STATUSES
        }
        for message, result in outcomes:
            if isinstance(result, SendResult):
                message.provider_message_id = result.provider_message_id[:200]
                message.sent_at = now
                message.last_error = ""
                message.next_attempt_at = None
                if message.pk in reported:
                    message.status, message.delivered_at, message.read_at, message.last_error = reported[
                        message.pk
                    ]
                    message.check_at = None
                    events.append(_event(message, "message.sent", now, attempt=message.attempts))
                    continue
                if result.final:
                    message.status = Message.Status.DELIVERED
                    message.delivered_at = now
                    message.check_at = None
                else:
                    message.status = Message.Status.SENT
                    message.check_at = (
                        now + message.fallback_after
                        if message.fallback_after and message.fallback_channels
                        else None
                    )
                events.append(_event(message, "message.sent", now, attempt=message.attempts))
                if result.final:
                    events.append(_event(message, "message.delivered", now))
                continue
            message.last_error = str(result)[:500]
            if result.permanent or message.attempts >= MAX_ATTEMPTS:
                message.status = Message.Status.FAILED
                message.next_attempt_at = None
                events.append(_event(message, "message.failed", now, error=message.last_error))
                fallbacks.append(message)
            else:
                message.status = Message.Status.QUEUED
                delay = BACKOFF[min(message.attempts - 1, len(BACKOFF) - 1)]
                if result.retry_after_seconds:
                    delay = max(delay, timedelta(seconds=result.retry_after_seconds))
                message.next_attempt_at = now + delay
        _outcomes_write([m for m, _ in outcomes])
        event_record_many([e for e in events if e is not None])
        handed_over = [_fallback_create(message, now=now) for message in fallbacks]
    ready = [m for m in handed_over if m is not None]
    if ready:
        messages_send(messages=ready)


OUTCOME_FIELDS = (
    "status",
    "attempts",
    "sent_at",
    "delivered_at",
    "read_at",
    "check_at",
    "next_attempt_at",
    "last_error",
)


def _outcomes_write(messages: list[Message]) -> None:
    """Write a batch's outcomes with one UPDATE per distinct outcome (a batch
    sent at one moment mostly shares it); `bulk_update`'s CASE per row and
    field costs more than the send itself at these volumes."""
    groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    singles: list[Message] = []
    for message in messages:
        if message.provider_message_id in ("", message.idempotency_key):
            values = (*(getattr(message, name) for name in OUTCOME_FIELDS), bool(message.provider_message_id))
            groups[values].append(message.pk)
        else:
            singles.append(message)
    for values, pks in groups.items():
        *fields, provider_is_key = values
        Message.objects.filter(pk__in=pks).update(
            **dict(zip(OUTCOME_FIELDS, fields, strict=True)),
            provider_message_id=F("idempotency_key") if provider_is_key else "",
        )
    if singles:
        Message.objects.bulk_update(singles, fields=[*OUTCOME_FIELDS, "provider_message_id"])


def _fail(messages: list[Message], *, reason: str, now: datetime) -> None:
    with transaction.atomic():
        for message in messages:
            message.status = Message.Status.FAILED
            message.last_error = reason
        Message.objects.bulk_update(messages, fields=["status", "last_error"])
        event_record_many([e for m in messages if (e := _event(m, "message.failed", now, error=reason))])


def _fallback_create(message: Message, *, now: datetime) -> Message | None:
    """The same words over the next channel of the policy (if any is left)."""
    if Message.objects.filter(fallback_of=message).exists():
        return None
    remaining = list(message.fallback_channels)
    customer = message.customer
    while remaining and customer is not None:
        channel = remaining.pop(0)
        recipient = recipient_for(customer=customer, channel=channel)
        if recipient is None:
            continue
        return Message.objects.create(
            # "." not ":": e-mail carries the key in its Message-ID, where a
            # colon is not allowed (RFC 5322 3.6.4) and parsers cut the id short.
            idempotency_key=f"{message.idempotency_key}.{channel}"[:80],
            customer=customer,
            case_id=message.case_id,
            source=message.source,
            channel=channel,
            recipient=recipient,
            language=message.language,
            subject=message.subject,
            text=message.text,
            html=message.html,
            attachments=message.attachments,
            essential=message.essential,
            fallback_channels=remaining,
            fallback_after=message.fallback_after,
            fallback_of=message,
            created_at=now,
            # Sent straight away; should that not happen, the retry loop takes it.
            next_attempt_at=now + sending_lease(),
        )
    return None


def delivery_reports_apply(*, channel: str, reports: Sequence[DeliveryReport]) -> int:
    """A provider told us how messages fared. Statuses only move forward
    (a late 'sent' never undoes 'delivered'); a failure hands over to the
    next channel. Returns how many messages changed."""
    changed = 0
    handed_over: list[Message] = []
    now = clock.now()
    with transaction.atomic():
        for report in reports:
            message = _reported_message(channel, report)
            if message is None:
                continue
            if not message.provider_message_id:
                # Reported before the send's outcome was stored: the outcome
                # (written under the same row locks) keeps this status.
                message.provider_message_id = report.provider_message_id[:200]
            new = Message.Status(report.status)
            current = Message.Status(message.status)
            if current == Message.Status.FAILED or STATUS_ORDER[new] <= STATUS_ORDER[current]:
                continue
            message.status = new
            events: list[Event | None] = []
            if new == Message.Status.DELIVERED or (new == Message.Status.READ and not message.delivered_at):
                message.delivered_at = report.occurred_at
                events.append(_event(message, "message.delivered", report.occurred_at))
            if new == Message.Status.READ:
                message.read_at = report.occurred_at
                events.append(_event(message, "message.read", report.occurred_at))
            if new == Message.Status.FAILED:
                message.last_error = report.error[:500]
                events.append(_event(message, "message.failed", report.occurred_at, error=message.last_error))
            message.check_at = None
            message.save(
                update_fields=[
                    "status",
                    "delivered_at",
                    "read_at",
                    "last_error",
                    "check_at",
                    "provider_message_id",
                ]
            )
            event_record_many([e for e in events if e is not None])
            if new == Message.Status.FAILED:
                fallback = _fallback_create(message, now=now)
                if fallback is not None:
                    handed_over.append(fallback)
            changed += 1
    if handed_over:
        # Not in the provider's webhook call: a worker tries the next channel.
        from klantreis.messaging.tasks import messages_send_task  # the task module imports this one

        ids = [message.pk for message in handed_over]
        transaction.on_commit(lambda: messages_send_task.enqueue(ids))
    return changed


def _reported_message(channel: str, report: DeliveryReport) -> Message | None:
    """The message a report is about: by the provider's id, or, when the
    report came before that id was stored, by our key echoed back."""
    messages = Message.objects.select_for_update()
    message = messages.filter(channel=channel, provider_message_id=report.provider_message_id).first()
    if message is None and report.client_reference:
        message = messages.filter(
            channel=channel, idempotency_key=report.client_reference, provider_message_id=""
        ).first()
    return message


def messages_undelivered_hand_over(*, limit: int = 200) -> int:
    """Messages still not delivered when their check time came: try the next channel."""
    now = clock.now()
    handed_over: list[Message] = []
    with transaction.atomic():
        due = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(status=Message.Status.SENT, check_at__lte=now)
            .order_by("check_at")[:limit]
        )
        for message in due:
            message.check_at = None
            message.save(update_fields=["check_at"])
            event = _event(message, "message.not_delivered_in_time", now)
            if event is not None:
                event_record_many([event])
            fallback = _fallback_create(message, now=now)
            if fallback is not None:
                handed_over.append(fallback)
    if handed_over:
        messages_send(messages=handed_over)
    return len(due)


def messages_retry_due(*, limit: int = 200) -> int:
    """Send again what waits for a retry, and what a crashed worker left in `sending`."""
    now = clock.now()
    with transaction.atomic():
        due = list(
            Message.objects.select_for_update(skip_locked=True)
            .filter(status__in=[Message.Status.QUEUED, Message.Status.SENDING], next_attempt_at__lte=now)
            .order_by("next_attempt_at")[:limit]
        )
        Message.objects.filter(pk__in=[m.pk for m in due]).update(next_attempt_at=now + sending_lease())
    if due:
        messages_send(messages=due)
    return len(due)


def message_retry(*, message: Message, actor: User) -> Message:
    """An admin sends a failed message again (same key: the provider can tell it is the same)."""
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=message.pk)
        if locked.status != Message.Status.FAILED:
            raise ApplicationError(MESSAGE_NOT_FAILED, field="status")
        locked.status = Message.Status.QUEUED
        locked.attempts = 0
        locked.next_attempt_at = None
        if not locked.recipient and locked.customer is not None:
            locked.recipient = recipient_for(customer=locked.customer, channel=locked.channel) or ""
        locked.save(update_fields=["status", "attempts", "next_attempt_at", "recipient"])
        if locked.case_id:
            event = _event(locked, "message.retried", clock.now())
            if event is not None:
                event.actor = actor
                event.role = actor.role
                event.layer = Event.Layer.HUMAN
                event_record_many([event])
    messages_send(messages=[locked])
    locked.refresh_from_db()
    return locked
