"""Steps 3–4 of the journey in the portal: the tenant moves or cancels the
booked appointment, any hour, until the organisation's cut-off."""

from datetime import time

import pytest
from django.urls import reverse

from klantreis.accounts.tests.factories import UserFactory
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.events.models import Event
from klantreis.intake.models import RepairRequest
from klantreis.planning.models import Job, PlanningSettings
from klantreis.planning.plan import slot_offer_list
from klantreis.planning.services import (
    MESSAGE_CHANGE_TOO_LATE,
    MESSAGE_SLOT_TAKEN,
    appointment_book,
)
from klantreis.portal.tests.test_appointment import (
    CEILING,
    STAFF_ROLES,
    key,
    local,
    radios,
    reported,
    technician,
)

WEDNESDAY_8 = (local(11, 8), local(11, 10))
THURSDAY_8 = (local(12, 8), local(12, 10))

CHANGE = "portal:appointment_reschedule"
CANCEL = "portal:appointment_cancel"


def url(request, name):
    return reverse(name, kwargs={"reference": request.reference})


def normal(customer=None):
    """A request a two-hour shift holds one of a day (90 minutes)."""
    request = reported(CEILING, customer=customer)
    RepairRequest.objects.filter(pk=request.pk).update(urgency=RepairRequest.Urgency.NORMAL)
    request.refresh_from_db()
    return request


def book(request, window):
    return appointment_book(
        request=request, window_start=window[0], window_end=window[1], actor=None, channel="portal"
    )


def offered(request, now):
    return {(slot.start, slot.end) for slot in slot_offer_list(request=request, now=now)}


def english(request):
    user = request.customer.user
    user.language = "en"
    user.save(update_fields=["language"])
    return user


@pytest.fixture
def booked(vera, fixed_clock, organisation):
    """A tenant with Wednesday 08:00–10:00 booked and a neighbour who wants
    the same single visit a day of the same technician."""
    technician("LOO", start=time(8), end=time(10))
    request = normal()
    neighbour = normal()
    job = book(request, WEDNESDAY_8)
    return request, neighbour, job


@pytest.fixture
def organisation(db):
    from klantreis.core.models import Organisation

    return Organisation.objects.create(
        name="Woonstede", emergency_phone="088 123 4567", service_phone="030 765 4321"
    )


@pytest.mark.django_db
def test_the_appointment_page_says_until_when_it_can_be_changed(client, booked):
    request, _neighbour, _job = booked
    client.force_login(english(request))

    body = client.get(url(request, "portal:appointment")).content.decode()

    assert "You can change this appointment until Tuesday 10 March 17:00." in body
    assert f'href="{url(request, CHANGE)}"' in body
    assert f'href="{url(request, CANCEL)}"' in body
    assert "Choose another time" in body
    assert "Cancel the appointment" in body
    assert "030 765 4321</a>" not in body.split("<main")[1].split("</main>")[0]


@pytest.mark.django_db
def test_without_a_cut_off_the_page_says_until_the_technician_arrives(client, booked):
    PlanningSettings.objects.create(change_cutoff=None)
    request, _neighbour, _job = booked
    client.force_login(english(request))

    body = client.get(url(request, "portal:appointment")).content.decode()

    assert "You can change this appointment until the technician arrives." in body
    assert f'href="{url(request, CHANGE)}"' in body


@pytest.mark.django_db
def test_moving_the_appointment_holds_the_new_block_and_releases_the_old(client, booked, fixed_clock):
    request, neighbour, job = booked
    client.force_login(english(request))
    assert WEDNESDAY_8 not in offered(neighbour, fixed_clock.now())

    page = client.get(url(request, CHANGE))
    response = client.post(url(request, CHANGE), {"slot": key(*THURSDAY_8)})

    assert page.status_code == 200
    assert key(*THURSDAY_8) in radios(page.content.decode())
    assert response.status_code == 302
    assert response["Location"] == url(request, "portal:request_detail")
    job.refresh_from_db()
    assert (job.status, job.visit_start, job.visit_end) == ("open", *THURSDAY_8)
    assert Job.objects.filter(request=request).count() == 1
    moved = Event.objects.get(activity="appointment.rescheduled")
    assert (moved.actor, moved.channel, moved.case_id) == (request.customer.user, "portal", request.case_id)
    assert moved.attributes["previous_window_start"] == "2026-03-11T07:00:00+00:00"
    assert moved.attributes["window_start"] == "2026-03-12T07:00:00+00:00"
    assert moved.attributes["self_service"] is True
    # The old block is free for someone else; the new one is not.
    assert WEDNESDAY_8 in offered(neighbour, fixed_clock.now())
    assert THURSDAY_8 not in offered(neighbour, fixed_clock.now())
    detail = client.get(response["Location"]).content.decode()
    assert "Your appointment has moved to Thursday 12 March between 08:00 and 10:00." in detail
    assert "Appointment moved via portal: Thursday 12 March between 08:00 and 10:00" in detail


