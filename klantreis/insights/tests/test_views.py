"""The insights dashboards: who may open them, what they show for a small
set of case summaries with known figures, bad filter input, the drill-down,
the CSV exports and their formula guard, and the analysis runs."""

import csv
import io
from datetime import date, datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils.html import escape

from klantreis.accounts.tests.factories import UserFactory
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.insights.charts import Point, bar_chart, line_chart
from klantreis.insights.forms import (
    MESSAGE_CHOOSE,
    MESSAGE_DATE_INVALID,
    MESSAGE_DATE_RANGE,
    MESSAGE_END_BEFORE_START,
)
from klantreis.insights.models import AnalysisRun, CaseSummary
from klantreis.insights.runs import MESSAGE_NO_ACTIVE_JOURNEY, analysis_run_execute
from klantreis.insights.views import csv_safe
from klantreis.journeys.models import JourneyDefinition
from klantreis.journeys.services import DEFAULTS_DIR
from klantreis.planning.tests.factories import FirmFactory, TechnicianFactory

pytestmark = pytest.mark.django_db

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
ALLOWED = ["designer", "manager", "admin"]
FORBIDDEN = ["customer", "agent", "planner", "technician", "subcontractor"]
DASHBOARD = reverse("insights:dashboard")
CASES = reverse("insights:cases")
BREAKDOWN_CSV = reverse("insights:breakdown_csv")
CASES_CSV = reverse("insights:cases_csv")
PROCESS = reverse("insights:process")
_numbers = count(1)


def user_with(role: str, language: str = "en"):
    if role == "customer":
        return CustomerFactory(user__language=language).user
    return UserFactory(role=role, language=language)


def summary(*, day: date, **fields) -> CaseSummary:
    """A case summary as insights_refresh would fold it (only what the test needs)."""
    number = next(_numbers)
    reported = datetime(day.year, day.month, day.day, 10, tzinfo=AMSTERDAM)
    defaults = {
        "case_id": f"case-{number}",
        "reference": f"R-{number:05d}",
        "reported_at": reported,
        "reported_on": day,
        "journey_key": "repair",
        "journey_version": 1,
    }
    return CaseSummary.objects.create(**(defaults | fields))


@pytest.fixture
def manager(client):
    user = user_with("manager")
    client.force_login(user)
    return user


@pytest.fixture
def cases(fixed_clock):
    """Four cases in the default period (the clock says 10 March 2026): Piet
    fixed two first time, Klaas one of two (the other: not fixed)."""
    firm = FirmFactory(name="Eigen dienst", kind="in_house")
    piet = TechnicianFactory(name="Piet Loodgieter", firm=firm, region="Noord")
    klaas = TechnicianFactory(name="Klaas Elektra", firm=firm, region="Zuid")
    fixed = {"visits": 1, "visits_fixed": 1, "first_outcome": "fixed", "first_time_fix": True}
    not_fixed = {"visits": 1, "visits_not_fixed": 1, "first_outcome": "not_fixed", "first_time_fix": False}
    common = {"firm_id": firm.pk, "defect_type": "LEK"}
    return {
        "piet": piet,
        "klaas": klaas,
        "firm": firm,
        "rows": [
            summary(day=date(2026, 2, 2), technician_id=piet.pk, team="Noord", **common, **fixed),
            summary(day=date(2026, 3, 2), technician_id=piet.pk, team="Noord", **common, **fixed),
            summary(day=date(2026, 3, 3), technician_id=klaas.pk, team="Zuid", **common, **fixed),
            summary(day=date(2026, 3, 4), technician_id=klaas.pk, team="Zuid", **common, **not_fixed),
        ],
    }


def rows_of(response) -> list[list[str]]:
    content = b"".join(response.streaming_content).decode("utf-8")
    assert content.startswith("\ufeff")
    return list(csv.reader(io.StringIO(content[1:])))


def a_run(**fields) -> AnalysisRun:
    defaults = {
        "kind": AnalysisRun.Kind.CONFORMANCE,
        "params": {"filters": {"start": "2026-01-01", "end": "2026-03-10"}},
        "created_at": datetime(2026, 3, 10, 9, tzinfo=AMSTERDAM),
    }
    return AnalysisRun.objects.create(**(defaults | fields))


