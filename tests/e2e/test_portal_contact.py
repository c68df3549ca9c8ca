"""The tenant enters by the signed link of a message, adds information with a
photo and writes to the service desk; an agent answers from the request page
and the tenant reads the answer. The refused-link page too. Each page has no
serious accessibility violation."""

import io
from pathlib import Path

import pytest
from django.test import Client
from PIL import Image
from playwright.sync_api import Page, expect

from klantreis.accounts.services import entry_link_token
from klantreis.accounts.tests.factories import UserFactory
from klantreis.events.models import Event
from klantreis.journeys.models import StaffTask
from klantreis.portal.tests.test_appointment import reported
from tests.e2e.test_report_journey import assert_accessible, shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "gang.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (90, 40, 160)).save(buffer, format="JPEG")
    path.write_bytes(buffer.getvalue())
    return path


def test_tenant_adds_information_and_asks_the_desk_an_agent_answers(live_server, page: Page, vera, photo):
    request = reported()
    token = entry_link_token(user_id=request.customer.user_id, reference=request.reference, target="request")
    base = f"{live_server.url}/portal/requests/{request.reference}/"

    page.goto(f"{live_server.url}/portal/go/{token}/")
    expect(page).to_have_url(base)
    expect(page.locator("#contact")).to_be_visible()
    assert_accessible(page)

    page.fill("#id_information_text", "Nu lekt het ook in de gang.")
    page.set_input_files("#id_information_photos", str(photo))
    page.click("#contact form[action$='/information/'] button[type=submit]")
    expect(page).to_have_url(base)
    expect(page.locator("ol.timeline")).to_contain_text("Nu lekt het ook in de gang.")

    page.fill("#id_desk_text", "Kan de monteur ook naar de kraan kijken?")
    page.click("#contact form[action$='/message/'] button[type=submit]")
    expect(page).to_have_url(base)
    expect(page.locator("ol.timeline")).to_contain_text("Kan de monteur ook naar de kraan kijken?")
    shot(page, "portal-contact")
    assert StaffTask.objects.filter(queue="desk", state="open").count() == 1

    agent = Client()
    agent.force_login(UserFactory(role="agent", language="en"))
    office = page.context.browser.new_context()
    office.add_cookies(
        [{"name": "sessionid", "value": agent.cookies["sessionid"].value, "url": live_server.url}]
    )
    desk = office.new_page()
    desk.goto(f"{live_server.url}/desk/tasks/?queue=desk")
    desk.click("main a[href$='#desk']")
    desk.fill("#id_desk_answer", "Ja, dat doet hij ook.")
    assert_accessible(desk)
    desk.click("#desk button[type=submit]")
    expect(desk.locator(".messages")).to_be_visible()
    office.close()

    page.reload()
    expect(page.locator("ul.inbox")).to_contain_text("Ja, dat doet hij ook.")
    assert Event.objects.filter(activity="desk.message_sent").count() == 1
    assert StaffTask.objects.filter(queue="desk", state="open").count() == 0


def test_a_broken_link_gets_an_accessible_page_offering_a_new_one(live_server, page: Page, vera):
    response = page.goto(f"{live_server.url}/portal/go/not-a-real-token/")

    assert response is not None
    assert response.status == 400
    expect(page.locator("input[name=email]")).to_be_visible()
    shot(page, "portal-link-refused")
    assert_accessible(page)