@pytest.mark.django_db
def test_moving_by_htmx_swaps_the_part_and_redirects_by_header(client, booked):
    request, _neighbour, _job = booked
    client.force_login(request.customer.user)

    page = client.get(url(request, CHANGE), headers={"HX-Request": "true"})
    response = client.post(url(request, CHANGE), {"slot": key(*THURSDAY_8)}, headers={"HX-Request": "true"})

    body = page.content.decode()
    assert "<html" not in body
    assert body.lstrip().startswith('<div id="appointment">')
    assert f'hx-post="{url(request, CHANGE)}"' in body
    assert response.status_code == 200
    assert response["HX-Redirect"] == url(request, "portal:request_detail")


@pytest.mark.django_db
def test_a_history_restore_gets_the_whole_page(client, booked):
    request, _neighbour, _job = booked
    client.force_login(request.customer.user)

    for name in (CHANGE, CANCEL):
        response = client.get(
            url(request, name), headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
        )
        assert "<html" in response.content.decode()


@pytest.mark.django_db
def test_a_block_taken_meanwhile_keeps_the_old_appointment(client, booked):
    request, neighbour, job = booked
    client.force_login(request.customer.user)
    assert key(*THURSDAY_8) in radios(client.get(url(request, CHANGE)).content.decode())
    book(neighbour, THURSDAY_8)
    events = Event.objects.count()

    response = client.post(url(request, CHANGE), {"slot": key(*THURSDAY_8)})

    body = response.content.decode()
    assert response.status_code == 422
    assert str(MESSAGE_SLOT_TAKEN) in body
    assert key(*THURSDAY_8) not in radios(body)
    assert radios(body)  # fresh offers to choose from
    job.refresh_from_db()
    assert (job.status, job.visit_start) == ("open", WEDNESDAY_8[0])
    assert Event.objects.count() == events


@pytest.mark.parametrize(
    "slot",
    ["", "morgen", "12-abc", "<script>alert(1)</script>", "1" * 40, "99999999999-999999999999", "0-7200"],
)
@pytest.mark.django_db
def test_an_unknown_or_hostile_block_key_gets_a_clear_error_and_changes_nothing(client, booked, slot):
    request, _neighbour, job = booked
    client.force_login(english(request))
    events = Event.objects.count()

    response = client.post(url(request, CHANGE), {"slot": slot})

    body = response.content.decode()
    assert response.status_code == 422
    assert 'class="error-summary"' in body
    assert "<script>alert(1)</script>" not in body
    assert radios(body)
    job.refresh_from_db()
    assert (job.status, job.visit_start) == ("open", WEDNESDAY_8[0])
    assert Event.objects.count() == events


@pytest.mark.django_db
def test_cancelling_asks_first_then_cancels_and_frees_the_block(client, booked, fixed_clock):
    request, neighbour, job = booked
    client.force_login(english(request))

    confirm = client.get(url(request, CANCEL))
    response = client.post(url(request, CANCEL), {"reason": "Ik ben <b>ziek</b>"})

    body = confirm.content.decode()
    assert "Do you want to cancel this appointment?" in body
    assert "Yes, cancel the appointment" in body
    assert response.status_code == 302
    assert response["Location"] == url(request, "portal:request_detail")
    job.refresh_from_db()
    assert (job.status, job.outcome_note) == ("cancelled", "Ik ben <b>ziek</b>")
    cancelled = Event.objects.get(activity="appointment.cancelled")
    assert (cancelled.actor, cancelled.channel) == (request.customer.user, "portal")
    assert cancelled.attributes["reason"] == "Ik ben <b>ziek</b>"
    assert WEDNESDAY_8 in offered(neighbour, fixed_clock.now())
    detail = client.get(response["Location"]).content.decode()
    assert "Your appointment is cancelled." in detail
    assert "Appointment cancelled via portal" in detail
    assert f'href="{url(request, "portal:appointment")}">Choose a time</a>' in detail
    assert "<b>ziek</b>" not in detail