def run_urls(run: AnalysisRun) -> list[str]:
    return [
        reverse("insights:run", kwargs={"run_id": run.pk}),
        reverse("insights:run_file", kwargs={"run_id": run.pk}),
        reverse("insights:run_cases", kwargs={"run_id": run.pk}) + "?kind=skipped&touchpoint=reminder",
    ]


PAGES = [
    DASHBOARD,
    CASES + "?kpi=first_time_fix",
    BREAKDOWN_CSV,
    CASES_CSV + "?kpi=first_time_fix",
    PROCESS,
]


# Who may open what -------------------------------------------------------------


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_is_sent_to_sign_in(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:sign_in"))


@pytest.mark.parametrize("role", FORBIDDEN)
@pytest.mark.parametrize("url", PAGES)
def test_other_roles_are_refused(client, fixed_clock, role, url):
    client.force_login(user_with(role))

    assert client.get(url).status_code == 403


@pytest.mark.parametrize("role", FORBIDDEN)
def test_other_roles_cannot_see_or_start_runs(client, fixed_clock, role):
    run = a_run(status=AnalysisRun.Status.DONE, result={"cases": 0, "fitting": 0, "deviations": []})
    client.force_login(user_with(role))

    for url in run_urls(run):
        assert client.get(url).status_code == 403
    assert client.post(reverse("insights:run_start"), {"kind": "conformance"}).status_code == 403
    assert AnalysisRun.objects.count() == 1


def test_anonymous_cannot_start_a_run(client):
    response = client.post(reverse("insights:run_start"), {"kind": "conformance"})

    assert response.status_code == 302
    assert AnalysisRun.objects.count() == 0


@pytest.mark.parametrize("role", ALLOWED)
@pytest.mark.parametrize("url", PAGES)
def test_designer_manager_and_admin_open_every_page(client, cases, role, url):
    client.force_login(user_with(role))

    assert client.get(url).status_code == 200


@pytest.mark.parametrize("role", ALLOWED + FORBIDDEN)
def test_the_menu_shows_insights_to_whom_may_open_them(client, role):
    client.force_login(user_with(role))

    response = client.get(reverse("home"), follow=True)

    assert (f'href="{DASHBOARD}"' in response.content.decode()) == (role in ALLOWED)


def test_a_manager_reads_requests_and_the_board_but_changes_nothing(client, manager, fixed_clock):
    assert client.get(reverse("workspace:home")).status_code == 200
    assert client.get(reverse("workspace:board")).status_code == 200
    assert client.get(reverse("workspace:tasks")).status_code == 200
    assert client.post(reverse("workspace:board_replan")).status_code == 403
    assert client.get(reverse("workspace:customer_search")).status_code == 403
    assert client.get(reverse("workspace:journeys")).status_code == 403


# The KPI dashboard ---------------------------------------------------------------


def test_dashboard_shows_the_figures_with_their_cases(client, manager, cases):
    response = client.get(DASHBOARD)

    content = response.content.decode()
    assert response.status_code == 200
    # 3 of the 4 cases fixed first time.
    assert '<span class="kpi-value">75 %</span>' in content
    assert f'href="{CASES}?kpi=first_time_fix"' in content
    assert "Reported 11 December 2025 to 10 March 2026" in content
    assert 'role="img"' in content
    assert "<title" in content
    assert "<desc" in content


def test_dashboard_breaks_down_by_technician_with_drill_down_links(client, manager, cases):
    response = client.get(DASHBOARD, {"by": "technician", "kpi": "first_time_fix"})

    content = response.content.decode()
    assert "Piet Loodgieter" in content
    assert "Klaas Elektra" in content
    piet = cases["piet"].pk
    assert escape(f"{CASES}?technician={piet}&kpi=first_time_fix") in content
    assert escape(f"{BREAKDOWN_CSV}?by=technician") in content


def test_dashboard_filters_on_a_technician(client, manager, cases):
    response = client.get(DASHBOARD, {"technician": cases["klaas"].pk})

    content = response.content.decode()
    # Klaas fixed one of two first time.
    assert '<span class="kpi-value">50 %</span>' in content
    assert escape(f"{CASES}?technician={cases['klaas'].pk}&kpi=first_time_fix") in content


def test_dashboard_htmx_swaps_only_the_results(client, manager, cases):
    response = client.get(DASHBOARD, {"technician": cases["piet"].pk}, headers={"HX-Request": "true"})

    content = response.content.decode()
    assert content.lstrip().startswith('<div id="results">')
    assert "<form" not in content
    assert '<span class="kpi-value">100 %</span>' in content


def test_dashboard_compares_two_journey_versions(client, manager, cases, shipped_versions):
    summary(day=date(2026, 3, 5), journey_version=2, visits=1, first_outcome="fixed", first_time_fix=True)

    response = client.get(DASHBOARD, {"version_a": 1, "version_b": 2})

    content = response.content.decode()
    assert "Before and after: version 1 and version 2" in content
    assert "+25 % (better)" in content


@pytest.fixture
def shipped_versions(db):
    """Versions 1 and 2 of the shipped repair journey, 2 the active one."""
    source = (DEFAULTS_DIR / "repair.yaml").read_text()
    for version in (1, 2):
        JourneyDefinition.objects.create(
            key="repair",
            version=version,
            source=source,
            active=version == 2,
            created_at=datetime(2026, 1, 1, tzinfo=AMSTERDAM),
        )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start": "31-02-2026"}, MESSAGE_DATE_INVALID),
        ({"start": "2026-02-30"}, MESSAGE_DATE_INVALID),
        ({"start": "1900-01-01"}, MESSAGE_DATE_RANGE),
        ({"end": "9999-12-31"}, MESSAGE_DATE_RANGE),
        ({"start": "2026-03-10", "end": "2026-03-01"}, MESSAGE_END_BEFORE_START),
        ({"technician": "424242"}, MESSAGE_CHOOSE),
        ({"technician": "9" * 40}, MESSAGE_CHOOSE),
        ({"firm": "-1"}, MESSAGE_CHOOSE),
        ({"team": "<script>alert(1)</script>"}, MESSAGE_CHOOSE),
        ({"defect_type": "' OR 1=1 --"}, MESSAGE_CHOOSE),
        ({"journey_version": "1e308"}, MESSAGE_CHOOSE),
        ({"kpi": "drop table"}, MESSAGE_CHOOSE),
        ({"by": "password"}, MESSAGE_CHOOSE),
    ],
)
def test_bad_filters_get_a_clear_error_and_the_page_still_renders(client, manager, cases, query, message):
    response = client.get(DASHBOARD, query)

    content = response.content.decode()
    assert response.status_code == 200
    assert escape(str(message)) in content
    assert 'class="error-summary" role="alert"' in content
    assert "<script>alert(1)</script>" not in content
    # The figures are still there.
    assert 'class="kpi-value"' in content


