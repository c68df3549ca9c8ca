"""Process mining on the journey event log: the log as a pandas frame in
pm4py's column names, XES and OCEL 2.0 exports, the directly-follows graph of
the journeys that really happened, their conformance with the designed
journey, and the designed sentiment per touchpoint beside the measured one.

pm4py is imported inside the functions that need it: it is slow to import and
most processes (the web server, manage.py commands) never mine anything.
Events are read in chunks (`iterator`) as plain tuples, so a log of a million
events fits in memory as one frame.

Every function takes `cases`: a `values_list("case_id", flat=True)` queryset
(e.g. `filters.cases().values_list("case_id", flat=True)`), None for all.
"""

import json
import os
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Avg, Count, F, QuerySet, Window
from django.db.models.functions import Lag, Lead

from klantreis.core import clock
from klantreis.customers.models import Customer
from klantreis.events.models import Event
from klantreis.feedback.models import Survey
from klantreis.insights import replay
from klantreis.journeys.models import JourneyDefinition, JourneySettings
from klantreis.journeys.services import spec_for, zone_for
from klantreis.journeys.timing import QuietHours

if TYPE_CHECKING:
    import pandas  # type: ignore[import-untyped]

CHUNK = 5000
# How many of the cases behind each deviation a conformance result keeps.
CASE_IDS_KEPT = 10_000
# A touchpoint sent this much after it was due counts as late.
LATE_TOLERANCE = timedelta(minutes=15)
CASE = "case:concept:name"
ACTIVITY = "concept:name"
TIMESTAMP = "time:timestamp"
RESOURCE = "org:resource"
ROLE = "org:role"
# Attributes that name another object of the case, as the services record them
# (planning: job, technician; messaging: message; journeys: task, scheduled;
# feedback: survey), with their OCEL object type.
OBJECT_ATTRIBUTES = {
    "job": "appointment",
    "message": "message",
    "task": "task",
    "survey": "survey",
    "scheduled": "touchpoint",
    "technician": "technician",
}
DEFAULT_ZONE = "Europe/Amsterdam"


def _pm4py() -> Any:
    """pm4py, quietly: its welcome banner only shows for a direct import from
    __main__, and no environment variable switches it off, so mark it shown."""
    os.environ.setdefault("PM4PY_SHOW_PROGRESS_BAR", "False")
    os.environ.setdefault("PM4PY_SHOW_INTERNAL_WARNINGS", "False")
    sys._pm4py_welcome_shown = True  # type: ignore[attr-defined]
    import pm4py  # type: ignore[import-untyped]

    return pm4py


def _events(cases: QuerySet[Any] | None) -> QuerySet[Event]:
    events = Event.objects.all()
    if cases is not None:
        events = events.filter(case_id__in=cases)
    return events


def _moment(value: Any) -> datetime:
    # SQLite hands back UTC without an offset (text, or a naive datetime as
    # Django's connection parses declared types); PostgreSQL an aware datetime.
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _json(value: Any) -> Any:
    # Django has both backends hand back JSON as text and decodes it per row.
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def _stream(events: QuerySet[Event], fields: tuple[str, ...]) -> Iterator[tuple[Any, ...]]:
    """The rows of a values_list read on a server-side cursor where the
    database has one, in chunks, without the ORM's per-value converters
    (a third of the time of a million-row read); callers convert what they use."""
    sql, params = events.values_list(*fields).query.sql_with_params()
    connection = connections[events.db]
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(CHUNK):
            yield from rows


def event_frame(*, cases: QuerySet[Any] | None = None) -> "pandas.DataFrame":
    """The event log, one row per event, ordered by case and time: case:concept:name,
    concept:name, time:timestamp, org:resource (the acting user's id, or the
    role for the system and anonymous customers), org:role, channel, layer."""
    import pandas as pd

    columns: dict[str, list[Any]] = {
        CASE: [],
        ACTIVITY: [],
        TIMESTAMP: [],
        RESOURCE: [],
        ROLE: [],
        "channel": [],
        "layer": [],
    }
    rows = _stream(
        _events(cases).order_by("case_id", "occurred_at", "id"),
        ("case_id", "activity", "occurred_at", "actor_id", "role", "channel", "layer"),
    )
    for case_id, activity, occurred_at, actor_id, role, channel, layer in rows:
        columns[CASE].append(case_id)
        columns[ACTIVITY].append(activity)
        columns[TIMESTAMP].append(occurred_at)
        columns[RESOURCE].append(f"user {actor_id}" if actor_id is not None else role)
        columns[ROLE].append(role)
        columns["channel"].append(channel)
        columns["layer"].append(layer)
    frame = pd.DataFrame(columns)
    frame[TIMESTAMP] = pd.to_datetime(frame[TIMESTAMP], utc=True)
    return frame


