"""Steps 3–4 of the flagship journey in a real browser: the tenant moves the
booked appointment to another block (htmx swaps the offers in), then cancels
it after confirming; each page has no serious accessibility violation."""

import re

import pytest
from django.test import Client
from playwright.sync_api import Page, expect

from klantreis.core import clock
from klantreis.planning.models import Job, PlanningSettings
from klantreis.planning.plan import slot_offer_list
from klantreis.planning.services import appointment_book
from klantreis.portal.tests.test_appointment import reported
from tests.e2e.test_report_journey import assert_accessible, plumber, shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_tenant_moves_then_cancels_the_appointment(live_server, page: Page, vera):
    # Real time drives the live server: without a cut-off the test runs at any hour.
    PlanningSettings.objects.create(change_cutoff=None)
    plumber()
    request = reported()
    first = slot_offer_list(request=request, now=clock.now())[0]
    appointment_book(
        request=request, window_start=first.start, window_end=first.end, actor=None, channel="portal"
    )
    client = Client()
    client.force_login(request.customer.user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    base = f"{live_server.url}/portal/requests/{request.reference}"

    page.goto(f"{base}/appointment/")
    expect(page.locator("section.appointment")).to_be_visible()
    assert_accessible(page)
    page.click(f"main a[href='/portal/requests/{request.reference}/appointment/change/']")
    expect(page.locator("fieldset.slot-day").first).to_be_visible()
    expect(page).to_have_url(f"{base}/appointment/change/")
    shot(page, "portal-appointment-change")
    assert_accessible(page)
    key = page.locator("input[name=slot]:not(:checked)").nth(2).get_attribute("value")
    page.check(f"input[name=slot][value='{key}']")
    page.click("main form button[type=submit]")

    expect(page).to_have_url(f"{base}/")
    job = Job.objects.get(request=request)
    assert f"{int(job.visit_start.timestamp())}-{int(job.visit_end.timestamp())}" == key
    expect(page.locator(".messages")).to_be_visible()
    expect(page.locator("ol.next-steps")).to_be_visible()
    shot(page, "portal-request-timeline")
    assert_accessible(page)

    page.goto(f"{base}/appointment/")
    page.click(f"main a[href='/portal/requests/{request.reference}/appointment/cancel/']")
    expect(page.locator("textarea[name=reason]")).to_be_visible()
    assert_accessible(page)
    page.fill("textarea[name=reason]", "Ik ben die dag niet thuis.")
    page.click("main form button[type=submit]")

    expect(page).to_have_url(f"{base}/")
    job.refresh_from_db()
    assert (job.status, job.outcome_note) == ("cancelled", "Ik ben die dag niet thuis.")
    expect(
        page.locator(f"main a.button[href='/portal/requests/{request.reference}/appointment/']")
    ).to_be_visible()
    assert re.search(r"ol class=\"timeline next-steps\"", page.content()) is None
    assert_accessible(page)


def test_without_javascript_the_tenant_moves_and_cancels_with_plain_pages(live_server, browser, vera):
    """The portal is usable without JavaScript: the same steps as full pages."""
    PlanningSettings.objects.create(change_cutoff=None)
    plumber()
    request = reported()
    first = slot_offer_list(request=request, now=clock.now())[0]
    appointment_book(
        request=request, window_start=first.start, window_end=first.end, actor=None, channel="portal"
    )
    client = Client()
    client.force_login(request.customer.user)
    context = browser.new_context(java_script_enabled=False, locale="nl-NL")
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    base = f"{live_server.url}/portal/requests/{request.reference}"

    page.goto(f"{base}/")
    page.click(f"main a[href='/portal/requests/{request.reference}/appointment/']")
    page.click(f"main a[href='/portal/requests/{request.reference}/appointment/change/']")
    expect(page).to_have_url(f"{base}/appointment/change/")
    key = page.locator("input[name=slot]:not(:checked)").nth(1).get_attribute("value")
    page.check(f"input[name=slot][value='{key}']")
    page.click("main form button[type=submit]")

    expect(page).to_have_url(f"{base}/")
    job = Job.objects.get(request=request)
    assert f"{int(job.visit_start.timestamp())}-{int(job.visit_end.timestamp())}" == key
    expect(page.locator(".messages")).to_contain_text("Uw afspraak is verzet")

    page.goto(f"{base}/appointment/cancel/")
    page.fill("textarea[name=reason]", "Toch niet nodig.")
    page.click("main form button[type=submit]")
    expect(page).to_have_url(f"{base}/")
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED
    context.close()