def test_a_wrong_filter_falls_back_to_the_default_period(client, manager, cases):
    response = client.get(DASHBOARD, {"technician": "424242", "start": "2026-03-01"})

    content = response.content.decode()
    assert "The figures below are for the last 90 days, without the other filters." in content
    assert '<span class="kpi-value">75 %</span>' in content


def test_errors_are_in_the_users_language(client, cases):
    client.force_login(user_with("manager", language="nl"))

    response = client.get(DASHBOARD, {"start": "2026-03-10", "end": "2026-03-01"})

    assert response.status_code == 200
    assert '<html lang="nl">' in response.content.decode()


# Drill-down ------------------------------------------------------------------------


def test_drill_down_lists_the_cases_behind_the_figure(client, manager, cases):
    response = client.get(CASES, {"kpi": "first_time_fix", "technician": cases["klaas"].pk})

    content = response.content.decode()
    klaas_rows = cases["rows"][2:]
    assert response.status_code == 200
    for row in klaas_rows:
        assert f'href="{reverse("workspace:request_detail", kwargs={"reference": row.reference})}"' in content
    for row in cases["rows"][:2]:
        assert row.reference not in content
    assert "Klaas Elektra" in content
    assert "not fixed" in content
    assert "2 cases reported 11 December 2025 to 10 March 2026." in content