def xes_write(*, path: Path, cases: QuerySet[Any] | None = None) -> int:
    """Write the log as an XES file (pm4py's exporter); returns the events written."""
    frame = event_frame(cases=cases)
    pm4py = _pm4py()
    with warnings.catch_warnings():
        # pm4py suggests its optional Rust exporter; the line-by-line one is what is installed.
        warnings.filterwarnings("ignore", message=".*r4pm.*")
        pm4py.write_xes(frame, str(path), case_id_key=CASE)
    return len(frame)


def _object_id(kind: str, value: Any) -> str | None:
    if value is None or value == "" or isinstance(value, (dict, list, bool)):
        return None
    return f"{kind}:{value}"


def ocel_write(*, path: Path, cases: QuerySet[Any] | None = None) -> int:
    """Write the log as OCEL 2.0 (JSON for .json/.jsonocel, XML for .xml/.xmlocel,
    SQLite for .sqlite, as pm4py's exporter picks by the name); returns the events.

    Object types: "case" (the repair request every event belongs to) and the
    objects the events' attributes name: "appointment" (a planning job),
    "message", "task", "survey", "touchpoint" (one scheduled occurrence) and
    "technician". Qualifiers say the attribute the relation came from."""
    import pandas as pd

    pm4py = _pm4py()
    from pm4py.objects.ocel.obj import OCEL  # type: ignore[import-untyped]

    events: dict[str, list[Any]] = {
        "ocel:eid": [],
        "ocel:activity": [],
        "ocel:timestamp": [],
        "channel": [],
        "layer": [],
        "role": [],
    }
    relations: dict[str, list[Any]] = {
        "ocel:eid": [],
        "ocel:activity": [],
        "ocel:timestamp": [],
        "ocel:oid": [],
        "ocel:type": [],
        "ocel:qualifier": [],
    }
    objects: dict[str, str] = {}
    rows = (
        _events(cases)
        .order_by("occurred_at", "id")
        .values_list("id", "case_id", "activity", "occurred_at", "channel", "layer", "role", "attributes")
        .iterator(chunk_size=CHUNK)
    )
    for pk, case_id, activity, occurred_at, channel, layer, role, attributes in rows:
        eid = f"e{pk}"
        events["ocel:eid"].append(eid)
        events["ocel:activity"].append(activity)
        events["ocel:timestamp"].append(occurred_at)
        events["channel"].append(channel)
        events["layer"].append(layer)
        events["role"].append(role)
        links = [(f"case:{case_id}", "case", "case")]
        for attribute, kind in OBJECT_ATTRIBUTES.items():
            oid = _object_id(kind, (attributes or {}).get(attribute))
            if oid is not None:
                links.append((oid, kind, attribute))
        for oid, kind, qualifier in links:
            objects.setdefault(oid, kind)
            relations["ocel:eid"].append(eid)
            relations["ocel:activity"].append(activity)
            relations["ocel:timestamp"].append(occurred_at)
            relations["ocel:oid"].append(oid)
            relations["ocel:type"].append(kind)
            relations["ocel:qualifier"].append(qualifier)
    events_frame = pd.DataFrame(events)
    events_frame["ocel:timestamp"] = pd.to_datetime(events_frame["ocel:timestamp"], utc=True)
    relations_frame = pd.DataFrame(relations)
    relations_frame["ocel:timestamp"] = pd.to_datetime(relations_frame["ocel:timestamp"], utc=True)
    objects_frame = pd.DataFrame({"ocel:oid": list(objects), "ocel:type": list(objects.values())})
    ocel = OCEL(events=events_frame, objects=objects_frame, relations=relations_frame)
    target = str(path)
    if not target.lower().endswith(("json", "jsonocel", "xml", "xmlocel", "sqlite")):
        target = str(path) + ".json"
    pm4py.write_ocel2(ocel, target)
    if target != str(path):
        os.replace(target, path)
    return len(events_frame)


