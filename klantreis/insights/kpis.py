"""The journey's KPIs, aggregated by the database over CaseSummary.

Each KPI's exact definition is in docs/insights.md, section "KPIs"."""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from klantreis.insights.filters import InsightFilters
from klantreis.insights.models import CaseChannel, CaseSummary
from klantreis.intake.models import VeraCode
from klantreis.planning.models import Firm, Technician


@dataclass(frozen=True)
class Kpi:
    key: str
    label: Promise
    unit: str  # "%", "hours", "minutes", "number", "score"
    higher_is_better: bool | None


KPIS: list[Kpi] = [
    Kpi("first_time_fix", _("First-time fix"), "%", True),
    Kpi("not_home", _("Not home"), "%", False),
    Kpi("reschedule", _("Rescheduled"), "%", False),
    Kpi("reschedule_self_service", _("Rescheduled by the tenant"), "%", True),
    Kpi("cancellation", _("Cancelled"), "%", False),
    Kpi("lead_time_hours", _("Lead time report → done"), "hours", False),
    Kpi("punctuality", _("Arrived within the promised window"), "%", True),
    Kpi("eta_error_minutes", _("ETA error"), "minutes", False),
    Kpi("delivery_rate", _("Messages delivered"), "%", True),
    Kpi("messages_per_request", _("Messages per request"), "number", None),
    Kpi("contacts_per_request", _("Contacts per request"), "number", False),
    Kpi("csat", _("CSAT"), "%", True),
    Kpi("nps", _("NPS"), "score", True),
    Kpi("ces", _("CES"), "score", False),
]
KPI_BY_KEY = {kpi.key: kpi for kpi in KPIS}


@dataclass(frozen=True)
class KpiValue:
    key: str
    value: float | None  # None: no case in the denominator
    numerator: float
    denominator: int


BREAKDOWNS = ("month", "technician", "firm", "team", "defect_type", "journey_version")


@dataclass(frozen=True)
class KpiGroup:
    key: str
    label: str
    values: dict[str, KpiValue]


# Each KPI as (numerator, denominator) aggregates over CaseSummary, and the
# scale its value is shown on (100 for a percentage). One aggregate query
# computes them all, for the whole selection or per group.
_AGGREGATES: dict[str, tuple[Any, Any, float]] = {
    "first_time_fix": (
        Count("pk", filter=Q(first_time_fix=True)),
        Count("pk", filter=Q(first_time_fix__isnull=False)),
        100.0,
    ),
    "not_home": (Sum("visits_not_home"), Sum("visits"), 100.0),
    "reschedule": (Count("pk", filter=Q(reschedules__gt=0)), Count("pk"), 100.0),
    "reschedule_self_service": (Sum("reschedules_self_service"), Sum("reschedules"), 100.0),
    "cancellation": (Count("pk", filter=Q(cancelled=True)), Count("pk"), 100.0),
    "lead_time_hours": (Sum("lead_time_hours"), Count("pk", filter=Q(lead_time_hours__isnull=False)), 1.0),
    "punctuality": (Sum("arrivals_on_time"), Sum("arrivals"), 100.0),
    "eta_error_minutes": (Sum("eta_error_minutes"), Sum("eta_measured"), 1.0),
    "delivery_rate": (Sum("messages_delivered"), Sum("messages_sent"), 100.0),
    "messages_per_request": (Sum("messages_sent"), Count("pk"), 1.0),
    "contacts_per_request": (Sum("contacts"), Count("pk"), 1.0),
    "csat": (Count("pk", filter=Q(csat__gte=4)), Count("csat"), 100.0),
    "nps": (
        Count("pk", filter=Q(nps__gte=9)) - Count("pk", filter=Q(nps__lte=6)),
        Count("nps"),
        100.0,
    ),
    "ces": (Sum("ces"), Count("ces"), 1.0),
}
_EMPTY_CASES = {"first_time_fix", "lead_time_hours", "csat", "nps", "ces"}


def _aggregates() -> dict[str, Any]:
    expressions = {}
    for key, (numerator, denominator, _scale) in _AGGREGATES.items():
        expressions[f"{key}__n"] = numerator
        expressions[f"{key}__d"] = denominator
    return expressions


def _values(row: dict[str, Any]) -> dict[str, KpiValue]:
    values = {}
    for key, (_numerator, _denominator, scale) in _AGGREGATES.items():
        numerator = float(row.get(f"{key}__n") or 0)
        denominator = int(row.get(f"{key}__d") or 0)
        value = numerator / denominator * scale if denominator else None
        values[key] = KpiValue(key=key, value=value, numerator=numerator, denominator=denominator)
    return values


def kpi_values(*, filters: InsightFilters) -> dict[str, KpiValue]:
    """Every KPI over the filtered cases (one query)."""
    return _values(filters.cases().aggregate(**_aggregates()))


def _labels(by: str, keys: list[Any]) -> dict[Any, str]:
    present = [key for key in keys if key not in (None, "")]
    if by == "technician":
        return dict(Technician.objects.filter(pk__in=present).values_list("pk", "name"))
    if by == "firm":
        return dict(Firm.objects.filter(pk__in=present).values_list("pk", "name"))
    if by == "defect_type":
        codes = VeraCode.objects.filter(kind=VeraCode.Kind.DEFECT_TYPE, code__in=present)
        return {code.code: str(code) for code in codes}
    return {}


def _group_key(by: str, value: Any) -> str:
    if value is None or value == "":
        return ""
    if by == "month":
        return f"{value:%Y-%m}"
    return str(value)