def test_drill_down_is_paginated(client, manager, fixed_clock):
    for day in range(60):
        summary(
            day=date(2026, 1, 1) + timedelta(days=day), visits=1, first_outcome="fixed", first_time_fix=True
        )

    first = client.get(CASES, {"kpi": "first_time_fix"}).content.decode()
    second = client.get(CASES, {"kpi": "first_time_fix", "page": 2}).content.decode()

    assert first.count('href="/desk/requests/') == 50
    assert second.count('href="/desk/requests/') == 10
    assert "Page 2 of 2" in second


def test_drill_down_without_a_known_kpi_says_so(client, manager, cases):
    response = client.get(CASES, {"kpi": "<b>nope</b>"})

    content = response.content.decode()
    assert response.status_code == 400
    assert escape(str(MESSAGE_CHOOSE)) in content
    assert "<b>nope</b>" not in content


# CSV -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["=1+2", "+1", "-1", "@SUM(A1)", "\t=1", '=HYPERLINK("http://x")'])
def test_csv_safe_quotes_what_a_spreadsheet_would_run(value):
    assert csv_safe(value) == "'" + value


@pytest.mark.parametrize("value", ["Piet", "", "1-2", 3.5, -2.0, None])
def test_csv_safe_leaves_the_rest(value):
    assert csv_safe(value) == value


def test_breakdown_csv_has_the_table_and_guards_formulas(client, manager, cases):
    cases["piet"].name = '=HYPERLINK("http://evil.example","klik")'
    cases["piet"].save()

    response = client.get(BREAKDOWN_CSV, {"by": "technician"})

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="kpis-technician-20251211-20260310.csv"'
    rows = rows_of(response)
    assert rows[0][:3] == ["Technician", "First-time fix (%)", "Not home (%)"]
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name['\'=HYPERLINK("http://evil.example","klik")'][1] == "100.0"
    assert by_name["Klaas Elektra"][1] == "50.0"


def test_cases_csv_lists_the_drill_down(client, manager, cases):
    cases["klaas"].name = "@Klaas"
    cases["klaas"].save()

    response = client.get(CASES_CSV, {"kpi": "first_time_fix", "technician": cases["klaas"].pk})

    assert response.streaming
    assert (
        response["Content-Disposition"] == 'attachment; filename="cases-first_time_fix-20251211-20260310.csv"'
    )
    rows = rows_of(response)
    assert rows[0] == ["Reference", "Reported", "Technician", "Outcome"]
    assert sorted(row[0] for row in rows[1:]) == sorted(row.reference for row in cases["rows"][2:])
    assert {row[2] for row in rows[1:]} == {"'@Klaas"}
    assert {row[3] for row in rows[1:]} == {"fixed", "not fixed"}


def test_csv_with_bad_filters_is_refused_with_the_reason(client, manager, cases):
    response = client.get(CASES_CSV, {"kpi": "first_time_fix", "end": "2026-01-01", "start": "2026-02-01"})

    assert response.status_code == 400
    assert escape(str(MESSAGE_END_BEFORE_START)) in response.content.decode()
    assert client.get(CASES_CSV, {"kpi": "x"}).status_code == 400
    assert client.get(BREAKDOWN_CSV, {"start": "nope"}).status_code == 400


# Charts ------------------------------------------------------------------------------


def test_charts_are_accessible_svg_without_outside_assets():
    points = [Point("jan", 50.0), Point("feb", None), Point("<mrt>", 75.0)]

    for chart in (
        bar_chart(title="FTF & co", points=points, unit="%"),
        line_chart(title="FTF", points=points, unit="%"),
    ):
        assert chart.startswith('<svg class="chart" role="img"')
        assert "aria-labelledby=" in chart
        assert "<desc" in chart
        assert "jan: 50 %; feb: –; &lt;mrt&gt;: 75 %" in chart
        assert "<mrt>" not in chart
        assert "http" not in chart.replace("http://www.w3.org", "")
        assert "style=" not in chart


