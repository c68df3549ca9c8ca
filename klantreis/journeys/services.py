"""The journey runtime's writes: saving definitions, and following the event
log — starting journeys, arming, re-timing and cancelling touchpoints.

The engine reads the log in id order with a durable cursor and handles each
event idempotently (a touchpoint occurrence is unique per arming event), so
replaying the log or running the consumer twice never schedules twice.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils.translation import gettext_lazy as _

from klantreis.accounts.models import User
from klantreis.core import clock
from klantreis.core.errors import ApplicationError
from klantreis.customers.models import Customer
from klantreis.events.models import Event
from klantreis.events.services import event_record, event_record_many
from klantreis.journeys.definition import (
    EVENT_ANCHOR,
    DefinitionError,
    JourneySpec,
    TouchpointSpec,
    definition_parse,
)
from klantreis.journeys.models import (
    EventCursor,
    JourneyDefinition,
    JourneyInstance,
    JourneySettings,
    ScheduledTouchpoint,
    StaffTask,
)
from klantreis.journeys.timing import QuietHours, moment_read, timing_compute

DEFAULTS_DIR = Path(__file__).resolve().parent / "data"
CURSOR = "journeys"
# A hole in the event ids is an event still being committed (or one rolled
# back, which never will be): wait this long for it before reading past it.
GAP_PATIENCE = timedelta(seconds=30)

MESSAGE_DEFINITION_INVALID = _("The journey definition has errors; the running version stays in use.")
MESSAGE_DEFINITION_KEY = _("This definition is for journey %(found)s, not %(expected)s.")
MESSAGE_TASK_DONE = _("This task is already done.")


@lru_cache(maxsize=64)
def _spec(definition_id: int, source: str) -> JourneySpec:
    return definition_parse(source)


def spec_for(definition: JourneyDefinition) -> JourneySpec:
    """The parsed definition (versions never change, so parse each once)."""
    return _spec(definition.pk, definition.source)


@transaction.atomic
def definition_save(
    *, source: str, actor: User | None, note: str = "", key: str | None = None
) -> JourneyDefinition:
    """Check a definition and make it the active version of its journey.

    An invalid definition is refused with every problem (line, field, reason)
    in `error.extra["problems"]`; the active version keeps running.
    """
    try:
        spec = definition_parse(source)
    except DefinitionError as error:
        raise ApplicationError(MESSAGE_DEFINITION_INVALID, field="source", problems=error.problems) from None
    if key is not None and spec.key != key:
        raise ApplicationError(MESSAGE_DEFINITION_KEY % {"found": spec.key, "expected": key}, field="source")
    versions = JourneyDefinition.objects.select_for_update().filter(key=spec.key)
    latest = versions.order_by("-version").first()
    versions.filter(active=True).update(active=False)
    return JourneyDefinition.objects.create(
        key=spec.key,
        version=(latest.version + 1) if latest else 1,
        source=source,
        active=True,
        created_at=clock.now(),
        created_by=actor,
        note=note,
    )


@transaction.atomic
def definitions_install_defaults() -> list[JourneyDefinition]:
    """Install the journeys that ship with klantreis, unless a version exists."""
    installed = []
    if not EventCursor.objects.filter(name=CURSOR).exists():
        # A new installation follows what happens from now on, not the history
        # it already has.
        last = Event.objects.order_by("-id").values_list("id", flat=True).first()
        EventCursor.objects.create(name=CURSOR, position=last or 0)
    for path in sorted(DEFAULTS_DIR.glob("*.yaml")):
        source = path.read_text()
        spec = definition_parse(source)
        if not JourneyDefinition.objects.filter(key=spec.key).exists():
            installed.append(definition_save(source=source, actor=None, note="shipped with klantreis"))
    return installed


def due_at(
    *,
    touchpoint: TouchpointSpec,
    anchors: dict[str, Any],
    event_at: datetime,
    zone: ZoneInfo,
    quiet: QuietHours | None,
) -> datetime | None:
    """When a touchpoint is due: its timing from its anchor, moved out of
    quiet hours (None for quiet when the case is exempt). None when the
    anchor is not known (yet)."""
    anchor = (
        event_at if touchpoint.at.anchor == EVENT_ANCHOR else moment_read(anchors.get(touchpoint.at.anchor))
    )
    if anchor is None:
        return None
    moment = timing_compute(touchpoint.at, anchor=anchor, zone=zone)
    if quiet is not None and touchpoint.layer != "human" and not touchpoint.ignore_quiet_hours:
        moment = quiet.next_allowed(moment, zone)
    return moment


def expires_at(
    *, touchpoint: TouchpointSpec, anchors: dict[str, Any], armed_at: datetime, zone: ZoneInfo
) -> datetime | None:
    if touchpoint.expires is None:
        return None
    anchor = (
        armed_at
        if touchpoint.expires.anchor == EVENT_ANCHOR
        else moment_read(anchors.get(touchpoint.expires.anchor))
    )
    return None if anchor is None else timing_compute(touchpoint.expires, anchor=anchor, zone=zone)


def quiet_hours_for(*, instance: JourneyInstance, settings: JourneySettings) -> QuietHours | None:
    if settings.emergencies_exempt and instance.attributes.get("urgency") == "emergency":
        return None
    return QuietHours(start=settings.quiet_start, end=settings.quiet_end)


def zone_for(customer: Customer | None) -> ZoneInfo:
    try:
        return ZoneInfo(customer.time_zone if customer is not None else "Europe/Amsterdam")
    except (KeyError, ValueError):
        return ZoneInfo("Europe/Amsterdam")


def touchpoint_armed_at(row: ScheduledTouchpoint) -> datetime:
    """When the event that armed a touchpoint happened (its `event` anchor)."""
    return moment_read(row.context.get("event_at")) or row.created_at


def journey_event(
    *, case_id: str, journey: str, version: int, activity: str, at: datetime, **attributes: Any
) -> Event:
    """An event of the journey's own machinery (not yet recorded)."""
    return Event(
        case_id=case_id,
        activity=activity,
        occurred_at=at,
        actor=None,
        role="system",
        channel=Event.Channel.SYSTEM,
        layer=Event.Layer.DIGITAL,
        attributes={"journey": journey, "version": version, **attributes},
    )


