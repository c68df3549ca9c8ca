"""The request page as a timeline: what happened, what comes next, and the
technician's arrival on the day (the fragment htmx asks for every 30 s)."""

import re

import pytest
from django.urls import reverse

from klantreis.accounts.tests.factories import UserFactory
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.events.models import Event
from klantreis.events.services import event_record
from klantreis.feedback.services import survey_issue
from klantreis.intake.selectors import request_history
from klantreis.journeys.models import ScheduledTouchpoint
from klantreis.journeys.selectors import touchpoint_upcoming_list
from klantreis.journeys.services import definitions_install_defaults, events_consume
from klantreis.planning import services
from klantreis.planning.models import Job
from klantreis.portal.tests.test_appointment import STAFF_ROLES, local, reported, technician

WEDNESDAY_10 = (local(11, 10), local(11, 12))
ETA = "portal:request_eta"
DETAIL = "portal:request_detail"


def url(request, name):
    return reverse(name, kwargs={"reference": request.reference})


def english(request):
    user = request.customer.user
    user.language = "en"
    user.save(update_fields=["language"])
    return user


def book(request, window=WEDNESDAY_10):
    return services.appointment_book(
        request=request, window_start=window[0], window_end=window[1], actor=None, channel="portal"
    )


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def next_steps(body: str) -> list[str]:
    match = re.search(r'<ol class="timeline next-steps">(.*?)</ol>', body, re.S)
    return (
        [] if match is None else [text(item) for item in re.findall(r"<li>(.*?)</li>", match.group(1), re.S)]
    )


@pytest.fixture
def journey(vera, fixed_clock):
    definitions_install_defaults()
    return fixed_clock


# What comes next


@pytest.mark.django_db
def test_next_lists_the_visit_and_the_pending_reminder_and_both_go_after_cancel(client, journey):
    technician()
    request = reported()
    book(request)
    events_consume()
    client.force_login(english(request))

    before = client.get(url(request, DETAIL)).content.decode()
    cancelled = client.post(url(request, "portal:appointment_cancel"), {"reason": ""})
    events_consume()
    after = client.get(url(request, DETAIL)).content.decode()

    steps = next_steps(before)
    assert "Tuesday 10 March 18:00 Reminder the day before" in steps
    assert "Wednesday 11 March between 10:00 and 12:00 Technician visit" in steps
    assert steps.index("Tuesday 10 March 18:00 Reminder the day before") < steps.index(
        "Wednesday 11 March between 10:00 and 12:00 Technician visit"
    )
    assert cancelled.status_code == 302
    assert "Reminder the day before" not in after
    assert "Technician visit" not in after
    assert ScheduledTouchpoint.objects.get(touchpoint="reminder").state == "cancelled"


@pytest.mark.django_db
def test_next_names_touchpoints_in_the_readers_language_and_leaves_out_staff_work(journey):
    technician()
    request = reported()
    book(request)
    events_consume()
    reminder = ScheduledTouchpoint.objects.get(touchpoint="reminder")
    ScheduledTouchpoint.objects.create(
        instance=reminder.instance,
        touchpoint="callback",
        armed_by=reminder.armed_by,
        due_at=reminder.due_at,
        created_at=reminder.created_at,
    )

    dutch = touchpoint_upcoming_list(case_id=request.case_id, language="nl")
    english_names = [t.name for t in touchpoint_upcoming_list(case_id=request.case_id, language="en")]

    assert "Herinnering de dag ervoor" in [t.name for t in dutch]
    assert "Reminder the day before" in english_names
    assert "Call back after a low score" not in english_names
    assert (
        next(t for t in dutch if t.touchpoint == "reminder").due_at.isoformat() == "2026-03-10T18:00:00+01:00"
    )
    assert touchpoint_upcoming_list(case_id="other-case", language="en") == []


# What happened


@pytest.mark.django_db
def test_every_event_a_tenant_sees_has_a_sentence_and_the_machinery_stays_hidden(client, vera, fixed_clock):
    request = reported()
    client.force_login(english(request))
    survey_issue(
        key="tp-9",
        kind="csat",
        case_id=request.case_id,
        customer=request.customer,
        language="en",
        expires_at=local(20, 12),
        touchpoint="survey",
    )
    for activity, attributes in [
        (
            "appointment.booked",
            {"window_start": "2026-03-11T09:00:00+00:00", "window_end": "2026-03-11T11:00:00+00:00"},
        ),
        (
            "appointment.rescheduled",
            {"window_start": "2026-03-12T07:00:00+00:00", "window_end": "2026-03-12T09:00:00+00:00"},
        ),
        (
            "appointment.cancelled",
            {
                "window_start": "2026-03-12T07:00:00+00:00",
                "window_end": "2026-03-12T09:00:00+00:00",
                "reason": "<b>x</b>",
            },
        ),
        ("technician.on_the_way", {}),
        ("eta.updated", {"eta": "2026-03-12T07:40:00+00:00"}),
        ("visit.arrived", {}),
        ("visit.fixed", {}),
        ("visit.not_fixed", {}),
        ("visit.not_home", {}),
        ("message.sent", {"key": "tp-1", "channel": "email"}),
        ("message.sent", {"key": "tp-9.sms", "channel": "sms"}),
        ("survey.answered", {"score": 4}),
        ("journey.started", {}),
        ("touchpoint.cancelled", {}),
        ("message.delivered", {"key": "tp-1", "channel": "email"}),
        ("appointment.replanned", {}),
    ]:
        event_record(
            case_id=request.case_id,
            activity=activity,
            actor=None,
            channel=attributes.get("channel", "portal"),
            layer=Event.Layer.DIGITAL,
            attributes=attributes,
        )

    body = client.get(url(request, DETAIL)).content.decode()
    staff = [item.activity for item in request_history(request=request)]

    for sentence in [
        "Appointment made via portal: Wednesday 11 March between 10:00 and 12:00",
        "Appointment moved via portal: Thursday 12 March between 08:00 and 10:00",
        "Appointment cancelled via portal: Thursday 12 March between 08:00 and 10:00",
        "The technician is on the way",
        "Expected arrival updated: Around 08:40",
        "The technician has arrived",
        "Technician visit: fixed",
        "Technician visit: not fixed yet",
        "Technician visit: nobody home",
        "Message sent (e-mail)",
        "Survey sent: how did it go? (SMS)",
        "Survey answered: Score: 4",
    ]:
        assert sentence in body
    for hidden in [
        "journey.started",
        "Journey started",
        "touchpoint.cancelled",
        "Message delivered",
        "replanned",
    ]:
        assert hidden not in body
    assert "<b>x</b>" not in body
    assert {"journey.started", "touchpoint.cancelled", "message.delivered", "appointment.replanned"} <= set(
        staff
    )