# Analysis runs -------------------------------------------------------------------------


def test_a_failed_run_shows_its_error(client, manager):
    run = a_run(status=AnalysisRun.Status.FAILED, progress=40, error="The event log could not be read.")

    response = client.get(reverse("insights:run", kwargs={"run_id": run.pk}))

    content = response.content.decode()
    assert "The analysis failed" in content
    assert "The event log could not be read." in content
    assert "hx-trigger" not in content


def test_a_running_run_shows_progress_and_is_polled(client, manager):
    run = a_run(status=AnalysisRun.Status.RUNNING, progress=40)
    url = reverse("insights:run", kwargs={"run_id": run.pk})

    page = client.get(url).content.decode()
    fragment = client.get(url, headers={"HX-Request": "true"})

    assert '<progress id="run-progress" max="100" value="40">' in page
    assert 'hx-trigger="every 2s"' in page
    assert f'<a href="{url}">Refresh</a>' in page
    assert fragment.status_code == 200
    assert fragment.content.decode().lstrip().startswith('<div id="run-state"')


def test_polling_stops_when_the_run_is_done(client, manager):
    run = a_run(
        status=AnalysisRun.Status.DONE,
        progress=100,
        result={
            "cases": 4,
            "fitting": 3,
            "deviations": [{"kind": "skipped", "touchpoint": "reminder", "cases": 1, "share": 0.25}],
        },
    )

    response = client.get(reverse("insights:run", kwargs={"run_id": run.pk}), headers={"HX-Request": "true"})

    content = response.content.decode()
    assert response.status_code == 286
    assert "3 of 4 cases (75 %) followed the designed journey" in content
    assert "25 %" in content
    assert (
        escape(reverse("insights:run_cases", kwargs={"run_id": run.pk}) + "?kind=skipped&touchpoint=reminder")
        in content
    )


def test_unknown_runs_and_unknown_deviations_are_not_found(client, manager):
    run = a_run(status=AnalysisRun.Status.DONE, result={"cases": 0, "fitting": 0, "deviations": []})

    assert client.get(reverse("insights:run", kwargs={"run_id": 999999})).status_code == 404
    assert client.get(reverse("insights:run_file", kwargs={"run_id": run.pk})).status_code == 404
    url = reverse("insights:run_cases", kwargs={"run_id": run.pk})
    assert client.get(url, {"kind": "skipped", "touchpoint": "<x>"}).status_code == 404


def test_starting_a_run_without_an_active_journey_says_why(client, manager, fixed_clock):
    response = client.post(reverse("insights:run_start"), {"kind": "conformance"}, follow=True)

    assert escape(str(MESSAGE_NO_ACTIVE_JOURNEY)) in response.content.decode()
    assert AnalysisRun.objects.count() == 0


def test_starting_an_unknown_kind_is_refused(client, manager, fixed_clock):
    response = client.post(reverse("insights:run_start"), {"kind": "rm -rf"}, follow=True)

    assert response.status_code == 200
    assert AnalysisRun.objects.count() == 0


def test_starting_a_run_enqueues_it_after_the_commit(
    client, manager, fixed_clock, shipped_versions, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            reverse("insights:run_start"), {"kind": "export_xes", "start": "2026-01-01", "end": "2026-03-10"}
        )

    run = AnalysisRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("insights:run", kwargs={"run_id": run.pk})
    assert (run.kind, run.status, run.progress, run.created_by) == ("export_xes", "queued", 0, manager)
    assert run.params == {"filters": {"start": "2026-01-01", "end": "2026-03-10"}}
    assert len(callbacks) == 1


def test_a_run_that_fails_keeps_its_error_and_runs_once(fixed_clock):
    run = a_run(params={"filters": {}, "definition": {"key": "repair", "version": 99}})

    finished = analysis_run_execute(run_id=run.pk)
    again = analysis_run_execute(run_id=run.pk)

    assert finished is not None
    assert (finished.status, finished.error) == ("failed", str(MESSAGE_NO_ACTIVE_JOURNEY))
    assert finished.finished_at == fixed_clock.now()
    assert again is None
