"""Folding the event log into the case summaries the KPIs aggregate.

`insights_refresh` follows the log from a durable cursor (as the journey
engine's `events_consume` does), one transaction per batch: the summaries of
the batch's cases and the cursor move together, so a crash loses nothing and
re-running changes nothing. Each summary also remembers the last event it
folded (`last_event_id`), so even a cursor set back cannot count an event
twice.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, models, transaction

from klantreis.core import clock
from klantreis.core.models import Organisation
from klantreis.events.models import Event
from klantreis.insights.models import CaseChannel, CaseSummary, InsightsCursor
from klantreis.planning.models import Technician

CURSOR = "insights"
GAP_PATIENCE = timedelta(seconds=30)
# First-time fix: a visit to the same home for the same defect type up to
# and including this many calendar days after the fixing visit's day is a
# repeat visit (docs/insights.md, "KPIs").
REPEAT_DAYS = 30
ANALYZE_AFTER = 50_000  # events folded in one refresh
DONE_STATUSES = frozenset({"technically_done", "completed"})
VISIT_OUTCOMES = {
    "visit.fixed": CaseSummary.Outcome.FIXED,
    "visit.not_fixed": CaseSummary.Outcome.NOT_FIXED,
    "visit.not_home": CaseSummary.Outcome.NOT_HOME,
}
# The tenant got in touch: these events always, an appointment change only
# when it came in by phone (the desk changed it while the tenant called).
CONTACT_ACTIVITIES = frozenset({"request.reported", "customer.message_sent", "request.information_added"})
PHONE_CONTACT_ACTIVITIES = frozenset({"appointment.rescheduled", "appointment.cancelled"})
SURVEY_KINDS = ("csat", "nps", "ces")
SURVEY_RANGES = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}
TECHNICIAN_ACTIVITIES = frozenset(
    {
        "job.assigned",
        "appointment.booked",
        "appointment.rescheduled",
        "appointment.replanned",
        "job.pinned",
        "visit.arrived",
        "visit.fixed",
        "visit.not_fixed",
        "visit.not_home",
    }
)


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _zone() -> ZoneInfo:
    return ZoneInfo(Organisation.current().time_zone)


def _writers_in_flight() -> bool:
    """Could a hole in the event ids still fill? (As the journey engine asks:
    never on SQLite; on PostgreSQL while another writing transaction is open.)"""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_xid IS NOT NULL"
            " AND pid <> pg_backend_pid() AND datname = current_database())"
        )
        row = cursor.fetchone()
    return bool(row and row[0])


class _State(SimpleNamespace):
    """A case summary while it is folded: plain attributes, no model instance
    (building 100,000 model instances costs more than the fold itself)."""


# The upsert writes every column but the id; `case_id` is its conflict key.
_FIELDS = [field for field in CaseSummary._meta.concrete_fields if not field.primary_key]
_ATTNAMES = [field.attname for field in _FIELDS]


def _defaults() -> dict[str, Any]:
    return {field.attname: field.get_default() for field in _FIELDS}


def _converter(field: models.Field[Any, Any]) -> Callable[[Any], Any]:
    # Only dates, moments and JSON need the backend's own form (SQLite stores
    # text); numbers, strings and booleans go to the driver as they are.
    if isinstance(field, models.DateField | models.JSONField):
        return lambda value: field.get_db_prep_save(value, connection)
    return lambda value: value


def _upsert(
    *, table: str, columns: list[str], conflict: list[str], rows: list[tuple[Any, ...]], returning: str = ""
) -> list[tuple[Any, ...]]:
    """INSERT … ON CONFLICT DO UPDATE of many rows. On PostgreSQL the rows
    are copied (COPY) into a temporary table first and upserted from it in
    one statement; on SQLite, hundreds of rows per INSERT … VALUES. Django's
    bulk_create with update_conflicts (an expression resolved per value) and
    one statement per row were each ten times slower: the refresh's slowest
    part."""
    if not rows:
        return []
    quote = connection.ops.quote_name
    names = ", ".join(quote(c) for c in columns)
    # Table and column names come from the models, never from input.
    upsert = f"ON CONFLICT ({', '.join(quote(c) for c in conflict)}) DO UPDATE SET " + ", ".join(
        f"{quote(c)} = EXCLUDED.{quote(c)}" for c in columns if c not in conflict
    )
    if returning:
        upsert += f" RETURNING {returning}"
    returned: list[tuple[Any, ...]] = []
    target = quote(table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            staging = quote(f"{table}_staging")
            create = f"CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS SELECT {names} FROM {target}"  # noqa: S608
            cursor.execute(f"{create} WITH NO DATA")
            with cursor.cursor.copy(f"COPY {staging} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(f"INSERT INTO {target} ({names}) SELECT {names} FROM {staging} {upsert}")  # noqa: S608
            if returning:
                returned = cursor.fetchall()
            cursor.execute(f"DROP TABLE {staging}")
            return returned
        placeholders = f"({', '.join(['%s'] * len(columns))})"
        # Under SQLite's limit on parameters per statement.
        per_statement = max(1, 20000 // len(columns))
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            values = ", ".join([placeholders] * len(chunk))
            cursor.execute(
                f"INSERT INTO {target} ({names}) VALUES {values} {upsert}",  # noqa: S608
                [value for row in chunk for value in row],
            )
            if returning:
                returned += cursor.fetchall()
    return returned


class _Fold:
    """One batch's cases, folded in memory, written back in bulk."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.summaries: dict[str, _State] = {}
        self.channels: dict[tuple[str, str], list[int]] = {}  # (case, channel) -> [sent, delivered]
        self.visited: set[str] = set()  # cases whose visits changed (first-time fix to redo)

    def load(self, case_ids: set[str]) -> None:
        ids = list(case_ids)
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            for row in CaseSummary.objects.filter(case_id__in=chunk).values("id", *_ATTNAMES):
                self.summaries[row["case_id"]] = _State(**row)
            for case_id, channel, sent, delivered in CaseChannel.objects.filter(
                case__case_id__in=chunk
            ).values_list("case__case_id", "channel", "sent", "delivered"):
                self.channels[(case_id, channel)] = [sent, delivered]

    def apply(self, event: tuple[int, str, str, datetime, str, str, dict[str, Any]]) -> None:
        pk, case_id, activity, at, role, channel, attributes = event
        if not isinstance(attributes, dict):
            attributes = {}
        summary = self.summaries.get(case_id)
        if summary is None:
            if activity != "request.reported":
                return  # not a repair request's case (or its report is not in the log)
            summary = self.summaries[case_id] = _State(
                **{
                    **_defaults(),
                    "case_id": case_id,
                    "reported_at": at,
                    "reported_on": at.astimezone(self.zone).date(),
                }
            )
        if pk <= summary.last_event_id:
            return
        summary.last_event_id = pk
        self._apply(summary, activity, at, role, channel, attributes)

    def _apply(
        self,
        summary: _State,
        activity: str,
        at: datetime,
        role: str,
        channel: str,
        attributes: dict[str, Any],
    ) -> None:
        if activity in CONTACT_ACTIVITIES or (
            activity in PHONE_CONTACT_ACTIVITIES and channel == Event.Channel.PHONE
        ):
            summary.contacts += 1
        if activity in TECHNICIAN_ACTIVITIES:
            technician = _int(attributes.get("technician"))
            if technician is not None:
                summary.technician_id = technician
            firm = _int(attributes.get("firm"))
            if firm is not None:
                summary.firm_id = firm
        if activity == "request.reported":
            summary.reported_at = at
            summary.reported_on = at.astimezone(self.zone).date()
            summary.reference = str(attributes.get("request", ""))[:20]
            summary.report_channel = channel[:16]
            summary.urgency = str(attributes.get("urgency", ""))[:16]
            summary.home_id = _int(attributes.get("home"))
            summary.defect_type = str(attributes.get("defect_type", ""))[:20]
            summary.status = "registered"
        elif activity == "journey.started":
            summary.journey_key = str(attributes.get("journey", ""))[:40]
            summary.journey_version = _int(attributes.get("version"))
        elif activity in VISIT_OUTCOMES:
            self._visit(summary, VISIT_OUTCOMES[activity], at)
        elif activity == "visit.arrived":
            on_time = attributes.get("on_time")
            if isinstance(on_time, bool):
                summary.arrivals += 1
                summary.arrivals_on_time += int(on_time)
            if summary.eta_pending_at is not None:
                summary.eta_measured += 1
                summary.eta_error_minutes += abs((at - summary.eta_pending_at).total_seconds()) / 60
                summary.eta_pending_at = None
        elif activity == "eta.updated":
            summary.eta_pending_at = _moment(attributes.get("eta"))
        elif activity == "appointment.rescheduled":
            summary.reschedules += 1
            if attributes.get("self_service") is True or (
                "self_service" not in attributes and (role == "customer" or channel == Event.Channel.PORTAL)
            ):
                summary.reschedules_self_service += 1
            summary.eta_pending_at = None  # an estimate for the old time is no estimate for the new
        elif activity == "appointment.cancelled":
            self._cancel(summary, at)
            summary.eta_pending_at = None
        elif activity == "request.status_changed":
            self._status(summary, str(attributes.get("to", "")), at)
        elif activity in {"message.sent", "message.delivered"}:
            message_channel = str(attributes.get("channel", "") or channel)[:16]
            counts = self.channels.setdefault((summary.case_id, message_channel), [0, 0])
            if activity == "message.sent":
                summary.messages_sent += 1
                counts[0] += 1
            else:
                summary.messages_delivered += 1
                counts[1] += 1
        elif activity == "survey.answered":
            self._survey(summary, attributes)

    def _visit(self, summary: _State, outcome: str, at: datetime) -> None:
        summary.visits += 1
        if outcome == CaseSummary.Outcome.FIXED:
            summary.visits_fixed += 1
        elif outcome == CaseSummary.Outcome.NOT_FIXED:
            summary.visits_not_fixed += 1
        else:
            summary.visits_not_home += 1
        if outcome != CaseSummary.Outcome.NOT_HOME and not summary.first_outcome:
            summary.first_outcome = outcome
            summary.first_visit_at = at
        summary.visit_times = [*summary.visit_times, at.isoformat()]
        self.visited.add(summary.case_id)

    def _cancel(self, summary: _State, at: datetime) -> None:
        if not summary.cancelled:
            summary.cancelled = True
            summary.cancelled_at = at

    def _status(self, summary: _State, to: str, at: datetime) -> None:
        summary.status = to[:20]
        if to in DONE_STATUSES:
            if summary.done_at is None:
                summary.done_at = at
                summary.lead_time_hours = (at - summary.reported_at).total_seconds() / 3600
        elif to == "in_progress" and summary.done_at is not None:
            # Reopened: the request is not done until it is done again.
            summary.done_at = None
            summary.lead_time_hours = None
        elif to == "cancelled":
            self._cancel(summary, at)

    def _survey(self, summary: _State, attributes: dict[str, Any]) -> None:
        answers: dict[str, Any] = {}
        if isinstance(attributes.get("kind"), str):
            answers[attributes["kind"]] = attributes.get("score")
        for kind in SURVEY_KINDS:
            if kind in attributes:
                answers[kind] = attributes[kind]
        for kind, score in answers.items():
            low, high = SURVEY_RANGES.get(kind, (1, 0))
            if isinstance(score, int) and not isinstance(score, bool) and low <= score <= high:
                setattr(summary, kind, score)

    def write(self) -> None:
        if not self.summaries:
            return
        technicians = {s.technician_id for s in self.summaries.values() if s.technician_id is not None}
        regions = {
            pk: (firm_id, region)
            for pk, firm_id, region in Technician.objects.filter(pk__in=technicians).values_list(
                "pk", "firm_id", "region"
            )
        }
        for summary in self.summaries.values():
            if summary.technician_id in regions:
                summary.firm_id, team = regions[summary.technician_id]
                summary.team = team[:100]
        self._first_time_fixes()
        converters = [(field.attname, _converter(field)) for field in _FIELDS]
        ids = dict(
            _upsert(
                table=CaseSummary._meta.db_table,
                columns=[str(field.column) for field in _FIELDS],
                conflict=["case_id"],
                rows=[
                    tuple(convert(getattr(summary, name)) for name, convert in converters)
                    for summary in self.summaries.values()
                ],
                returning="case_id, id",
            )
        )
        _upsert(
            table=CaseChannel._meta.db_table,
            columns=["case_id", "channel", "sent", "delivered"],
            conflict=["case_id", "channel"],
            rows=[
                (ids[case_id], channel, sent, delivered)
                for (case_id, channel), (sent, delivered) in self.channels.items()
            ],
        )

    def _first_time_fixes(self) -> None:
        """Decide the first-time fix again for every case of the homes and
        defect types whose visits changed in this batch: a later case's visit
        can undo an earlier case's first-time fix. The batch's own cases are
        written with the upsert; earlier cases that changed are updated here."""
        if not self.visited:
            return
        pairs: set[tuple[int, str]] = set()
        for case_id in self.visited:
            summary = self.summaries[case_id]
            if summary.home_id is None:
                # Without a home a case can only be repeated by its own visits.
                summary.first_time_fix = _first_time_fix_of(summary, _times(summary.visit_times), self.zone)
            else:
                pairs.add((summary.home_id, summary.defect_type))
        if not pairs:
            return
        groups: dict[tuple[int, str], list[Any]] = defaultdict(list)
        for summary in self.summaries.values():
            if (summary.home_id, summary.defect_type) in pairs:
                groups[(summary.home_id, summary.defect_type)].append(summary)
        homes = sorted({home for home, _defect in pairs})
        fields = ("id", "case_id", "home_id", "defect_type", "first_outcome", "first_visit_at", "visit_times")
        for start in range(0, len(homes), 900):
            for row in CaseSummary.objects.filter(home_id__in=homes[start : start + 900]).values(
                *fields, "first_time_fix"
            ):
                pair = (row["home_id"], row["defect_type"])
                if pair in pairs and row["case_id"] not in self.summaries:
                    groups[pair].append(_State(**row))
        changed: dict[bool | None, list[int]] = defaultdict(list)
        for members in groups.values():
            visits = [moment for member in members for moment in _times(member.visit_times)]
            for member in members:
                value = _first_time_fix_of(member, visits, self.zone)
                if member.case_id in self.summaries:
                    member.first_time_fix = value
                elif value != member.first_time_fix:
                    changed[value].append(member.id)
        for value, pks in changed.items():
            for start in range(0, len(pks), 900):
                CaseSummary.objects.filter(pk__in=pks[start : start + 900]).update(first_time_fix=value)


