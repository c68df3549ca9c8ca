"""The insights dashboards: the KPIs with their charts, breakdown and
drill-down to cases, CSV exports, and the process view (directly-follows
graph, conformance as a task with a progress bar, sentiment per touchpoint,
XES / OCEL downloads). Designers, managers and administrators only."""

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_http_methods, require_POST

from klantreis.accounts.access import INSIGHTS_ROLES, request_user, role_required
from klantreis.core.errors import ApplicationError
from klantreis.core.http import HtmxHttpRequest
from klantreis.insights import charts
from klantreis.insights.filters import InsightFilters
from klantreis.insights.forms import (
    BREAKDOWN_LABELS,
    MESSAGE_CHOOSE,
    DashboardForm,
    InsightFilterForm,
    today,
)
from klantreis.insights.kpis import (
    KPI_BY_KEY,
    KPIS,
    Kpi,
    KpiGroup,
    kpi_breakdown,
    kpi_cases,
    kpi_compare,
    kpi_total,
    messages_by_channel,
)
from klantreis.insights.models import AnalysisRun, CaseSummary
from klantreis.insights.runs import active_definition, analysis_run_start, run_filters
from klantreis.journeys.models import JourneyDefinition
from klantreis.journeys.services import spec_for
from klantreis.planning.selectors import technician_names

HTMX_STOP_POLLING = 286
CASES_PER_PAGE = 50
# The filter a breakdown's group narrows, for its drill-down link.
GROUP_FILTER = {
    "technician": "technician",
    "firm": "firm",
    "team": "team",
    "defect_type": "defect_type",
    "journey_version": "journey_version",
}
DEVIATIONS = {
    "skipped": _lazy("skipped"),
    "extra": _lazy("extra"),
    "out_of_order": _lazy("out of order"),
    "late": _lazy("late"),
}
UNITS = {"%": "%", "hours": "h", "minutes": "min", "number": "", "score": ""}


def _link(name: str, query: dict[str, str], **extra: Any) -> str:
    pairs = query | {key: str(value) for key, value in extra.items() if value not in (None, "")}
    return f"{reverse(name)}?{urlencode(pairs)}" if pairs else reverse(name)


def _month_range(key: str) -> tuple[date, date] | None:
    """A month group's key ("2026-03") as its first and last day."""
    try:
        first = date.fromisoformat(f"{key[:7]}-01")
    except ValueError:
        return None
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, following - timedelta(days=1)


def _group_query(
    query: dict[str, str], *, by: str, group: KpiGroup, filters: InsightFilters
) -> dict[str, str]:
    if by == "month":
        month = _month_range(group.key)
        if month is None:
            return query
        start, end = max(month[0], filters.start), min(month[1], filters.end)
        if start > end:
            return query
        return query | {"start": start.isoformat(), "end": end.isoformat()}
    if group.key in ("", "None") or by not in GROUP_FILTER:
        return query
    return query | {GROUP_FILTER[by]: group.key}


def _fallback(form: InsightFilterForm) -> bool:
    """Whether the page shows the default period because a filter was wrong."""
    return form.is_bound and not form.filters_valid()


def _errors(form: InsightFilterForm) -> list[str]:
    """Every problem of the form as one sentence each, for the summary that
    htmx swaps in with the results (the fields' own errors are outside it)."""
    found = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        found += [f"{label}: {error}" if label else str(error) for error in errors]
    return found


