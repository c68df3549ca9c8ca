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
