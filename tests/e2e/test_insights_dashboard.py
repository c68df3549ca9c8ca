"""Issue 6's browser test: a manager opens the insights dashboard, filters on
a technician, drills down to a case and downloads the list as CSV — on a
small hand-built log (real requests, then the planning and visit events)
folded by insights_refresh."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.db import transaction
from playwright.sync_api import Page, expect

from klantreis.accounts.tests.factories import UserFactory
from klantreis.core import clock
from klantreis.events.models import Event
from klantreis.events.services import event_record
from klantreis.insights.services import insights_refresh
from klantreis.intake.models import RepairRequest
from klantreis.intake.tests.factories import TriageTreeFactory
from klantreis.journeys.services import definitions_install_defaults
from klantreis.planning.models import Technician
from klantreis.planning.tests.factories import FirmFactory, TechnicianFactory
from klantreis.workspace.tests.journey_cases import reported
from tests.e2e.test_report_journey import assert_accessible, shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def visited(request: RepairRequest, technician: Technician, *outcomes: str, job: int) -> None:
    """The request was planned for the technician, who then came by once per outcome."""
    now = clock.now()
    with transaction.atomic():
        event_record(
            case_id=request.case_id,
            activity="job.assigned",
            actor=None,
            channel=Event.Channel.SYSTEM,
            layer=Event.Layer.DIGITAL,
            attributes={
                "request": request.reference,
                "job": job,
                "firm": technician.firm_id,
                "technician": technician.pk,
                "window_start": (now + timedelta(hours=1)).isoformat(),
                "window_end": (now + timedelta(hours=3)).isoformat(),
            },
        )
    for outcome in outcomes:
        with transaction.atomic():
            event_record(
                case_id=request.case_id,
                activity=f"visit.{outcome}",
                actor=None,
                role="technician",
                channel=Event.Channel.ON_SITE,
                layer=Event.Layer.PHYSICAL,
                attributes={
                    "request": request.reference,
                    "job": job,
                    "technician": technician.pk,
                    "note": "",
                },
            )


@pytest.fixture
def log(vera: None) -> dict[str, object]:
    """Piet fixed his one request first time; Klaas fixed one of his two."""
    tree = TriageTreeFactory()
    firm = FirmFactory(name="Eigen dienst", kind="in_house")
    piet = TechnicianFactory(name="Piet Loodgieter", firm=firm, region="Noord")
    klaas = TechnicianFactory(name="Klaas Elektra", firm=firm, region="Zuid")
    pieters = reported(tree)
    visited(pieters, piet, "fixed", job=1)
    first, second = reported(tree), reported(tree)
    visited(first, klaas, "fixed", job=2)
    visited(second, klaas, "not_fixed", job=3)
    insights_refresh()
    return {"piet": piet, "klaas": klaas, "pieters": pieters, "klaas_requests": [first, second]}


def test_manager_filters_drills_down_and_downloads_csv(live_server, page: Page, log):
    UserFactory(username="manager", role="manager", language="en", password="demo-password-1")
    klaas = log["klaas"]

    page.goto(f"{live_server.url}/accounts/staff-sign-in/")
    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", "demo-password-1")
    page.click("main button[type=submit]")
    page.click("nav a[href='/insights/']")

    expect(page.get_by_role("heading", level=1)).to_have_text("The journey in figures")
    first_time_fix = page.locator(".kpi-figures li").first
    expect(first_time_fix.locator(".kpi-label")).to_have_text("First-time fix")
    # Two of the three requests were fixed at the first visit.
    expect(first_time_fix.locator(".kpi-value")).to_have_text("66.7 %")
    expect(page.locator("svg.chart[role=img] > title")).to_have_count(1)
    assert_accessible(page)
    shot(page, "insights-dashboard")

    page.select_option("#id_technician", label="Klaas Elektra")
    page.click("main form[role=search] button[type=submit]")
    # htmx swapped the results in and put the filters in the address.
    expect(page).to_have_url(re.compile(rf"/insights/\?.*technician={klaas.pk}"))
    expect(first_time_fix.locator(".kpi-value")).to_have_text("50 %")
    expect(first_time_fix.locator(".kpi-basis")).to_have_text("2 cases")
    assert_accessible(page)

    first_time_fix.locator("a").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("The cases behind “First-time fix”")
    rows = page.locator("main table.data tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("main table.data")).not_to_contain_text(log["pieters"].reference)
    assert_accessible(page)
    shot(page, "insights-cases")

    with page.expect_download() as download_info:
        page.click("text=Download the list (CSV)")
    download = download_info.value
    assert download.suggested_filename.startswith("cases-first_time_fix-")
    content = download.path().read_text(encoding="utf-8-sig")
    lines = list(csv.reader(io.StringIO(content)))
    assert lines[0] == ["Reference", "Reported", "Technician", "Outcome"]
    assert sorted(line[0] for line in lines[1:]) == sorted(r.reference for r in log["klaas_requests"])
    assert {line[2] for line in lines[1:]} == {"Klaas Elektra"}

    second = log["klaas_requests"][1]
    page.click(f"main table.data a:text-is('{second.reference}')")
    expect(page).to_have_url(f"{live_server.url}/desk/requests/{second.reference}/")
    expect(page.locator("main h1")).to_contain_text(second.reference)


def test_designer_checks_conformance_and_watches_the_progress(live_server, page: Page, log, run_tasks):
    definitions_install_defaults()
    UserFactory(username="designer", role="designer", language="en", password="demo-password-1")

    page.goto(f"{live_server.url}/accounts/staff-sign-in/")
    page.fill("input[name=username]", "designer")
    page.fill("input[name=password]", "demo-password-1")
    page.click("main button[type=submit]")
    page.goto(f"{live_server.url}/insights/process/")
    expect(page.get_by_role("heading", level=1)).to_have_text("The journey as it happened")
    expect(page.locator("table.dfg tbody tr").first).to_contain_text("request.reported")
    assert_accessible(page)
    shot(page, "insights-process")

    page.click("button:text-is('Check conformance')")
    expect(page.get_by_role("heading", level=1)).to_have_text("Conformance check")
    expect(page.locator("progress#run-progress")).to_have_attribute("value", "0")
    expect(page.get_by_role("link", name="Refresh")).to_be_visible()
    assert_accessible(page)

    run_tasks()

    # htmx polls every 2 s and swaps the result in without a reload.
    expect(page.locator("#run-state")).to_contain_text("followed the designed journey", timeout=10_000)
    expect(page.locator("progress#run-progress")).to_have_attribute("value", "100")
    expect(page.get_by_role("link", name="Refresh")).to_have_count(0)
    assert_accessible(page)
    shot(page, "insights-conformance")