@role_required(*INSIGHTS_ROLES)
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    form = DashboardForm(request.GET or None)
    filters = form.filters(on=today())
    query = form.query()
    chart_kpi: Kpi = KPI_BY_KEY.get(form.chosen("kpi", ""), KPIS[0])
    by: str = form.chosen("by", "technician")
    # The months add up to the whole period: one query for the figures and the chart.
    months = kpi_breakdown(filters=filters, by="month")
    values = kpi_total(months)
    figures = [
        {
            "kpi": kpi,
            "value": values.get(kpi.key),
            "text": charts.figure(values[kpi.key].value if kpi.key in values else None, kpi.unit),
            "unit": UNITS.get(kpi.unit, kpi.unit),
            "cases": _link("insights:cases", query, kpi=kpi.key),
        }
        for kpi in KPIS
    ]
    points = [
        charts.Point(
            group.label, group.values[chart_kpi.key].value if chart_kpi.key in group.values else None
        )
        for group in months
    ]
    chart_title = _("%(kpi)s per month") % {"kpi": chart_kpi.label}
    chart = (charts.line_chart if len(points) > 6 else charts.bar_chart)(
        title=chart_title, points=points, unit=chart_kpi.unit
    )
    month_rows = [
        {
            "label": group.label,
            "text": charts.figure(point.value, chart_kpi.unit),
            "cases": _link(
                "insights:cases",
                _group_query(query, by="month", group=group, filters=filters),
                kpi=chart_kpi.key,
            ),
        }
        for group, point in zip(months, points, strict=True)
    ]
    groups = kpi_breakdown(filters=filters, by=by)
    breakdown = [
        {
            "label": group.label,
            "cells": [
                {
                    "text": charts.figure(
                        group.values[kpi.key].value if kpi.key in group.values else None, kpi.unit
                    ),
                    "cases": _link(
                        "insights:cases",
                        _group_query(query, by=by, group=group, filters=filters),
                        kpi=kpi.key,
                    ),
                }
                for kpi in KPIS
            ],
        }
        for group in groups
    ]
    channels = [
        {
            "channel": channel,
            "sent": sent,
            "delivered": delivered,
            "rate": charts.figure(100 * delivered / sent if sent else None, "%"),
        }
        for channel, sent, delivered in messages_by_channel(filters=filters)
    ]
    version_a, version_b = form.chosen("version_a", None), form.chosen("version_b", None)
    comparison = None
    if version_a is not None and version_b is not None and version_a != version_b:
        compared = kpi_compare(filters=filters, version_a=version_a, version_b=version_b)
        comparison = [
            {
                "kpi": kpi,
                "a": charts.figure(compared[kpi.key][0].value, kpi.unit),
                "b": charts.figure(compared[kpi.key][1].value, kpi.unit),
                "a_cases": _link("insights:cases", query | {"journey_version": str(version_a)}, kpi=kpi.key),
                "b_cases": _link("insights:cases", query | {"journey_version": str(version_b)}, kpi=kpi.key),
                "change": _change(compared[kpi.key][0].value, compared[kpi.key][1].value, kpi),
            }
            for kpi in KPIS
            if kpi.key in compared
        ]
    context = {
        "form": form,
        "errors": _errors(form),
        "fallback": _fallback(form),
        "filters": filters,
        "figures": figures,
        "chart": chart,
        "chart_kpi": chart_kpi,
        "month_rows": month_rows,
        "by": by,
        "by_label": BREAKDOWN_LABELS.get(by, by),
        "kpis": KPIS,
        "breakdown": breakdown,
        "breakdown_csv": _link("insights:breakdown_csv", query, by=by),
        "channels": channels,
        "comparison": comparison,
        "version_a": version_a,
        "version_b": version_b,
    }
    template = "insights/dashboard.html#results" if request.htmx else "insights/dashboard.html"
    return render(request, template, context)


def _change(before: float | None, after: float | None, kpi: Kpi) -> str:
    """The difference after − before in the KPI's unit, with whether it is better."""
    if before is None or after is None:
        return "–"
    difference = after - before
    text = ("+" if difference > 0 else "") + charts.figure(difference, kpi.unit)
    if difference == 0 or kpi.higher_is_better is None:
        return text
    better = (difference > 0) == kpi.higher_is_better
    return f"{text} ({_('better') if better else _('worse')})"


def _cases_form(request: HttpRequest) -> tuple[InsightFilterForm, Kpi | None, str | None]:
    form = InsightFilterForm(request.GET or None)
    key = request.GET.get("kpi", "")
    kpi = KPI_BY_KEY.get(key)
    return form, kpi, None if kpi is not None else str(MESSAGE_CHOOSE)


def case_outcome(case: CaseSummary) -> str:
    """Where the case ended up, in words: cancelled, done, or its first visit's outcome."""
    if case.cancelled:
        return _("cancelled")
    outcome = str(case.get_first_outcome_display()) if case.first_outcome else ""
    if case.done_at is not None:
        return _("done") + (f" ({outcome})" if outcome else "")
    return outcome or _("open")