def touchpoint_event(row: ScheduledTouchpoint, activity: str, at: datetime, **attributes: Any) -> Event:
    return journey_event(
        case_id=row.instance.case_id,
        journey=row.instance.key,
        version=row.instance.definition.version,
        activity=activity,
        at=at,
        touchpoint=row.touchpoint,
        scheduled=row.pk,
        **attributes,
    )


class _Handler:
    """Handles one event for the running journeys of its case."""

    def __init__(self, events: Sequence[Event]) -> None:
        self.settings = JourneySettings.current()
        self.active = [
            (definition, spec_for(definition)) for definition in JourneyDefinition.objects.filter(active=True)
        ]
        self.events: list[Event] = []
        # The running journeys of the batch's cases, read once: one query per
        # batch instead of one per event. Journeys started or ended while the
        # batch is handled are kept up to date in place.
        self.running: dict[str, list[JourneyInstance]] = defaultdict(list)
        instances = (
            JourneyInstance.objects.select_related("definition", "customer")
            .filter(case_id__in={event.case_id for event in events}, state=JourneyInstance.State.RUNNING)
            .order_by("pk")
        )
        for instance in instances:
            self.running[instance.case_id].append(instance)

    def handle(self, event: Event) -> None:
        for definition, spec in self.active:
            if event.activity == spec.trigger:
                self._start(definition, spec, event)
        for instance in self.running.get(event.case_id, ()):
            if instance.state != JourneyInstance.State.RUNNING:
                continue
            spec = spec_for(instance.definition)
            if event.activity in spec.activities():
                self._follow(instance, spec, event)

    def _start(self, definition: JourneyDefinition, spec: JourneySpec, event: Event) -> None:
        attributes = dict(event.attributes)
        customer_id = attributes.get("customer")
        customer = Customer.objects.filter(pk=customer_id).first() if isinstance(customer_id, int) else None
        instance, created = JourneyInstance.objects.get_or_create(
            key=definition.key,
            case_id=event.case_id,
            defaults={
                "definition": definition,
                "customer": customer,
                "attributes": attributes,
                "started_at": event.occurred_at,
            },
        )
        if created:
            self.running[event.case_id].append(instance)
            self.events.append(
                journey_event(
                    case_id=event.case_id,
                    journey=definition.key,
                    version=definition.version,
                    activity="journey.started",
                    at=event.occurred_at,
                    trigger=event.pk,
                )
            )

    def _follow(self, instance: JourneyInstance, spec: JourneySpec, event: Event) -> None:
        zone = zone_for(instance.customer)
        quiet = quiet_hours_for(instance=instance, settings=self.settings)
        context = {**instance.attributes, **event.attributes}
        # 1. Anchors this event moves; then re-time what waits on them.
        changed: set[str] = set()
        for name, anchor in spec.anchors.items():
            if event.activity in anchor.events:
                value = event.occurred_at.isoformat() if anchor.attribute == "occurred_at" else None
                if value is None and anchor.attribute in event.attributes:
                    value = event.attributes[anchor.attribute]
                if value is not None and instance.anchors.get(name) != value:
                    instance.anchors[name] = value
                    changed.add(name)
        if changed:
            instance.save(update_fields=["anchors"])
            self._retime(instance, spec, changed, zone, quiet)
        # 2. Cancel what this event makes pointless.
        cancelling = [tp.id for tp in spec.touchpoints if event.activity in tp.cancel_on]
        if cancelling:
            self._cancel(instance, cancelling, event, reason=event.activity)
        # 3. Arm the touchpoints this event starts.
        rows = []
        for touchpoint in spec.touchpoints:
            if touchpoint.when != event.activity or not all(c.holds(context) for c in touchpoint.conditions):
                continue
            due = due_at(
                touchpoint=touchpoint,
                anchors=instance.anchors,
                event_at=event.occurred_at,
                zone=zone,
                quiet=quiet,
            )
            if due is None:
                self.events.append(
                    journey_event(
                        case_id=instance.case_id,
                        journey=instance.key,
                        version=instance.definition.version,
                        activity="touchpoint.skipped",
                        at=event.occurred_at,
                        touchpoint=touchpoint.id,
                        reason=f"anchor {touchpoint.at.anchor} unknown",
                    )
                )
                continue
            rows.append(
                ScheduledTouchpoint(
                    instance=instance,
                    touchpoint=touchpoint.id,
                    armed_by=event.pk,
                    due_at=due,
                    urgent=quiet is None,
                    context={"event_at": event.occurred_at.isoformat(), **event.attributes},
                    created_at=clock.now(),
                )
            )
        if rows:
            ScheduledTouchpoint.objects.bulk_create(rows, ignore_conflicts=True)
        # 4. The journey ends.
        if any(rule.matches(event.activity, context) for rule in spec.ends_on):
            waiting = list(
                instance.touchpoints.filter(state=ScheduledTouchpoint.State.SCHEDULED).values_list(
                    "touchpoint", flat=True
                )
            )
            if waiting:
                self._cancel(instance, sorted(set(waiting)), event, reason="journey ended")
            instance.state = JourneyInstance.State.ENDED
            instance.ended_at = event.occurred_at
            instance.save(update_fields=["state", "ended_at"])
            self.events.append(
                journey_event(
                    case_id=event.case_id,
                    journey=instance.key,
                    version=instance.definition.version,
                    activity="journey.ended",
                    at=event.occurred_at,
                    by=event.pk,
                    cancelled=len(waiting),
                )
            )

    def _retime(
        self,
        instance: JourneyInstance,
        spec: JourneySpec,
        changed: set[str],
        zone: ZoneInfo,
        quiet: QuietHours | None,
    ) -> None:
        affected = {tp.id: tp for tp in spec.touchpoints if tp.at.anchor in changed}
        if not affected:
            return
        rows = list(
            instance.touchpoints.select_for_update().filter(
                state=ScheduledTouchpoint.State.SCHEDULED, touchpoint__in=list(affected)
            )
        )
        for row in rows:
            event_at = touchpoint_armed_at(row)
            due = due_at(
                touchpoint=affected[row.touchpoint],
                anchors=instance.anchors,
                event_at=event_at,
                zone=zone,
                quiet=quiet,
            )
            if due is not None and due != row.due_at:
                self.events.append(
                    touchpoint_event(
                        row,
                        "touchpoint.rescheduled",
                        clock.now(),
                        previous=row.due_at.isoformat(),
                        due=due.isoformat(),
                    )
                )
                row.due_at = due
        ScheduledTouchpoint.objects.bulk_update(rows, fields=["due_at"])

    def _cancel(
        self, instance: JourneyInstance, touchpoints: list[str], event: Event, *, reason: str
    ) -> None:
        rows = list(
            instance.touchpoints.select_for_update().filter(
                state=ScheduledTouchpoint.State.SCHEDULED, touchpoint__in=touchpoints
            )
        )
        for row in rows:
            row.instance = instance
            row.state = ScheduledTouchpoint.State.CANCELLED
            row.finished_at = event.occurred_at
            row.outcome = reason[:200]
            self.events.append(
                touchpoint_event(row, "touchpoint.cancelled", event.occurred_at, reason=reason)
            )
        ScheduledTouchpoint.objects.bulk_update(rows, fields=["state", "finished_at", "outcome"])


