"""Reads of the journey engine: for the staff screens the task queue and the
journey definitions with how many cases run on each version; for the
customer what their journey will still do for them."""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, QuerySet
from django.http import Http404

from klantreis.journeys.models import JourneyDefinition, JourneyInstance, ScheduledTouchpoint, StaffTask
from klantreis.journeys.services import spec_for, zone_for


def staff_task_open_list(*, queue: str = "") -> QuerySet[StaffTask]:
    """Open tasks, the nearest deadline first; `queue` narrows to one queue."""
    tasks = StaffTask.objects.filter(state=StaffTask.State.OPEN).select_related("instance__customer")
    if queue:
        tasks = tasks.filter(queue=queue)
    return tasks.order_by("deadline", "pk")


def staff_task_queues() -> list[str]:
    """The queues that have open tasks, by name."""
    return list(
        StaffTask.objects.filter(state=StaffTask.State.OPEN)
        .order_by("queue")
        .values_list("queue", flat=True)
        .distinct()
    )


@dataclass(frozen=True)
class JourneyVersion:
    definition: JourneyDefinition
    running: int


@dataclass(frozen=True)
class JourneySummary:
    key: str
    active: JourneyDefinition | None
    versions: tuple[JourneyVersion, ...]  # newest first

    @property
    def running(self) -> int:
        return sum(version.running for version in self.versions)

    @property
    def running_versions(self) -> tuple[JourneyVersion, ...]:
        return tuple(version for version in self.versions if version.running)


def _running_by_definition(definitions: QuerySet[JourneyDefinition]) -> Counter[int]:
    rows = (
        JourneyInstance.objects.filter(definition__in=definitions, state=JourneyInstance.State.RUNNING)
        .values("definition")
        .annotate(count=Count("pk"))
        .values_list("definition", "count")
    )
    return Counter(dict(rows))


def journey_summary_list() -> list[JourneySummary]:
    """Every journey with its versions (newest first) and how many cases run on each."""
    definitions = JourneyDefinition.objects.select_related("created_by").order_by("key", "-version")
    running = _running_by_definition(definitions)
    by_key: dict[str, list[JourneyDefinition]] = {}
    for definition in definitions:
        by_key.setdefault(definition.key, []).append(definition)
    return [
        JourneySummary(
            key=key,
            active=next((d for d in versions if d.active), None),
            versions=tuple(JourneyVersion(definition=d, running=running[d.pk]) for d in versions),
        )
        for key, versions in by_key.items()
    ]


def journey_summary_get(*, key: str) -> JourneySummary:
    """One journey by key; 404 when it has no version."""
    definitions = JourneyDefinition.objects.filter(key=key).select_related("created_by").order_by("-version")
    versions = list(definitions)
    if not versions:
        raise Http404
    running = _running_by_definition(definitions)
    return JourneySummary(
        key=key,
        active=next((d for d in versions if d.active), None),
        versions=tuple(JourneyVersion(definition=d, running=running[d.pk]) for d in versions),
    )


def journey_definition_get(*, key: str, version: int) -> JourneyDefinition:
    definition = (
        JourneyDefinition.objects.select_related("created_by").filter(key=key, version=version).first()
    )
    if definition is None:
        raise Http404
    return definition


@dataclass(frozen=True)
class UpcomingTouchpoint:
    """A message the customer's journey is still going to send them."""

    touchpoint: str
    name: str
    due_at: datetime  # in the customer's time zone


def touchpoint_upcoming_list(*, case_id: str, language: str) -> list[UpcomingTouchpoint]:
    """The customer-facing touchpoints still waiting for `case_id`, soonest
    first, named in `language` as the journey's designer named them. Human
    touchpoints (a callback, a staff task) are work for the office, not a
    promise to the customer, so they are left out."""
    rows = (
        ScheduledTouchpoint.objects.filter(
            instance__case_id=case_id,
            instance__state=JourneyInstance.State.RUNNING,
            state=ScheduledTouchpoint.State.SCHEDULED,
        )
        .select_related("instance__definition", "instance__customer")
        .order_by("due_at", "pk")
    )
    upcoming = []
    for row in rows:
        try:
            touchpoint = spec_for(row.instance.definition).touchpoint(row.touchpoint)
        except KeyError:  # dropped from the definition; the dispatcher skips it
            continue
        if touchpoint.layer == "human" or touchpoint.task is not None or not touchpoint.message:
            continue
        upcoming.append(
            UpcomingTouchpoint(
                touchpoint=row.touchpoint,
                name=touchpoint.name.get(language) or touchpoint.name["en"],
                due_at=row.due_at.astimezone(zone_for(row.instance.customer)),
            )
        )
    return upcoming