@pytest.mark.django_db
def test_the_confirmation_page_changes_nothing(client, booked):
    request, _neighbour, job = booked
    client.force_login(request.customer.user)
    events = Event.objects.count()

    client.get(url(request, CANCEL))

    job.refresh_from_db()
    assert job.status == "open"
    assert Event.objects.count() == events


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("x" * 1001, "Please keep the reason to at most 1000 characters."),
        ("ziek\x00", "The reason contains a character we cannot store. Please remove it."),
    ],
)
@pytest.mark.django_db
def test_an_unusable_reason_gets_a_clear_error_keeps_the_text_and_cancels_nothing(
    client, booked, reason, message
):
    request, _neighbour, job = booked
    client.force_login(english(request))
    events = Event.objects.count()

    response = client.post(url(request, CANCEL), {"reason": reason})

    body = response.content.decode()
    assert response.status_code == 422
    assert message in body
    assert 'aria-invalid="true"' in body
    if len(reason) > 1000:
        assert reason in body  # nothing the tenant typed is lost
    job.refresh_from_db()
    assert job.status == "open"
    assert Event.objects.count() == events


@pytest.mark.django_db
def test_after_the_cut_off_the_page_gives_the_phone_and_the_services_refuse(client, booked, fixed_clock):
    request, _neighbour, job = booked
    client.force_login(english(request))
    fixed_clock.set(local(10, 17, 1))
    events = Event.objects.count()

    page = client.get(url(request, "portal:appointment")).content.decode()
    change_page = client.get(url(request, CHANGE)).content.decode()
    moved = client.post(url(request, CHANGE), {"slot": key(*THURSDAY_8)})
    cancelled = client.post(url(request, CANCEL), {"reason": ""})

    for body in (page, change_page):
        assert "This appointment can no longer be changed online." in body
        assert '<a href="tel:0307654321">030 765 4321</a>' in body
        assert f'href="{url(request, CHANGE)}"' not in body
        assert radios(body) == []
    too_late = str(MESSAGE_CHANGE_TOO_LATE % {"time": "17:00"})
    for response in (moved, cancelled):
        assert response.status_code == 422
        assert too_late in response.content.decode()
        assert '<a href="tel:0307654321">030 765 4321</a>' in response.content.decode()
    job.refresh_from_db()
    assert (job.status, job.visit_start) == ("open", WEDNESDAY_8[0])
    assert Event.objects.count() == events


@pytest.mark.django_db
def test_just_before_the_cut_off_the_change_still_works(client, booked, fixed_clock):
    request, _neighbour, job = booked
    client.force_login(request.customer.user)
    fixed_clock.set(local(10, 16, 59))

    response = client.post(url(request, CHANGE), {"slot": key(*THURSDAY_8)})

    assert response.status_code == 302
    job.refresh_from_db()
    assert job.visit_start == THURSDAY_8[0]


@pytest.mark.django_db
def test_without_an_appointment_the_change_pages_lead_to_choosing_a_time(client, vera, fixed_clock):
    technician()
    request = reported()
    client.force_login(request.customer.user)

    for name in (CHANGE, CANCEL):
        assert client.get(url(request, name))["Location"] == url(request, "portal:appointment")
        assert client.post(url(request, name), {"slot": "1-2"})["Location"] == url(
            request, "portal:appointment"
        )
    assert Event.objects.filter(activity__startswith="appointment.").count() == 0


@pytest.mark.django_db
def test_another_tenants_appointment_is_not_found_and_not_changed(client, booked):
    request, _neighbour, job = booked
    client.force_login(CustomerFactory().user)

    for name in (CHANGE, CANCEL):
        assert client.get(url(request, name)).status_code == 404
    assert client.post(url(request, CHANGE), {"slot": key(*THURSDAY_8)}).status_code == 404
    assert client.post(url(request, CANCEL), {"reason": ""}).status_code == 404
    job.refresh_from_db()
    assert (job.status, job.visit_start) == ("open", WEDNESDAY_8[0])


@pytest.mark.parametrize("role", STAFF_ROLES)
@pytest.mark.django_db
def test_staff_cannot_change_through_the_portal(client, booked, role):
    request, _neighbour, job = booked
    client.force_login(UserFactory(role=role))

    for name in (CHANGE, CANCEL):
        assert client.get(url(request, name)).status_code == 403
    assert client.post(url(request, CHANGE), {"slot": key(*THURSDAY_8)}).status_code == 403
    assert client.post(url(request, CANCEL), {"reason": ""}).status_code == 403
    job.refresh_from_db()
    assert (job.status, job.visit_start) == ("open", WEDNESDAY_8[0])


@pytest.mark.django_db
def test_anonymous_visitors_get_the_sign_in_page(client, booked):
    request, _neighbour, job = booked

    for name in (CHANGE, CANCEL):
        for response in (client.get(url(request, name)), client.post(url(request, name), {})):
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("portal:sign_in") + "?next=")
    job.refresh_from_db()
    assert job.status == "open"