def _first_time_fix_of(summary: Any, visits: list[datetime], zone: ZoneInfo) -> bool | None:
    return first_time_fix(
        first_outcome=summary.first_outcome, first_visit_at=summary.first_visit_at, visits=visits, zone=zone
    )


def first_time_fix(
    *, first_outcome: str, first_visit_at: datetime | None, visits: Iterable[datetime], zone: ZoneInfo
) -> bool | None:
    """Fixed first time: the first visit that got in fixed it, and no visit
    (of this case or another of the same home and defect type) followed on
    the fixing visit's day or up to REPEAT_DAYS calendar days after it, in
    the organisation's time zone. None: no visit got in yet."""
    if not first_outcome or first_visit_at is None:
        return None
    if first_outcome != CaseSummary.Outcome.FIXED:
        return False
    last_day: date = first_visit_at.astimezone(zone).date() + timedelta(days=REPEAT_DAYS)
    return not any(first_visit_at < visit and visit.astimezone(zone).date() <= last_day for visit in visits)


def _times(values: list[str]) -> list[datetime]:
    return [moment for value in values if (moment := _moment(value)) is not None]


def insights_refresh(*, batch: int = 10000) -> int:
    """Fold new events into CaseSummary (durable cursor), idempotent: one
    transaction per batch of events, read in id order. Returns how many
    events were read."""
    zone = _zone()
    read = 0
    while True:
        done, more = _refresh_batch(limit=batch, zone=zone)
        read += done
        if not more:
            break
    if read >= ANALYZE_AFTER and connection.vendor == "postgresql":
        # A large catch-up changes the tables faster than autovacuum notices;
        # stale statistics make the planner pick index scans for the whole year.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {CaseSummary._meta.db_table}, {CaseChannel._meta.db_table}")
    return read