# The arrival on the day


@pytest.fixture
def today(vera, fixed_clock):
    """Wednesday 11 March 08:00, the day of a 10:00–12:00 appointment."""
    person = technician()
    request = reported()
    job = book(request)
    fixed_clock.set(local(11, 8))
    return person, request, job


@pytest.mark.django_db
def test_the_day_before_there_is_no_arrival_to_show(client, vera, fixed_clock):
    technician()
    request = reported()
    book(request)
    client.force_login(request.customer.user)

    page = client.get(url(request, DETAIL)).content.decode()
    fragment = client.get(url(request, ETA), headers={"HX-Request": "true"})

    assert 'id="eta"' not in page
    assert fragment.status_code == 286  # htmx: stop polling
    assert fragment.content.decode().strip() == '<div id="eta"></div>'


@pytest.mark.django_db
def test_on_the_day_the_page_shows_the_planned_arrival_and_polls(client, today):
    _person, request, job = today
    Job.objects.filter(pk=job.pk).update(planned_start=local(11, 10, 20))
    client.force_login(english(request))

    page = client.get(url(request, DETAIL)).content.decode()
    response = client.get(url(request, ETA), headers={"HX-Request": "true"})
    fragment = response.content.decode()

    assert response.status_code == 200  # polling goes on
    for body in (page, fragment):
        assert "The technician comes today, expected around 10:20." in body
        # The live region stays; only its content is swapped, so it is announced.
        assert (
            f'<div id="eta-live" aria-live="polite" aria-atomic="true" hx-get="{url(request, ETA)}" '
            'hx-trigger="every 30s" hx-select="#eta-now" hx-swap="innerHTML">'
        ) in body
        assert "Your time block: 10:00 to 12:00." in body
        assert f'href="{url(request, DETAIL)}#eta">Refresh</a>' in body
    assert "<html" not in fragment
    assert fragment.lstrip().startswith('<section id="eta"')


@pytest.mark.django_db
def test_on_the_way_the_fragment_gives_the_estimate_and_says_when_late(client, today, fixed_clock):
    person, request, job = today
    client.force_login(english(request))
    fixed_clock.set(local(11, 10, 5))
    services.technician_on_the_way(job=job, technician=person, actor=None, latitude=52.09, longitude=5.12)
    job.refresh_from_db()
    expected = job.expected_arrival.astimezone(local(11, 0).tzinfo)

    on_the_way = client.get(url(request, ETA)).content.decode()
    Job.objects.filter(pk=job.pk).update(expected_arrival=local(11, 12, 25))
    late = client.get(url(request, ETA)).content.decode()

    assert f"The technician is on the way and expects to be with you around {expected:%H:%M}." in on_the_way
    assert "later than the time block" not in on_the_way
    assert "The technician is on the way and expects to be with you around 12:25." in late
    assert "This is later than the time block we agreed. We are sorry for the wait." in late


@pytest.mark.django_db
def test_once_arrived_the_fragment_says_so_and_stops_polling(client, today, fixed_clock):
    person, request, job = today
    client.force_login(english(request))
    fixed_clock.set(local(11, 10, 5))
    services.technician_on_the_way(job=job, technician=person, actor=None, latitude=52.09, longitude=5.12)
    fixed_clock.set(local(11, 10, 20))
    services.job_arrive(job=job, technician=person, actor=None)

    response = client.get(url(request, ETA), headers={"HX-Request": "true"})
    fragment = response.content.decode()

    assert response.status_code == 286  # htmx: stop polling
    assert "The technician has arrived." in fragment
    assert "hx-trigger" not in fragment
    assert "Refresh" not in fragment


@pytest.mark.django_db
def test_after_the_visit_the_fragment_is_empty_and_stops_polling(client, today):
    _person, request, job = today
    Job.objects.filter(pk=job.pk).update(status=Job.Status.FIXED, arrived_at=local(11, 10))
    client.force_login(request.customer.user)

    fragment = client.get(url(request, ETA)).content.decode()

    assert fragment.strip() == '<div id="eta"></div>'


@pytest.mark.django_db
def test_another_tenants_arrival_is_not_found(client, today):
    _person, request, _job = today
    client.force_login(CustomerFactory().user)

    assert client.get(url(request, ETA)).status_code == 404


@pytest.mark.parametrize("role", STAFF_ROLES)
@pytest.mark.django_db
def test_staff_cannot_read_the_portal_arrival(client, today, role):
    _person, request, _job = today
    client.force_login(UserFactory(role=role))

    assert client.get(url(request, ETA)).status_code == 403


@pytest.mark.django_db
def test_anonymous_visitors_get_the_sign_in_page_for_the_arrival(client, today):
    _person, request, _job = today

    response = client.get(url(request, ETA))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:sign_in") + "?next=")
