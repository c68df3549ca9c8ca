"""The dashboards' filters: a GET form that works without JavaScript.

Every choice is checked against a list (never looked up by the raw value),
so an unknown id, a hostile string or a number too large for the database
is a plain "choose from the list" error, and the page still renders with
the default period.
"""

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.utils.translation import gettext_lazy as _

from klantreis.core import clock
from klantreis.core.models import Organisation
from klantreis.insights.filters import InsightFilters
from klantreis.insights.kpis import BREAKDOWNS, KPIS
from klantreis.intake.models import VeraCode
from klantreis.journeys.models import JourneyDefinition
from klantreis.planning.models import Firm, Technician

DEFAULT_DAYS = 90
# The log starts with the organisation; a date outside these years is a typo.
EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)

MESSAGE_DATE_INVALID = _("Enter a date like 2026-03-31.")
MESSAGE_DATE_RANGE = _("Enter a date between 2000 and 2100.")
MESSAGE_END_BEFORE_START = _("The end of the period is before its start.")
MESSAGE_CHOOSE = _("Choose one from the list.")
MESSAGE_SAME_VERSION = _("Choose two different journey versions to compare.")
MESSAGE_BOTH_VERSIONS = _("Choose both journey versions to compare.")

FILTER_FIELDS = ("start", "end", "technician", "firm", "team", "defect_type", "journey_version")

BREAKDOWN_LABELS = {
    "month": _("month"),
    "technician": _("technician"),
    "firm": _("firm"),
    "team": _("team"),
    "defect_type": _("defect type"),
    "journey_version": _("journey version"),
}


def today() -> date:
    """Today in the organisation's time zone: the periods are report dates there."""
    return clock.now().astimezone(ZoneInfo(Organisation.current().time_zone)).date()


def default_period(*, on: date) -> tuple[date, date]:
    return on - timedelta(days=DEFAULT_DAYS - 1), on


def _date_field(label: Any) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": MESSAGE_DATE_INVALID},
    )


def _choice(
    label: Any, choices: list[tuple[Any, Any]], *, coerce: Any = str, empty: Any = None
) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        choices=[("", empty or _("all"))] + choices,
        coerce=coerce,
        empty_value=None if coerce is int else "",
        required=False,
        error_messages={"invalid_choice": MESSAGE_CHOOSE},
    )


def journey_versions() -> list[int]:
    return sorted(set(JourneyDefinition.objects.values_list("version", flat=True)))


class InsightFilterForm(forms.Form):
    """The filters of both dashboards; the view turns them into InsightFilters."""

    start = _date_field(_("From"))
    end = _date_field(_("Until"))

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        technicians = Technician.objects.order_by("name").values_list("pk", "name")
        firms = Firm.objects.order_by("name").values_list("pk", "name")
        teams = (
            Technician.objects.exclude(region="")
            .order_by("region")
            .values_list("region", flat=True)
            .distinct()
        )
        defects = VeraCode.objects.filter(kind=VeraCode.Kind.DEFECT_TYPE).order_by("code")
        versions = journey_versions()
        self.fields["technician"] = _choice(_("Technician"), list(technicians), coerce=int)
        self.fields["firm"] = _choice(_("Firm"), list(firms), coerce=int)
        self.fields["team"] = _choice(_("Team"), [(team, team) for team in teams])
        self.fields["defect_type"] = _choice(_("Defect type"), [(d.code, d.label) for d in defects])
        self.fields["journey_version"] = _choice(
            _("Journey version"), [(v, _("version %(n)s") % {"n": v}) for v in versions], coerce=int
        )

    def _clean_date(self, name: str) -> date | None:
        value: date | None = self.cleaned_data.get(name)
        if value is not None and not EARLIEST <= value <= LATEST:
            raise forms.ValidationError(MESSAGE_DATE_RANGE)
        return value

    def clean_start(self) -> date | None:
        return self._clean_date("start")

    def clean_end(self) -> date | None:
        return self._clean_date("end")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", MESSAGE_END_BEFORE_START)
        return data

    def filters(self, *, on: date) -> InsightFilters:
        """The filters asked for; the default period (the last 90 days) when the
        form is empty or wrong, so the page always shows something true."""
        start, end = default_period(on=on)
        if not self.filters_valid():
            return InsightFilters(start=start, end=end)
        data = self.cleaned_data
        start = data["start"] or (data["end"] - timedelta(days=DEFAULT_DAYS - 1) if data["end"] else start)
        end = data["end"] or max(end, start)
        return InsightFilters(
            start=start,
            end=end,
            technician_id=data.get("technician"),
            firm_id=data.get("firm"),
            team=data.get("team") or "",
            defect_type=data.get("defect_type") or "",
            journey_version=data.get("journey_version"),
        )

    def filters_valid(self) -> bool:
        if not self.is_bound:
            return False
        self.is_valid()
        return not any(name in self.errors for name in FILTER_FIELDS)

    def query(self) -> dict[str, str]:
        """The valid filters as query-string pairs (for links: drill-down, CSV)."""
        if not self.filters_valid():
            return {}
        pairs = {}
        for name in FILTER_FIELDS:
            value = self.cleaned_data.get(name)
            if value not in (None, ""):
                pairs[name] = value.isoformat() if isinstance(value, date) else str(value)
        return pairs


class DashboardForm(InsightFilterForm):
    """The KPI dashboard adds: which KPI to chart, the breakdown, two versions to compare."""

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.fields["kpi"] = forms.ChoiceField(
            label=_("KPI in the chart"),
            choices=[(kpi.key, kpi.label) for kpi in KPIS],
            required=False,
            error_messages={"invalid_choice": MESSAGE_CHOOSE},
        )
        self.fields["by"] = forms.ChoiceField(
            label=_("Break down by"),
            choices=[(key, BREAKDOWN_LABELS.get(key, key)) for key in BREAKDOWNS if key != "month"],
            required=False,
            error_messages={"invalid_choice": MESSAGE_CHOOSE},
        )
        versions = [(v, _("version %(n)s") % {"n": v}) for v in journey_versions()]
        self.fields["version_a"] = _choice(_("Before: version"), versions, coerce=int, empty=_("none"))
        self.fields["version_b"] = _choice(_("After: version"), versions, coerce=int, empty=_("none"))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        a, b = data.get("version_a"), data.get("version_b")
        if (a is None) != (b is None) and "version_a" not in self.errors and "version_b" not in self.errors:
            self.add_error("version_b" if b is None else "version_a", MESSAGE_BOTH_VERSIONS)
        elif a is not None and a == b:
            self.add_error("version_b", MESSAGE_SAME_VERSION)
        return data

    def chosen(self, name: str, default: Any) -> Any:
        """A display choice (kpi, by, versions), valid even when a filter is not."""
        if not self.is_bound:
            return default
        self.is_valid()
        value = self.cleaned_data.get(name)
        return default if name in self.errors or value in (None, "") else value