@dataclass(frozen=True)
class DirectlyFollows:
    activities: dict[str, int]
    edges: dict[tuple[str, str], int]
    start: dict[str, int]
    end: dict[str, int]


def directly_follows(*, cases: QuerySet[Any] | None = None) -> DirectlyFollows:
    """The directly-follows graph of the journeys that happened: how often each
    activity occurs, how often one directly follows another within a case, and
    how often a case starts and ends with each.

    The database does the work: each event with the activity after it and
    whether one came before it in its case (window functions, in time order),
    counted per combination; a year's log comes back as a few dozen rows."""
    order = [F("occurred_at").asc(), F("id").asc()]
    neighbours = (
        _events(cases)
        .annotate(
            following=Window(Lead("activity"), partition_by=[F("case_id")], order_by=order),
            preceding=Window(Lag("activity"), partition_by=[F("case_id")], order_by=order),
        )
        .values_list("activity", "following", "preceding")
    )
    try:
        sql, params = neighbours.query.sql_with_params()
    except EmptyResultSet:  # cases=<an empty queryset>
        return DirectlyFollows(activities={}, edges={}, start={}, end={})
    activities: Counter[str] = Counter()
    edges: Counter[tuple[str, str]] = Counter()
    start: Counter[str] = Counter()
    end: Counter[str] = Counter()
    with connections[neighbours.db].cursor() as cursor:
        # `sql` is the ORM's own query text; every value is in `params`.
        cursor.execute(
            "SELECT activity, following, preceding IS NULL, COUNT(*)"  # noqa: S608
            f" FROM ({sql}) neighbours GROUP BY activity, following, preceding IS NULL",
            params,
        )
        for activity, following, first, count in cursor.fetchall():
            activities[activity] += count
            if following is None:
                end[activity] += count
            else:
                edges[(activity, following)] += count
            if first:
                start[activity] += count
    return DirectlyFollows(activities=dict(activities), edges=dict(edges), start=dict(start), end=dict(end))


@dataclass(frozen=True)
class Deviation:
    kind: str  # "skipped" | "extra" | "out_of_order" | "late"
    touchpoint: str
    cases: int
    share: float
    # The first CASE_IDS_KEPT cases that show it (by case id), for drill-down
    # without checking every case again.
    case_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Conformance:
    cases: int
    fitting: int
    deviations: list[Deviation]


