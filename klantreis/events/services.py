"""Writing the journey event log: one service, called inside the caller's
transaction so the event commits (or rolls back) with the change it tells of."""

from datetime import datetime
from typing import Any

from django.db import transaction

from klantreis.accounts.models import User
from klantreis.core import clock
from klantreis.events.models import Event


def event_record(
    *,
    case_id: str,
    activity: str,
    actor: User | None,
    channel: str,
    layer: str,
    attributes: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
    role: str | None = None,
) -> Event:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("event_record must run inside the transaction of the change it records")
    return Event.objects.create(
        case_id=case_id,
        activity=activity,
        occurred_at=occurred_at or clock.now(),
        actor=actor,
        role=role or (actor.role if actor is not None else "system"),
        channel=channel,
        layer=layer,
        attributes=attributes or {},
    )


def event_record_many(events: list[Event]) -> list[Event]:
    """Write several unsaved events at once (the dispatcher records a batch of
    sends this way). Same rule as `event_record`: inside the change's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("event_record_many must run inside the transaction of the change it records")
    for event in events:
        if event.pk is not None or not event.case_id or not event.activity:
            raise ValueError("event_record_many takes new events with a case and an activity")
    return Event.objects.bulk_create(events)
