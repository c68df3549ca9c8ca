"""Issue 3's acceptance in a real browser: a planner opens the board of a day
whose routes cross, pins a job to the other plumber and sees the routes
change (htmx swaps the board in place)."""

import pytest
from playwright.sync_api import Page, expect

from klantreis.accounts.tests.factories import UserFactory
from klantreis.core.clock import FixedClock, use_clock
from klantreis.planning.models import Job
from klantreis.planning.tests.days import at, crossed_day
from tests.e2e.test_report_journey import ARTIFACTS, assert_accessible, shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_planner_pins_a_job_and_sees_the_route_change(live_server, page: Page, vera):
    UserFactory(username="planner", role="planner", password="demo-password-1")
    day = crossed_day()
    west, east, east_1 = day.west, day.east, day.jobs["east-1"]
    reference = {name: job.request.reference for name, job in day.jobs.items()}
    console_errors: list[str] = []
    page.on(
        "console", lambda message: console_errors.append(message.text) if message.type == "error" else None
    )

    with use_clock(FixedClock(at(7))):
        page.goto(f"{live_server.url}/accounts/staff-sign-in/")
        page.fill("input[name=username]", "planner")
        page.fill("input[name=password]", "demo-password-1")
        page.click("main button[type=submit]")
        page.click("nav a[href='/desk/board/']")

        expect(page.locator("h1")).to_contain_text("11 maart 2026")
        # Crossed: each plumber drives to the other side of town and back.
        expect(page.locator(f"#route-{west.pk} li.route-stop a")).to_have_text(
            [reference["east-1"], reference["east-2"]]
        )
        expect(page.locator(f"#route-{east.pk} li.route-stop a")).to_have_text(
            [reference["west-1"], reference["west-2"]]
        )
        travel_before = page.locator("#board .lead").inner_text()
        # caret="initial": hiding the caret leaves style="" on every input,
        # which htmx would copy when it swaps the board (a CSP report).
        page.screenshot(path=str(ARTIFACTS / "planner-board-crossed.png"), full_page=True, caret="initial")
        assert_accessible(page)

        stop = page.locator(f"#route-{west.pk} li[data-job='{east_1.pk}']")
        stop.locator("summary").click()
        stop.locator("select[name=technician]").select_option(str(east.pk))
        stop.locator("button[type=submit]").click()

        notice = page.locator("#board [role=status]")
        expect(notice).to_contain_text(f"{reference['east-1']} is vastgezet bij {east.name}")
        expect(notice).to_be_focused()
        # The pinned job is now Olga's, and the solver untangled the rest.
        expect(page.locator(f"#route-{east.pk} li.route-stop a")).to_have_text(
            [reference["east-1"], reference["east-2"]]
        )
        expect(page.locator(f"#route-{west.pk} li.route-stop a")).to_have_text(
            [reference["west-1"], reference["west-2"]]
        )
        expect(page.locator(f"#route-{east.pk} li[data-job='{east_1.pk}'] .badge-pinned")).to_be_visible()
        assert page.locator("#board .lead").inner_text() != travel_before
        shot(page, "planner-board")
        assert_accessible(page)

    pinned = Job.objects.get(pk=east_1.pk)
    assert (pinned.technician, pinned.pinned) == (east, True)
    assert console_errors == []
