"""The filters every insight takes: a report-date range and the breakdown
dimensions, read from and written to query strings / AnalysisRun.params."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import QuerySet

from klantreis.insights.models import CaseSummary

DEFAULT_DAYS = 90
# A range longer than this is cut (a hostile query string must not ask for centuries).
MAX_DAYS = 366 * 10


def _date(value: Any) -> date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 < value < 2**62 else None
    if not isinstance(value, str) or not value.strip().isdigit() or len(value.strip()) > 18:
        return None
    number = int(value.strip())
    return number if number > 0 else None


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str):
        return ""
    return value.strip()[:limit]


@dataclass(frozen=True)
class InsightFilters:
    start: date  # report date, organisation's time zone, inclusive
    end: date  # inclusive
    technician_id: int | None = None
    firm_id: int | None = None
    team: str = ""  # Technician.region
    defect_type: str = ""  # VERA defect type code
    journey_version: int | None = None

    def cases(self) -> QuerySet[CaseSummary]:
        cases = CaseSummary.objects.filter(reported_on__gte=self.start, reported_on__lte=self.end)
        if self.technician_id is not None:
            cases = cases.filter(technician_id=self.technician_id)
        if self.firm_id is not None:
            cases = cases.filter(firm_id=self.firm_id)
        if self.team:
            cases = cases.filter(team=self.team)
        if self.defect_type:
            cases = cases.filter(defect_type=self.defect_type)
        if self.journey_version is not None:
            cases = cases.filter(journey_version=self.journey_version)
        return cases

    def as_params(self) -> dict[str, Any]:
        """Only what is set, as strings (a query string and JSON alike)."""
        params: dict[str, Any] = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.technician_id is not None:
            params["technician"] = str(self.technician_id)
        if self.firm_id is not None:
            params["firm"] = str(self.firm_id)
        if self.team:
            params["team"] = self.team
        if self.defect_type:
            params["defect_type"] = self.defect_type
        if self.journey_version is not None:
            params["journey_version"] = str(self.journey_version)
        return params

    @classmethod
    def from_params(cls, params: Mapping[str, Any], *, today: date) -> "InsightFilters":
        """Lenient: a missing or unreadable value falls back to its default
        (the last 90 days up to today; no other filter) rather than failing."""
        end = _date(params.get("end")) or today
        start = _date(params.get("start")) or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            start, end = end, start
        if (end - start).days > MAX_DAYS:
            start = end - timedelta(days=MAX_DAYS)
        return cls(
            start=start,
            end=end,
            technician_id=_int(params.get("technician")),
            firm_id=_int(params.get("firm")),
            team=_text(params.get("team"), 100),
            defect_type=_text(params.get("defect_type"), 20),
            journey_version=_int(params.get("journey_version")),
        )
