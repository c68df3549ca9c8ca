"""The survey page in a real browser: a tenant answers from the link in a
message, on a phone-sized screen, with no sign-in; the form posts under
Django's CSRF check and nothing the page asks for carries the token."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, Request, expect

from klantreis.core.clock import FixedClock, use_clock
from klantreis.core.models import Organisation
from klantreis.events.models import Event
from klantreis.feedback.models import Survey
from klantreis.feedback.tests.factories import issued
from tests.e2e.test_report_journey import assert_accessible, shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TUESDAY = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)


@pytest.fixture
def phone_page(page: Page) -> Page:
    page.set_viewport_size({"width": 375, "height": 740})
    return page


def test_a_tenant_answers_the_survey_once_and_the_token_stays_in_the_address_bar(
    live_server, phone_page: Page
):
    page = phone_page
    Organisation.objects.create(name="Woonstede", emergency_phone="112", service_phone="030 123 45 67")
    sent: list[Request] = []
    console_errors: list[str] = []
    page.on("request", lambda request: sent.append(request))
    page.on(
        "console", lambda message: console_errors.append(message.text) if message.type == "error" else None
    )

    with use_clock(FixedClock(TUESDAY)):
        token = issued(language="nl", expires_at=TUESDAY + timedelta(days=7))
        url = f"{live_server.url}/survey/{token}/"
        page.goto(url)

        expect(page.locator("h1")).to_have_text("Hoe ging het?")
        question = page.get_by_role("group", name="Hoe tevreden bent u over de reparatie?")
        expect(question.get_by_role("radio")).to_have_count(5)
        assert_accessible(page)
        page.get_by_role("button", name="Verstuur mijn antwoord").click()

        # Nothing chosen: the error is at the question, the typed text stays.
        expect(page.locator("#csat-error")).to_have_text("Kies een cijfer.")
        page.get_by_label("Wilt u ons nog iets vertellen? (niet verplicht)").fill("Snel <b>geholpen</b>!")
        page.get_by_label("4 – Tevreden").check()
        assert_accessible(page)
        shot(page, "survey-answer")
        page.get_by_role("button", name="Verstuur mijn antwoord").click()

        expect(page.locator("h1")).to_have_text("Bedankt voor uw antwoord")
        shot(page, "survey-thanks")
        page.goto(url)
        expect(page.locator("h1")).to_have_text("Al ingevuld")
        expect(page.get_by_role("link", name="030 123 45 67")).to_have_attribute("href", "tel:0301234567")
        assert_accessible(page)

        # The language switch works from this page too (its post passes the CSRF check).
        page.get_by_role("button", name="English").click()
        expect(page.locator("h1")).to_have_text("Already answered")

    survey = Survey.objects.get()
    assert (survey.score, survey.comment) == (4, "Snel <b>geholpen</b>!")
    assert Event.objects.filter(activity="survey.answered").count() == 1
    posts = [r for r in sent if r.method == "POST" and r.url.startswith(f"{live_server.url}/survey/")]
    assert len(posts) == 2
    for request in posts:
        # Under Referrer-Policy: no-referrer a browser sends "Origin: null",
        # which Django's CSRF check refuses.
        assert request.all_headers()["origin"] == live_server.url
    for request in sent:
        referer = request.all_headers().get("referer", "")
        assert token not in referer, request.url
        assert re.fullmatch(rf"({re.escape(live_server.url)}/)?", referer), (request.url, referer)
    # Only the statuses the pages answered with: no CSP violation, no script error.
    assert set(console_errors) == {
        "Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)",
        "Failed to load resource: the server responded with a status of 410 (Gone)",
    }


def test_three_questions_on_a_phone_answered_without_javascript(
    live_server, phone_page: Page, browser
) -> None:
    Organisation.objects.create(name="Woonstede", emergency_phone="112", service_phone="030 123 45 67")
    with use_clock(FixedClock(TUESDAY)):
        token = issued(language="en", kind=["csat", "nps", "ces"], expires_at=TUESDAY + timedelta(days=7))
        url = f"{live_server.url}/survey/{token}/"

        # With scripts: the groups are named by their questions, axe finds nothing serious.
        phone_page.goto(url)
        nps = phone_page.get_by_role("group", name=re.compile("How likely are you to recommend"))
        expect(nps.get_by_role("radio")).to_have_count(11)
        expect(nps.get_by_label("10 – Extremely likely")).to_be_visible()
        assert_accessible(phone_page)
        shot(phone_page, "survey-three-questions")

        # Without scripts, phone-sized: a missing answer, then all three.
        context = browser.new_context(java_script_enabled=False, viewport={"width": 375, "height": 740})
        page = context.new_page()
        page.goto(url)
        page.get_by_label("5 – Very satisfied").check()
        page.get_by_label("1 – Very difficult").check()
        page.get_by_label("Anything you would like to tell us? (optional)").fill("Took a while")
        page.get_by_role("button", name="Send my answer").click()

        expect(page.locator("#nps-error")).to_have_text("Please choose a score.")
        expect(page.get_by_label("5 – Very satisfied")).to_be_checked()
        expect(page.get_by_label("1 – Very difficult")).to_be_checked()
        expect(page.get_by_label("Anything you would like to tell us? (optional)")).to_have_value(
            "Took a while"
        )
        page.get_by_role("group", name=re.compile("How likely")).get_by_label("7", exact=True).check()
        page.get_by_role("button", name="Send my answer").click()

        expect(page.locator("h1")).to_have_text("Thank you for your answer")
        context.close()

    scores = list(Survey.objects.order_by("position").values_list("kind", "score", "comment"))
    assert scores == [("csat", 5, "Took a while"), ("nps", 7, ""), ("ces", 1, "")]
    assert Event.objects.filter(activity="survey.answered").count() == 1
