"""Issue 5's technician app in a real browser: a technician signs in, opens
the day and a visit, loses the network, presses "Arrived" and sees it kept on
the phone; when the network returns the update is sent and applied once."""

import pytest
from playwright.sync_api import Page, expect

from klantreis.core.clock import FixedClock, use_clock
from klantreis.events.models import Event
from klantreis.field.tests.days import field_day_make
from klantreis.planning.models import Job
from klantreis.planning.services import job_arrive
from klantreis.planning.tests.days import at
from tests.e2e.test_report_journey import assert_accessible, shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def sign_in(page: Page, url: str, user) -> None:
    user.language = "en"
    user.set_password("demo-password-1")
    user.save()
    page.set_viewport_size(PHONE)
    page.goto(f"{url}/accounts/staff-sign-in/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "demo-password-1")
    page.click("main button[type=submit]")


def test_technician_marks_arrival_offline_and_it_is_applied_once(live_server, page: Page, vera):
    console_errors: list[str] = []
    page.on(
        "console", lambda message: console_errors.append(message.text) if message.type == "error" else None
    )
    with use_clock(FixedClock(at(7))):
        day = field_day_make()
        technician = day.west_user
        technician.language = "en"
        technician.set_password("demo-password-1")
        technician.save()
        job = day.jobs["east-1"]
        page.set_viewport_size(PHONE)

        page.goto(f"{live_server.url}/accounts/staff-sign-in/")
        page.fill("input[name=username]", technician.username)
        page.fill("input[name=password]", "demo-password-1")
        page.click("main button[type=submit]")

        # A technician's sign-in lands on the day.
        expect(page).to_have_url(f"{live_server.url}/field/")
        expect(page.locator("h1")).to_contain_text("11 March")
        expect(page.locator("li.field-visit h3 a")).to_have_count(2)
        shot(page, "field-day")
        assert_accessible(page)

        page.click(f"li[data-job='{job.pk}'] h3 a")
        expect(page.locator("h1")).to_have_text(str(job.request.home))
        expect(page.locator("a[href^='geo:']")).to_be_visible()
        shot(page, "field-visit")
        assert_accessible(page)

        page.context.set_offline(True)
        page.click("form:has(input[name=action][value=arrived]) button")
        expect(page.locator("#field-queue")).to_contain_text(
            "Saved on this phone; it will be sent when you are online"
        )
        assert Event.objects.filter(case_id=job.request.case_id, activity="visit.arrived").count() == 0

        page.context.set_offline(False)
        # Sent on the browser's "online" event (or the 15-second retry); the
        # page reloads to show the visit as it now is.
        expect(page.locator(".messages")).to_contain_text("Arrival recorded.", timeout=25_000)
        expect(page.locator(".field-status")).to_have_text("at work")
        assert page.evaluate("localStorage.getItem('klantreis-field-queue')") == "[]"

        # The service worker kept the day: it can be read without a network.
        page.goto(f"{live_server.url}/field/")
        page.wait_for_function("navigator.serviceWorker.controller !== null")
        page.reload()
        page.context.set_offline(True)
        page.reload()
        expect(page.locator("h1")).to_contain_text("11 March")
        expect(page.locator(f"li[data-job='{job.pk}']")).to_be_visible()
        page.context.set_offline(False)

    assert Event.objects.filter(case_id=job.request.case_id, activity="visit.arrived").count() == 1
    assert Job.objects.get(pk=job.pk).arrived_at == at(7)
    assert [error for error in console_errors if "ERR_INTERNET_DISCONNECTED" not in error] == []


def test_a_queued_update_the_server_refuses_is_shown_and_dropped(live_server, page: Page, vera):
    with use_clock(FixedClock(at(7))):
        day = field_day_make()
        office = day.sub_user
        office.language = "en"
        office.set_password("demo-password-1")
        office.save()
        job = day.sub_job

        page.goto(f"{live_server.url}/accounts/staff-sign-in/")
        page.fill("input[name=username]", office.username)
        page.fill("input[name=password]", "demo-password-1")
        page.click("main button[type=submit]")
        page.click(f"li[data-job='{job.pk}'] h3 a")

        page.context.set_offline(True)
        page.click("form:has(input[name=action][value=arrived]) button")
        expect(page.locator("#field-queue")).to_contain_text("Saved on this phone")
        # Meanwhile the technician recorded the arrival on their own phone.
        job_arrive(job=job, technician=day.sub_technician, actor=None)

        page.context.set_offline(False)
        expect(page.locator("#field-queue")).to_contain_text(
            "This update was refused: Arrived: You have already arrived at this job.", timeout=25_000
        )
        assert page.evaluate("localStorage.getItem('klantreis-field-queue')") == "[]"

    assert Event.objects.filter(case_id=job.request.case_id, activity="visit.arrived").count() == 1


def test_not_fixed_and_the_follow_up_booked_on_site(live_server, page: Page, vera):
    with use_clock(FixedClock(at(7))):
        day = field_day_make()
        job = day.jobs["east-1"]
        sign_in(page, live_server.url, day.west_user)
        page.click(f"li[data-job='{job.pk}'] h3 a")
        page.click("form:has(input[name=action][value=arrived]) button")
        expect(page.locator(".messages")).to_contain_text("Arrival recorded.")

        # "Not fixed" without a reason is refused next to the field, the note kept.
        page.check("input[name=status][value=not_fixed]")
        page.fill("textarea[name=note]", "Sifon gescheurd")
        page.click("form:has(input[name=action][value=completed]) button[type=submit]")
        expect(page.locator(".error-summary")).to_contain_text("Please say why it could not be fixed.")
        expect(page.locator("textarea[name=note]")).to_have_value("Sifon gescheurd")

        page.select_option("select[name=not_fixed_reason]", "material")
        page.fill("textarea[name=materials]", "Sifon 40 mm")
        page.click("form:has(input[name=action][value=completed]) button[type=submit]")
        expect(page.locator(".messages")).to_contain_text("Not fixed: book the follow-up visit")
        expect(page.locator("#follow-up input[name=slot]").first).to_be_visible()
        assert_accessible(page)

        page.locator("#follow-up input[name=slot]").first.check()
        page.click("#follow-up form[method=post] button")
        expect(page.locator(".messages")).to_contain_text("Follow-up visit booked: Thursday 12 March")
        expect(page.locator(".appointment")).to_contain_text("Thursday 12 March")
        shot(page, "field-follow-up")
        assert_accessible(page)

    follow_up = Job.objects.get(request=job.request, status=Job.Status.OPEN)
    booking = Event.objects.get(case_id=job.request.case_id, activity="appointment.booked")
    assert (booking.attributes["job"], booking.channel, booking.attributes["follow_up"]) == (
        follow_up.pk,
        Event.Channel.ON_SITE,
        True,
    )
    not_fixed = Event.objects.get(case_id=job.request.case_id, activity="visit.not_fixed")
    assert (not_fixed.attributes["reason"], not_fixed.attributes["materials"]) == ("material", "Sifon 40 mm")
