"""Step 1 of the flagship journey in a real browser: a tenant signs in by
link and reports a leak through the triage; an agent records a heating
failure by phone for another tenant."""

import io
import re
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from axe_playwright_python.sync_playwright import Axe
from PIL import Image
from playwright.sync_api import Page, expect

from klantreis.accounts.tests.factories import UserFactory
from klantreis.customers.tests.factories import CustomerFactory, HomeFactory
from klantreis.intake.models import RepairRequest, VeraCode
from klantreis.planning.models import Job, Technician, WorkingHours
from klantreis.planning.tests.factories import FirmFactory, TechnicianFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def assert_accessible(page: Page) -> None:
    results = Axe().run(page)
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']}"
        for v in results.response["violations"]
        if v["impact"] in {"serious", "critical"}
    ]
    assert serious == []


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "lekkage.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (40, 90, 160)).save(buffer, format="JPEG")
    path.write_bytes(buffer.getvalue())
    return path


def plumber() -> Technician:
    """A plumber for dripping taps (VERA LOA), working every weekday, so there is capacity."""
    person = TechnicianFactory(
        name="Piet de Loodgieter",
        firm=FirmFactory(kind="in_house"),
        specialisms=[VeraCode.objects.get(kind="ONDERHOUDSPECIALISME", code="LOA")],
        start_latitude=52.09,
        start_longitude=5.12,
    )
    for weekday in range(5):
        WorkingHours.objects.create(technician=person, weekday=weekday, start=time(7, 30), end=time(16))
    return person


@pytest.fixture
def defaults(vera: None) -> None:
    from django.core.management import call_command

    call_command("load_triage_defaults", stdout=io.StringIO())


def test_tenant_signs_in_by_link_and_reports_a_leak(
    live_server, page: Page, settings, smtp_server, run_tasks, defaults, photo
):
    settings.SITE_URL = live_server.url
    tenant = CustomerFactory(email="anna.jansen@example.nl", name="Anna Jansen")
    plumber()

    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/portal/sign-in/"))
    assert_accessible(page)
    page.fill("input[name=email]", "anna.jansen@example.nl")
    page.click("main form[action$='/portal/sign-in/'] button[type=submit]")
    expect(page.locator("h1")).to_have_text("Kijk in uw e-mail")

    run_tasks()
    body = smtp_server.messages[0].get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"http://\S+/portal/sign-in/link/\S+/", body).group(0)
    page.goto(link)
    page.click("main button[type=submit]")
    expect(page).to_have_url(f"{live_server.url}/portal/")

    page.click("main a[href='/portal/report/']")
    assert_accessible(page)
    page.check("input[name=tree][value=leak]")
    page.select_option("select[name=location]", "BAD")
    page.click("button[name=next]")
    # The shipped leak tree: no water that cannot be stopped; a dripping tap.
    answer(page, [("unstoppable", "no"), ("source", "tap")])
    shot(page, "portal-report-details")
    assert_accessible(page)
    page.fill("textarea[name=description]", "De kraan in de badkamer druppelt de hele dag.")
    page.set_input_files("input[name=photos]", str(photo))
    page.click("button[name=submit]")

    # Step 2: straight on to choosing a time block.
    expect(page).to_have_url(re.compile(r"/portal/requests/M\d\d-\d{6}/appointment/$"))
    request = RepairRequest.objects.get(customer=tenant)
    assert (request.urgency, request.specialism.code, request.defect_type.code) == ("normal", "LOA", "DRP")
    assert request.photos.count() == 1
    expect(page.locator("h1")).to_have_text("Kies een tijd")
    days = page.locator("fieldset.slot-day")
    expect(days).to_have_count(5)
    expect(page.locator("input[name=slot]:checked")).to_have_count(1)  # the suggestion
    shot(page, "portal-appointment")
    assert_accessible(page)
    chosen = days.nth(1).locator("input[name=slot]").nth(1)
    chosen.check()
    key = chosen.get_attribute("value")
    page.click("text=Meer dagen tonen")  # htmx swaps the whole horizon in, keeping the choice
    expect(days).to_have_count(10)
    expect(page.locator("input[name=slot]:checked")).to_have_attribute("value", key)
    assert_accessible(page)
    page.click("main button[type=submit]")

    expect(page).to_have_url(re.compile(r"/portal/requests/M\d\d-\d{6}/$"))
    job = Job.objects.get(request=request)
    assert f"{int(job.visit_start.timestamp())}-{int(job.visit_end.timestamp())}" == key
    start, end = (
        moment.astimezone(AMSTERDAM).strftime("%H:%M") for moment in (job.visit_start, job.visit_end)
    )
    expect(page.locator(".messages")).to_contain_text(
        re.compile(rf"Uw afspraak is gemaakt: \w+ \d+ \w+ tussen {start} en {end} uur\.")
    )
    expect(page.locator("section.appointment")).to_contain_text(f"tussen {start} en {end} uur")
    expect(page.locator("h1")).to_contain_text(request.reference)
    facts = page.locator("dl.facts").first
    expect(facts).to_contain_text(request.specialism.name)
    expect(facts).to_contain_text(request.get_urgency_display())
    shot(page, "portal-request-detail")
    assert_accessible(page)


def answer(page: Page, answers: list[tuple[str, str]]) -> None:
    """Answer the triage questions one step at a time, as a person would."""
    for question, choice in answers:
        page.check(f"input[type=radio][name=answer_{question}][value={choice}]")
        page.click("button[name=next]")
    expect(page.locator("textarea[name=description]")).to_be_visible()


def test_agent_records_a_heating_failure_by_phone(live_server, page: Page, defaults):
    UserFactory(username="agent", role="agent", password="demo-password-1")
    home = HomeFactory(postcode="3526KL", house_number=7, street="Marshalllaan")
    tenant = CustomerFactory(home=home, name="Mehmet Kaya", phone="+31687654321")

    page.goto(f"{live_server.url}/accounts/staff-sign-in/")
    page.fill("input[name=username]", "agent")
    page.fill("input[name=password]", "demo-password-1")
    page.click("main button[type=submit]")
    page.click("nav a[href='/desk/customers/']")
    page.fill("input[name=postcode]", "3526 kl")
    page.fill("input[name=house_number]", "7")
    page.click("main form[role=search] button[type=submit]")
    page.click(f"a[href='/desk/intake/{tenant.pk}/']")

    page.check("input[name=tree][value=heating]")
    page.select_option("select[name=location]", "TRI")
    page.click("button[name=next]")
    # No gas smell; no heating and no hot water while it is cold outside.
    answer(page, [("gas", "no"), ("problem", "no_heat"), ("hot_water", "no"), ("cold_nothing", "yes")])
    page.fill("textarea[name=description]", "CV-ketel geeft storing, geen verwarming.")
    page.fill("textarea[name=agent_notes]", "Huurder is thuis na 12:00.")
    shot(page, "desk-phone-intake")
    page.click("button[name=submit]")

    expect(page).to_have_url(re.compile(r"/desk/requests/M\d\d-\d{6}/$"))
    request = RepairRequest.objects.get(customer=tenant)
    assert (request.channel, request.reported_by.username) == ("phone", "agent")
    assert (request.urgency, request.specialism.code, request.defect_type.code) == ("urgent", "CVI", "STO")
    expect(page.locator("main")).to_contain_text("Huurder is thuis na 12:00.")
    expect(page.locator("dl.facts").first).to_contain_text(request.specialism.name)
