"""The whole flagship repair journey in headless Chromium, on the demo
organisation: a tenant (one browser context, a phone), a technician
(another) and the demo outbox, with the journey engine and the task worker
running between the steps and the clock moved forward as the days pass.

report → book → open the confirmation link → reschedule → technician "on my
way" → tenant sees the ETA → not fixed → follow-up booked on site → tenant
sees the new appointment → completed → survey link answered.

Screenshots of the key screens land in test-artifacts/flagship-*.png, and
the first-load transfer of every portal page the tenant saw in
test-artifacts/page-weight.json (issue 5: under 100 KB each).
"""

import gzip
import io
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from playwright.sync_api import Browser, BrowserContext, Page, expect

from klantreis.core.clock import FixedClock, use_clock
from klantreis.core.models import OutboxMail
from klantreis.customers.models import Customer
from klantreis.demo import people
from klantreis.events.models import Event
from klantreis.feedback.models import Survey
from klantreis.intake.models import RepairRequest
from klantreis.planning.models import Job
from tests.e2e.test_report_journey import ARTIFACTS, answer, assert_accessible

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MONDAY_MORNING = datetime(2026, 3, 9, 9, 0, tzinfo=AMSTERDAM)
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
WEIGHT_LIMIT = 100 * 1024


def shot(page: Page, name: str, *, readme: str = "") -> None:
    """The whole page; `readme`: also the phone's screen as the README shows
    it (copied to docs/images/ by hand when the screens change)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"flagship-{name}.png"), full_page=True)
    if readme:
        page.screenshot(path=str(ARTIFACTS / f"readme-{readme}.png"))


@pytest.fixture
def clock(vera: None) -> Iterator[FixedClock]:
    with use_clock(FixedClock(MONDAY_MORNING)) as fixed:
        yield fixed


@pytest.fixture
def demo(settings: Any, live_server: Any, clock: FixedClock) -> str:
    """The demo organisation, as `make demo` seeds it (smaller), served by
    the live server with the demo pages mounted and mail kept in the outbox."""
    settings.DEMO = True
    settings.ROOT_URLCONF = "klantreis.demo.tests.urls"
    settings.SITE_URL = live_server.url
    settings.MAILERS = {"default": {"BACKEND": "klantreis.core.mail.OutboxBackend"}}
    call_command("seed_demo", homes=60, history_days=7, seed=7, stdout=io.StringIO())
    return str(live_server.url)


class Journeys:
    """What `manage.py rundemo` keeps running beside the web server: the
    journey loop (one round at a time here) and the task worker."""

    def __init__(self, run_tasks: Any) -> None:
        self.run_tasks = run_tasks
        self.pages: list[Page] = []

    def run(self) -> None:
        # The test database is SQLite in memory, shared by the live server's
        # thread: let the browsers finish what they load before writing.
        for page in self.pages:
            page.wait_for_load_state("networkidle")
        for _ in range(2):  # tasks may enqueue work for the loop and back
            call_command("run_journeys", "--once", stdout=io.StringIO())
            self.run_tasks()


def outbox_link(page: Page, base: str, *, to: str, subject: str, path: str) -> str:
    """The tenant reads their mail: the newest outbox mail to `to` whose
    subject holds `subject`, and in it the link to `path`."""
    page.goto(f"{base}/demo/outbox/?to={to}")
    mail = page.locator("article.outbox-mail", has_text=subject).first
    expect(mail).to_be_visible()
    link = mail.locator(f"a[href*='{path}']").first
    href = link.get_attribute("href")
    assert href is not None
    return href


class Weights:
    """The first-load transfer of each portal page: document and everything
    it pulls in, in a fresh context (empty cache) with the tenant's session."""

    def __init__(self, browser: Browser, tenant: BrowserContext) -> None:
        self.browser = browser
        self.tenant = tenant
        self.pages: dict[str, dict[str, int]] = {}

    def measure(self, name: str, url: str) -> None:
        context = self.browser.new_context(**PHONE)
        context.add_cookies(self.tenant.cookies())
        page = context.new_page()
        responses: list[Any] = []
        page.on("response", lambda response: responses.append(response))
        page.goto(url, wait_until="networkidle")
        transfer = compressed = 0
        for response in responses:
            sizes = response.request.sizes()
            transfer += sizes["responseBodySize"] + sizes["responseHeadersSize"]
            # What the same bodies weigh gzipped, as WhiteNoise and a
            # reverse proxy serve them in production.
            compressed += len(gzip.compress(response.body())) + sizes["responseHeadersSize"]
        self.pages[name] = {"requests": len(responses), "bytes": transfer, "gzip_bytes": compressed}
        context.close()

    def write(self) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "page-weight.json").write_text(json.dumps(self.pages, indent=2) + "\n")