def _refresh_batch(*, limit: int, zone: ZoneInfo) -> tuple[int, bool]:
    """Fold up to `limit` events; returns how many, and whether more may wait."""
    with transaction.atomic():
        InsightsCursor.objects.get_or_create(name=CURSOR)
        cursor = InsightsCursor.objects.select_for_update().get(name=CURSOR)
        events = list(
            Event.objects.filter(id__gt=cursor.position)
            .order_by("id")
            .values_list("id", "case_id", "activity", "occurred_at", "role", "channel", "attributes")[:limit]
        )
        now = clock.now()
        expected = cursor.position + 1
        taken = []
        for event in events:
            if event[0] != expected and _writers_in_flight():
                # A missing id may belong to a transaction still committing.
                if cursor.gap_seen_at is None:
                    cursor.gap_seen_at = now
                    break
                if now - cursor.gap_seen_at < GAP_PATIENCE:
                    break
            cursor.gap_seen_at = None
            taken.append(event)
            expected = event[0] + 1
        fold = _Fold(zone)
        fold.load({event[1] for event in taken})
        for event in taken:
            fold.apply(event)
        fold.write()
        if taken:
            cursor.position = taken[-1][0]
        cursor.save(update_fields=["position", "gap_seen_at"])
    # A batch cut short by a gap is the end of what can be read now.
    return len(taken), len(events) == limit and len(taken) == len(events)