def _writers_in_flight() -> bool:
    """Could a hole in the event ids still fill? SQLite commits one writer at
    a time, in id order: never. On PostgreSQL only while another transaction
    that has written something is open; otherwise the hole is a rolled-back
    insert (or a sequence that moved on) and will stay empty."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_xid IS NOT NULL"
            " AND pid <> pg_backend_pid() AND datname = current_database())"
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def events_consume(*, limit: int = 500) -> int:
    """Follow the event log from the cursor: one transaction per batch, the
    cursor moved with what was done. Returns how many events were read."""
    with transaction.atomic():
        EventCursor.objects.get_or_create(name=CURSOR)
        cursor = EventCursor.objects.select_for_update().get(name=CURSOR)
        events = list(Event.objects.filter(id__gt=cursor.position).order_by("id")[:limit])
        handler = _Handler(events)
        expected = cursor.position + 1
        read = 0
        now = clock.now()
        for event in events:
            if event.id != expected and _writers_in_flight():
                # A missing id may belong to a transaction still committing.
                if cursor.gap_seen_at is None:
                    cursor.gap_seen_at = now
                    break
                if now - cursor.gap_seen_at < GAP_PATIENCE:
                    break
            cursor.gap_seen_at = None
            handler.handle(event)
            cursor.position = event.id
            expected = event.id + 1
            read += 1
        if handler.events:
            event_record_many(handler.events)
        cursor.save(update_fields=["position", "gap_seen_at"])
    return read


@transaction.atomic
def staff_task_complete(*, task: StaffTask, actor: User, note: str = "") -> StaffTask:
    # Only the task is locked: its journey may be missing (an outer join).
    locked = StaffTask.objects.select_for_update(of=("self",)).select_related("instance").get(pk=task.pk)
    if locked.state != StaffTask.State.OPEN:
        raise ApplicationError(MESSAGE_TASK_DONE, field="state")
    now = clock.now()
    locked.state = StaffTask.State.DONE
    locked.done_at = now
    locked.done_by = actor
    locked.note = note
    locked.save(update_fields=["state", "done_at", "done_by", "note"])
    event_record(
        case_id=locked.case_id,
        activity="task.completed",
        actor=actor,
        channel=Event.Channel.PHONE if locked.queue == "callbacks" else Event.Channel.SYSTEM,
        layer=Event.Layer.HUMAN,
        attributes={
            "task": locked.pk,
            "queue": locked.queue,
            "journey": locked.instance.key if locked.instance is not None else "",
            "on_time": now <= locked.deadline,
        },
    )
    return locked