def sign_in_by_link(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/portal/sign-in/")
    page.fill("input[name=email]", email)
    page.click("main form[action$='/portal/sign-in/'] button[type=submit]")


def test_the_flagship_journey_in_the_browser(
    demo: str, clock: FixedClock, browser: Browser, run_tasks: Any
) -> None:
    base = demo
    journeys = Journeys(run_tasks)
    customer = (
        Customer.objects.filter(user__language="nl", assisted=False)
        .exclude(email="")
        .select_related("user")
        .order_by("pk")
        .first()
    )
    assert customer is not None
    tenant = browser.new_context(**PHONE, locale="nl-NL", timezone_id="Europe/Amsterdam")
    phone = tenant.new_page()
    journeys.pages.append(phone)
    weights = Weights(browser, tenant)

    # Sign in by one-time link, read in the outbox.
    sign_in_by_link(phone, base, customer.email)
    run_tasks()
    link = outbox_link(phone, base, to=customer.email, subject="", path="/portal/sign-in/link/")
    phone.goto(link)
    phone.click("main button[type=submit]")
    expect(phone).to_have_url(f"{base}/portal/")
    weights.measure("home", f"{base}/portal/")

    # Report: a dripping tap in the bathroom.
    phone.click("main a[href='/portal/report/']")
    weights.measure("report", phone.url)
    phone.check("input[name=tree][value=leak]")
    phone.select_option("select[name=location]", "BAD")
    phone.click("button[name=next]")
    answer(phone, [("unstoppable", "no"), ("source", "tap")])
    phone.fill("textarea[name=description]", "De kraan in de badkamer druppelt de hele dag.")
    phone.click("button[name=submit]")

    # Book: the second offered day, its first block.
    expect(phone).to_have_url(re.compile(r"/portal/requests/M\d\d-\d{6}/appointment/$"))
    request = RepairRequest.objects.filter(customer=customer).order_by("-pk").first()
    assert request is not None
    weights.measure("appointment", phone.url)
    shot(phone, "1-choose-a-time")
    phone.locator("fieldset.slot-day").nth(1).locator("input[name=slot]").first.check()
    phone.click("main button[type=submit]")
    expect(phone).to_have_url(re.compile(rf"/portal/requests/{request.reference}/$"))
    job = Job.objects.get(request=request, status=Job.Status.OPEN)

    # The confirmation arrives; its link opens the request (signed, no sign-in).
    journeys.run()
    confirmation = OutboxMail.objects.filter(to=customer.email).order_by("-pk").first()
    assert confirmation is not None
    link = outbox_link(phone, base, to=customer.email, subject=confirmation.subject, path="/portal/go/")
    phone.context.clear_cookies()
    phone.goto(link)
    expect(phone).to_have_url(re.compile(rf"/portal/requests/{request.reference}/"))
    shot(phone, "2-request-booked")
    assert_accessible(phone)
    weights.measure("request", phone.url)

    # Reschedule to a later day.
    phone.goto(f"{base}/portal/requests/{request.reference}/appointment/")
    assert_accessible(phone)
    first_start = job.visit_start
    phone.click(f"main a[href='/portal/requests/{request.reference}/appointment/change/']")
    phone.locator("fieldset.slot-day").nth(2).locator("input[name=slot]").first.check()
    shot(phone, "3-reschedule")
    assert_accessible(phone)
    phone.click("main form button[type=submit]")
    expect(phone).to_have_url(re.compile(rf"/portal/requests/{request.reference}/$"))
    job.refresh_from_db()
    assert job.visit_start is not None
    assert job.visit_start > first_start
    assert Event.objects.filter(case_id=request.case_id, activity="appointment.rescheduled").count() == 1
    journeys.run()

    # The day of the visit: the technician sets off.
    assert job.technician is not None
    clock.set(job.visit_start - timedelta(minutes=25))
    journeys.run()
    technician = browser.new_context(
        **PHONE,
        locale="nl-NL",
        timezone_id="Europe/Amsterdam",
        geolocation={"latitude": 52.0607, "longitude": 5.105},
        permissions=["geolocation"],
    )
    van = technician.new_page()
    journeys.pages.append(van)
    van.goto(f"{base}/accounts/staff-sign-in/")
    van.fill("input[name=username]", job.technician.user.username)
    van.fill("input[name=password]", people.DEMO_PASSWORD)
    van.click("main button[type=submit]")
    expect(van).to_have_url(re.compile(r"/field/"))
    shot(van, "4-technician-day")
    van.click(f"a[href='/field/visits/{job.pk}/']")
    shot(van, "5-technician-visit", readme="field-visit")
    van.click("form:has(input[name=action][value=on_the_way]) button[type=submit]")
    expect(van.locator("form:has(input[name=action][value=arrived])")).to_be_visible()
    journeys.run()

    # The tenant sees the arrival estimate.
    phone.goto(f"{base}/portal/requests/{request.reference}/")
    job.refresh_from_db()
    assert job.expected_arrival is not None
    # The phone's position was used: finishing a job in the south of the city.
    job.technician.refresh_from_db()
    assert (job.technician.last_latitude, job.technician.last_longitude) == (52.0607, 5.105)
    assert (
        job.visit_start - timedelta(minutes=25)
        < job.expected_arrival
        < job.visit_start + timedelta(minutes=10)
    )
    expected = job.expected_arrival.astimezone(AMSTERDAM).strftime("%H:%M")
    expect(phone.locator("[aria-live=polite]")).to_contain_text(expected)
    shot(phone, "6-eta", readme="portal-request")

    # Not fixed: material needed; the follow-up is booked on site.
    clock.advance(timedelta(minutes=45))
    van.reload()
    van.click("form:has(input[name=action][value=arrived]) button[type=submit]")
    completed = van.locator("form:has(input[name=action][value=completed])")
    completed.locator("input[name=status][value=not_fixed]").check()
    completed.locator("select[name=not_fixed_reason]").select_option("material")
    completed.locator("textarea[name=note]").fill("Nieuw binnenwerk nodig.")
    completed.locator("button[type=submit]").click()
    follow_up_form = van.locator("form[action$='/follow-up/']")
    expect(follow_up_form).to_be_visible()
    shot(van, "7-follow-up-slots")
    follow_up_form.locator("input[name=slot]").first.check()
    follow_up_form.locator("button[type=submit]").click()
    expect(van.locator("section.appointment")).to_be_visible()
    follow_up = Job.objects.get(request=request, status=Job.Status.OPEN)
    assert follow_up.pk != job.pk
    journeys.run()

    # The tenant sees the new appointment.
    phone.goto(f"{base}/portal/requests/{request.reference}/")
    assert follow_up.visit_start is not None
    start = follow_up.visit_start.astimezone(AMSTERDAM).strftime("%H:%M")
    expect(phone.locator("section.appointment")).to_contain_text(start)
    shot(phone, "8-follow-up")

    # The follow-up visit fixes it; two hours later the survey link comes.
    clock.set(follow_up.visit_start + timedelta(minutes=10))
    journeys.run()
    van.goto(f"{base}/field/visits/{follow_up.pk}/")
    van.click("form:has(input[name=action][value=arrived]) button[type=submit]")
    clock.advance(timedelta(minutes=30))
    van.reload()
    completed.locator("input[name=status][value=fixed]").check()
    completed.locator("button[type=submit]").click()
    expect(completed).to_have_count(0)
    clock.advance(timedelta(hours=2, minutes=1))
    journeys.run()
    survey = Survey.objects.get(case_id=request.case_id, touchpoint="survey", kind="csat")
    link = outbox_link(phone, base, to=customer.email, subject="", path="/survey/")
    phone.goto(link)
    shot(phone, "9-survey")
    assert_accessible(phone)
    weights.measure("survey", phone.url)
    phone.check("input[name=csat][value='5']")
    phone.check("input[name=nps][value='9']")
    phone.check("input[name=ces][value='6']")
    phone.click("main button[type=submit]")
    survey.refresh_from_db()
    assert survey.score == 5
    assert Event.objects.filter(case_id=request.case_id, activity="survey.answered").count() == 1

    weights.write()
    heavy = {name: w["bytes"] for name, w in weights.pages.items() if w["bytes"] >= WEIGHT_LIMIT}
    assert heavy == {}