def _case_rows(cases: Sequence[CaseSummary]) -> list[dict[str, Any]]:
    names = technician_names(ids=(case.technician_id for case in cases if case.technician_id is not None))
    return [
        {
            "reference": case.reference,
            "reported_at": case.reported_at,
            "technician": names.get(case.technician_id, "") if case.technician_id is not None else "",
            "outcome": case_outcome(case),
        }
        for case in cases
    ]


def _case_queryset(cases: QuerySet[CaseSummary]) -> QuerySet[CaseSummary]:
    return cases.order_by("-reported_at", "-pk")


@role_required(*INSIGHTS_ROLES)
def cases(request: HttpRequest) -> HttpResponse:
    """The cases behind one figure, newest first, each linking to its request."""
    form, kpi, kpi_error = _cases_form(request)
    filters = form.filters(on=today())
    page = None
    if kpi is not None:
        page = Paginator(_case_queryset(kpi_cases(filters=filters, kpi=kpi.key)), CASES_PER_PAGE).get_page(
            request.GET.get("page")
        )
    query = form.query() | ({"kpi": kpi.key} if kpi else {})
    context = {
        "form": form,
        "errors": _errors(form) + ([_("KPI: %(error)s") % {"error": kpi_error}] if kpi_error else []),
        "fallback": _fallback(form),
        "kpi": kpi,
        "filters": filters,
        "page": page,
        "rows": _case_rows(list(page.object_list)) if page is not None else [],
        "query": urlencode(query),
        "csv": _link("insights:cases_csv", query),
        "back": _link("insights:dashboard", form.query()),
    }
    return render(request, "insights/cases.html", context, status=200 if kpi else 400)