def kpi_breakdown(*, filters: InsightFilters, by: str) -> list[KpiGroup]:
    """Every KPI per month (of the report date), technician, firm, team
    (the technician's region), defect type or journey version, one query.
    Groups in their natural order (months and versions ascending, names
    alphabetically); cases without the dimension last, key ""."""
    if by not in BREAKDOWNS:
        raise ValueError(f"unknown breakdown {by!r}")
    field = {
        "month": "group",
        "technician": "technician_id",
        "firm": "firm_id",
        "team": "team",
        "defect_type": "defect_type",
        "journey_version": "journey_version",
    }[by]
    cases = filters.cases().order_by()
    if by == "month":
        cases = cases.annotate(group=TruncMonth("reported_on"))
    rows = list(cases.values(field).annotate(**_aggregates()))
    labels = _labels(by, [row[field] for row in rows])
    unknown = str(_("(none)"))
    groups = []
    for row in rows:
        value = row[field]
        key = _group_key(by, value)
        if not key:
            label = unknown
        elif by == "journey_version":
            label = str(_("version %(version)s") % {"version": value})
        else:
            label = labels.get(value, key)
        groups.append(KpiGroup(key=key, label=label, values=_values(row)))

    def order(group: KpiGroup) -> tuple[bool, Any]:
        if by == "journey_version":
            return (not group.key, int(group.key) if group.key else 0)
        if by in ("technician", "firm", "defect_type"):
            return (not group.key, group.label.lower())
        return (not group.key, group.key)

    return sorted(groups, key=order)


def kpi_total(groups: Iterable[KpiGroup]) -> dict[str, KpiValue]:
    """Every KPI over all the groups of a breakdown together. Each KPI is a
    sum over a sum, so the groups add up to the whole: a dashboard that shows
    the month breakdown gets the totals without a second query (equal to
    `kpi_values` of the same filters)."""
    numerators: dict[str, float] = dict.fromkeys(_AGGREGATES, 0.0)
    denominators: dict[str, int] = dict.fromkeys(_AGGREGATES, 0)
    for group in groups:
        for key, value in group.values.items():
            numerators[key] += value.numerator
            denominators[key] += value.denominator
    return {
        key: KpiValue(
            key=key,
            value=numerators[key] / denominators[key] * scale if denominators[key] else None,
            numerator=numerators[key],
            denominator=denominators[key],
        )
        for key, (_numerator, _denominator, scale) in _AGGREGATES.items()
    }


# Which cases count in each KPI's denominator, and which in its numerator.
_CASES: dict[str, tuple[Q, Q]] = {
    "first_time_fix": (Q(first_time_fix__isnull=False), Q(first_time_fix=True)),
    "not_home": (Q(visits__gt=0), Q(visits_not_home__gt=0)),
    "reschedule": (Q(), Q(reschedules__gt=0)),
    "reschedule_self_service": (Q(reschedules__gt=0), Q(reschedules_self_service__gt=0)),
    "cancellation": (Q(), Q(cancelled=True)),
    "lead_time_hours": (Q(lead_time_hours__isnull=False), Q(lead_time_hours__isnull=False)),
    "punctuality": (Q(arrivals__gt=0), Q(arrivals__gt=F("arrivals_on_time"))),
    "eta_error_minutes": (Q(eta_measured__gt=0), Q(eta_measured__gt=0)),
    "delivery_rate": (Q(messages_sent__gt=0), Q(messages_delivered__gt=0)),
    "messages_per_request": (Q(), Q(messages_sent__gt=0)),
    "contacts_per_request": (Q(), Q(contacts__gt=1)),
    "csat": (Q(csat__isnull=False), Q(csat__gte=4)),
    "nps": (Q(nps__isnull=False), Q(nps__gte=9)),
    "ces": (Q(ces__isnull=False), Q(ces__isnull=False)),
}


def kpi_cases(*, filters: InsightFilters, kpi: str, numerator: bool = False) -> QuerySet[CaseSummary]:
    """The cases behind the number: those in the KPI's denominator, or with
    `numerator` only those that count in it (for punctuality: the cases with
    a late arrival; for contacts: those with more than the report). Newest
    first."""
    if kpi not in _CASES:
        raise ValueError(f"unknown KPI {kpi!r}")
    denominator, counted = _CASES[kpi]
    cases = filters.cases().filter(denominator)
    if numerator:
        cases = cases.filter(counted)
    return cases.order_by("-reported_at", "-id")


def messages_by_channel(*, filters: InsightFilters) -> list[tuple[str, int, int]]:
    """(channel, sent, delivered) per channel, most sent first."""
    rows = (
        CaseChannel.objects.filter(case__in=filters.cases().order_by().values("pk"))
        .order_by()
        .values("channel")
        .annotate(sent_total=Sum("sent"), delivered_total=Sum("delivered"))
    )
    result = [(row["channel"], int(row["sent_total"] or 0), int(row["delivered_total"] or 0)) for row in rows]
    return sorted(result, key=lambda row: (-row[1], row[0]))


def kpi_compare(
    *, filters: InsightFilters, version_a: int, version_b: int
) -> dict[str, tuple[KpiValue, KpiValue]]:
    """Every KPI for the cases of journey version a beside those of version
    b, under the same other filters (the filters' own version is replaced)."""
    a = kpi_values(filters=replace(filters, journey_version=version_a))
    b = kpi_values(filters=replace(filters, journey_version=version_b))
    return {key: (a[key], b[key]) for key in a}