def _case_deviations(
    *,
    definition: JourneyDefinition,
    cases: QuerySet[Any] | None,
    tolerance: timedelta,
    progress: Callable[[int], None] | None = None,
) -> Iterator[tuple[str, set[tuple[str, str]]]]:
    """Each case that started the journey with its (kind, touchpoint) deviations."""
    spec = spec_for(definition)
    journey = replay.journey_compile(spec)
    settings = JourneySettings.current()
    quiet = QuietHours(start=settings.quiet_start, end=settings.quiet_end)
    horizon = clock.now()
    # Customers outside the default zone are few: one read, not one per case.
    zones = {
        pk: zone_for(Customer(time_zone=name))
        for pk, name in Customer.objects.exclude(time_zone=DEFAULT_ZONE).values_list("pk", "time_zone")
    }
    default_zone = zone_for(None)

    def zone_for_customer(customer_id: Any) -> ZoneInfo:
        return zones.get(customer_id, default_zone) if isinstance(customer_id, int) else default_zone

    wanted = spec.activities() | {"message.sent", "task.created"}
    events = _events(cases).filter(activity__in=wanted)
    total = events.filter(activity=spec.trigger).count() if progress is not None else 0
    rows = (
        (case_id, activity, _moment(occurred_at), _json(attributes))
        for case_id, activity, occurred_at, attributes in _stream(
            events.order_by("case_id", "occurred_at", "id"),
            ("case_id", "activity", "occurred_at", "attributes"),
        )
    )
    done = 0

    def finish(case_id: str, case_events: list[tuple[str, Any, dict[str, Any]]]) -> Any:
        trace = replay.case_trace(
            case_id=case_id,
            journey=journey,
            events=case_events,
            zone_for_customer=zone_for_customer,
            quiet=quiet,
            emergencies_exempt=settings.emergencies_exempt,
            horizon=horizon,
            tolerance=tolerance,
        )
        return None if trace is None else (case_id, replay.trace_deviations(trace, tolerance=tolerance))

    current: str | None = None
    case_events: list[tuple[str, Any, dict[str, Any]]] = []
    for case_id, activity, occurred_at, attributes in rows:
        if case_id != current:
            if current is not None and (result := finish(current, case_events)) is not None:
                yield result
                done += 1
                if progress is not None and total and done % 1000 == 0:
                    progress(min(99, done * 100 // total))
            current, case_events = case_id, []
        case_events.append((activity, occurred_at, attributes or {}))
    if current is not None and (result := finish(current, case_events)) is not None:
        yield result
    if progress is not None:
        progress(100)


def conformance(
    *,
    definition: JourneyDefinition,
    cases: QuerySet[Any] | None = None,
    progress: Callable[[int], None] | None = None,
    tolerance: timedelta = LATE_TOLERANCE,
) -> Conformance:
    """The actual cases checked against the designed journey: per deviation
    kind and touchpoint the number and share of cases that show it, most
    frequent first; `fitting` cases show none."""
    total = 0
    fitting = 0
    counts: Counter[tuple[str, str]] = Counter()
    kept: dict[tuple[str, str], list[str]] = {}
    for case_id, found in _case_deviations(
        definition=definition, cases=cases, tolerance=tolerance, progress=progress
    ):
        total += 1
        if not found:
            fitting += 1
        counts.update(found)
        for deviation in found:
            ids = kept.setdefault(deviation, [])
            if len(ids) < CASE_IDS_KEPT:
                ids.append(case_id)
    order = {tp.id: index for index, tp in enumerate(spec_for(definition).touchpoints)}
    deviations = [
        Deviation(
            kind=kind,
            touchpoint=touchpoint,
            cases=count,
            share=count / total,
            case_ids=tuple(kept.get((kind, touchpoint), ())),
        )
        for (kind, touchpoint), count in sorted(
            counts.items(),
            key=lambda item: (
                -item[1],
                replay.KINDS.index(item[0][0]),
                order.get(item[0][1], 999),
                item[0][1],
            ),
        )
    ]
    return Conformance(cases=total, fitting=fitting, deviations=deviations)


def conformance_cases(
    *,
    definition: JourneyDefinition,
    kind: str,
    touchpoint: str,
    cases: QuerySet[Any] | None = None,
    tolerance: timedelta = LATE_TOLERANCE,
) -> list[str]:
    """The ids of the cases behind one deviation (for drill-down), in case id order."""
    return [
        case_id
        for case_id, found in _case_deviations(definition=definition, cases=cases, tolerance=tolerance)
        if (kind, touchpoint) in found
    ]


@dataclass(frozen=True)
class SentimentRow:
    touchpoint: str
    name: str
    designed: int | None
    measured: float | None
    answers: int
    peak: bool
    end: bool


def sentiment(
    *, definition: JourneyDefinition, cases: QuerySet[Any] | None = None, language: str = "en"
) -> list[SentimentRow]:
    """Per touchpoint of the definition (in its order) the sentiment the designer
    expected (-2..2) beside the one customers gave: the "how was this moment?"
    answers and, for a touchpoint that asks the CSAT question, those answers,
    both 1..5 read as -2..2."""
    spec = spec_for(definition)
    surveys = Survey.objects.filter(
        answered_at__isnull=False,
        score__isnull=False,
        kind__in=[Survey.Kind.MOMENT, Survey.Kind.CSAT],
        touchpoint__in=[tp.id for tp in spec.touchpoints],
    )
    if cases is not None:
        surveys = surveys.filter(case_id__in=cases)
    measured: dict[tuple[str, str], tuple[float, int]] = {
        (row["touchpoint"], row["kind"]): (row["mean"], row["answers"])
        for row in surveys.values("touchpoint", "kind").annotate(mean=Avg("score"), answers=Count("pk"))
    }
    rows = []
    for touchpoint in spec.touchpoints:
        # A touchpoint that asks the CSAT question is measured by it, any other by its "moment" answers.
        kind = Survey.Kind.CSAT if "csat" in touchpoint.survey else Survey.Kind.MOMENT
        mean, answers = measured.get((touchpoint.id, kind), (None, 0))
        rows.append(
            SentimentRow(
                touchpoint=touchpoint.id,
                name=touchpoint.name.get(language) or touchpoint.name["en"],
                designed=touchpoint.sentiment,
                measured=None if mean is None else round(float(mean) - 3, 2),
                answers=answers,
                peak=touchpoint.peak,
                end=touchpoint.end,
            )
        )
    return rows
