"""The journey's KPIs, aggregated by the database over CaseSummary.

Each KPI's exact definition is in docs/insights.md, section "KPIs"."""

from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from klantreis.insights.filters import InsightFilters
from klantreis.insights.models import CaseSummary


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


def kpi_values(*, filters: InsightFilters) -> dict[str, KpiValue]:
    raise NotImplementedError


def kpi_breakdown(*, filters: InsightFilters, by: str) -> list[KpiGroup]:
    raise NotImplementedError


def kpi_cases(*, filters: InsightFilters, kpi: str) -> QuerySet[CaseSummary]:
    """The cases behind the number (its denominator), ordered newest first."""
    raise NotImplementedError


def messages_by_channel(*, filters: InsightFilters) -> list[tuple[str, int, int]]:
    """(channel, sent, delivered) per channel, most sent first."""
    raise NotImplementedError


def kpi_compare(
    *, filters: InsightFilters, version_a: int, version_b: int
) -> dict[str, tuple[KpiValue, KpiValue]]:
    raise NotImplementedError