# CSV ------------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading quote
    (OWASP "CSV injection"); numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_response(
    *, name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> StreamingHttpResponse:
    """Streams the rows, so a drill-down of 100,000 cases never sits in memory."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff"  # Excel opens UTF-8 (ë, €) right only with the byte-order mark
        yield writer.writerow([csv_safe(cell) for cell in header])
        for row in rows:
            yield writer.writerow([csv_safe(cell) for cell in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _value(value: float | None) -> str | float:
    return "" if value is None else round(value, 2)


@role_required(*INSIGHTS_ROLES)
def breakdown_csv(request: HttpRequest) -> HttpResponseBase:
    form = DashboardForm(request.GET or None)
    if form.is_bound and not form.filters_valid():
        return render(request, "insights/bad_request.html", {"errors": _errors(form)}, status=400)
    filters = form.filters(on=today())
    by: str = form.chosen("by", "technician")
    groups = kpi_breakdown(filters=filters, by=by)
    header = [capfirst(str(BREAKDOWN_LABELS.get(by, by)))] + [f"{kpi.label} ({kpi.unit})" for kpi in KPIS]
    rows = (
        [group.label, *(_value(group.values[k.key].value if k.key in group.values else None) for k in KPIS)]
        for group in groups
    )
    name = f"kpis-{by}-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.csv"
    return _csv_response(name=name, header=header, rows=rows)


@role_required(*INSIGHTS_ROLES)
def cases_csv(request: HttpRequest) -> HttpResponseBase:
    form, kpi, kpi_error = _cases_form(request)
    if kpi is None or (form.is_bound and not form.filters_valid()):
        errors = _errors(form) + ([_("KPI: %(error)s") % {"error": kpi_error}] if kpi_error else [])
        return render(request, "insights/bad_request.html", {"errors": errors}, status=400)
    filters = form.filters(on=today())
    queryset = _case_queryset(kpi_cases(filters=filters, kpi=kpi.key))
    rows = (
        [row["reference"], row["reported_at"].isoformat(), row["technician"], row["outcome"]]
        for chunk in _chunks(queryset.iterator(chunk_size=2000))
        for row in _case_rows(chunk)
    )
    header = [_("Reference"), _("Reported"), _("Technician"), _("Outcome")]
    name = f"cases-{kpi.key}-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.csv"
    return _csv_response(name=name, header=header, rows=rows)


def _chunks(items: Iterator[CaseSummary], size: int = 500) -> Iterator[list[CaseSummary]]:
    chunk: list[CaseSummary] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# Process mining ---------------------------------------------------------------


def _latest_runs(filters: InsightFilters) -> dict[str, AnalysisRun]:
    """The newest run of each kind for exactly these filters."""
    wanted = filters.as_params()
    latest: dict[str, AnalysisRun] = {}
    for run in AnalysisRun.objects.order_by("-created_at", "-pk")[:50]:
        if run.kind not in latest and run.params.get("filters") == wanted:
            latest[run.kind] = run
    return latest


@role_required(*INSIGHTS_ROLES)
def process(request: HttpRequest) -> HttpResponse:
    from klantreis.insights import mining

    form = InsightFilterForm(request.GET or None)
    filters = form.filters(on=today())
    cases = filters.cases().values_list("case_id", flat=True)
    graph = mining.directly_follows(cases=cases)
    edges = sorted(graph.edges.items(), key=lambda item: (-item[1], item[0]))
    largest = max((count for _edge, count in edges), default=0)
    definition = active_definition()
    language = (get_language() or "nl")[:2]
    rows = mining.sentiment(definition=definition, cases=cases, language=language) if definition else []
    sentiment_chart = None
    if rows:
        sentiment_chart = charts.sentiment_chart(
            title=_("Designed and measured sentiment per touchpoint"),
            desc="; ".join(
                _("%(name)s: designed %(designed)s, measured %(measured)s%(marks)s")
                % {
                    "name": row.name,
                    "designed": charts.figure(row.designed),
                    "measured": charts.figure(row.measured),
                    "marks": (_(", peak") if row.peak else "") + (_(", end") if row.end else ""),
                }
                for row in rows
            ),
            points=[
                charts.SentimentPoint(
                    label=row.name,
                    designed=row.designed,
                    measured=row.measured,
                    peak=row.peak,
                    end=row.end,
                )
                for row in rows
            ],
        )
    context = {
        "form": form,
        "errors": _errors(form),
        "fallback": _fallback(form),
        "filters": filters,
        "query": form.query(),
        "activities": sorted(graph.activities.items(), key=lambda item: (-item[1], item[0])),
        "edges": [
            {"source": source, "target": target, "count": count, "width": round(100 * count / largest)}
            for (source, target), count in edges
        ],
        "starts": sorted(graph.start.items(), key=lambda item: -item[1]),
        "ends": sorted(graph.end.items(), key=lambda item: -item[1]),
        "definition": definition,
        "sentiment": [
            {
                "row": row,
                "measured": charts.figure(row.measured),
                "designed": charts.figure(row.designed),
            }
            for row in rows
        ],
        "sentiment_chart": sentiment_chart,
        "runs": _latest_runs(filters),
        "kinds": AnalysisRun.Kind,
    }
    return render(request, "insights/process.html", context)


@role_required(*INSIGHTS_ROLES)
@require_POST
def run_start(request: HttpRequest) -> HttpResponse:
    form = InsightFilterForm(request.POST)
    kind = request.POST.get("kind", "")
    back = _link("insights:process", form.query())
    if not form.filters_valid():
        for error in _errors(form):
            messages.error(request, error)
        return redirect(back)
    try:
        run = analysis_run_start(kind=kind, filters=form.filters(on=today()), actor=request_user(request))
    except ApplicationError as error:
        messages.error(request, str(error.message))
        return redirect(back)
    return redirect("insights:run", run_id=run.pk)


@role_required(*INSIGHTS_ROLES)
@require_http_methods(["GET"])
def run(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    analysis = get_object_or_404(AnalysisRun, pk=run_id)
    finished = analysis.status in (AnalysisRun.Status.DONE, AnalysisRun.Status.FAILED)
    deviations = []
    if analysis.kind == AnalysisRun.Kind.CONFORMANCE and analysis.status == AnalysisRun.Status.DONE:
        names = _touchpoint_names(analysis)
        for deviation in (analysis.result or {}).get("deviations", []):
            deviations.append(
                deviation
                | {
                    "kind_label": DEVIATIONS.get(deviation["kind"], deviation["kind"]),
                    "touchpoint_name": names.get(deviation["touchpoint"], deviation["touchpoint"]),
                    "share_text": charts.figure(100 * float(deviation.get("share", 0)), "%"),
                    "cases_url": reverse("insights:run_cases", kwargs={"run_id": analysis.pk})
                    + "?"
                    + urlencode({"kind": deviation["kind"], "touchpoint": deviation["touchpoint"]}),
                }
            )
    context = {
        "run": analysis,
        "finished": finished,
        "deviations": deviations,
        "fitting_share": _share((analysis.result or {}).get("fitting"), (analysis.result or {}).get("cases")),
        "back": _link("insights:process", _filters_query(analysis)),
    }
    if request.htmx:
        status = HTMX_STOP_POLLING if finished else 200
        return render(request, "insights/run.html#state", context, status=status)
    return render(request, "insights/run.html", context)


def _touchpoint_names(analysis: AnalysisRun) -> dict[str, str]:
    """The touchpoints' names in the reader's language, from the definition the run checked."""
    wanted = analysis.params.get("definition", {})
    definition = JourneyDefinition.objects.filter(
        key=wanted.get("key"), version=wanted.get("version")
    ).first()
    if definition is None:
        return {}
    language = get_language() or "nl"
    return {
        touchpoint.id: touchpoint.name.get(language[:2]) or touchpoint.name.get("en") or touchpoint.id
        for touchpoint in spec_for(definition).touchpoints
    }


def _share(part: Any, whole: Any) -> str:
    if not isinstance(part, int) or not isinstance(whole, int) or whole == 0:
        return "–"
    return charts.figure(100 * part / whole, "%")


def _filters_query(analysis: AnalysisRun) -> dict[str, str]:
    raw = analysis.params.get("filters", {})
    return {key: str(value) for key, value in raw.items() if value not in (None, "")}


@role_required(*INSIGHTS_ROLES)
def run_file(request: HttpRequest, run_id: int) -> FileResponse:
    analysis = get_object_or_404(AnalysisRun, pk=run_id, status=AnalysisRun.Status.DONE)
    if not analysis.file:
        raise Http404
    name = (analysis.file.name or "").rsplit("/", 1)[-1]
    return FileResponse(analysis.file.open("rb"), as_attachment=True, filename=name)


@role_required(*INSIGHTS_ROLES)
def run_cases(request: HttpRequest, run_id: int) -> HttpResponse:
    """The cases behind one deviation of a conformance run."""
    from klantreis.insights import mining

    analysis = get_object_or_404(
        AnalysisRun, pk=run_id, kind=AnalysisRun.Kind.CONFORMANCE, status=AnalysisRun.Status.DONE
    )
    kind = request.GET.get("kind", "")
    touchpoint = request.GET.get("touchpoint", "")
    deviation = next(
        (
            d
            for d in (analysis.result or {}).get("deviations", [])
            if (d.get("kind"), d.get("touchpoint")) == (kind, touchpoint)
        ),
        None,
    )
    if deviation is None:
        raise Http404
    ids = deviation.get("case_ids")
    if ids is None:  # a run stored before the case ids were kept: check again
        wanted = analysis.params.get("definition", {})
        definition = get_object_or_404(
            JourneyDefinition, key=wanted.get("key"), version=wanted.get("version")
        )
        ids = mining.conformance_cases(
            definition=definition,
            kind=kind,
            touchpoint=touchpoint,
            cases=run_filters(analysis).cases().values_list("case_id", flat=True),
        )
    page = Paginator(_case_queryset(CaseSummary.objects.filter(case_id__in=ids)), CASES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "run": analysis,
        "kind": kind,
        "touchpoint": touchpoint,
        "page": page,
        "rows": _case_rows(list(page.object_list)),
        "query": urlencode({"kind": kind, "touchpoint": touchpoint}),
        "back": reverse("insights:run", kwargs={"run_id": analysis.pk}),
    }
    return render(request, "insights/run_cases.html", context)
