"""From the request page: adding information or photos, and writing to the
service desk (the staff side is in workspace/tests/test_desk.py)."""

import io
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape
from PIL import Image

from klantreis.accounts.models import Role
from klantreis.accounts.tests.factories import UserFactory
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.events.models import Event
from klantreis.intake.models import RepairRequest, RequestPhoto
from klantreis.intake.photos import MESSAGE_PHOTO_WRONG_TYPE
from klantreis.intake.services import (
    INFORMATION_MAX,
    MESSAGE_INFORMATION_CLOSED,
    MESSAGE_INFORMATION_EMPTY,
    request_create,
)
from klantreis.intake.tests.factories import TriageTreeFactory
from klantreis.journeys.desk import DESK_MESSAGE_MAX
from klantreis.journeys.models import StaffTask

pytestmark = pytest.mark.django_db
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
STAFF_ROLES = [role for role in Role.values if role != Role.CUSTOMER]


@pytest.fixture
def tree(vera):
    return TriageTreeFactory()


def report_for(customer, tree):
    return request_create(
        actor=customer.user,
        customer=customer,
        home=customer.homes.get(),
        channel="portal",
        tree=tree,
        answers={"flooding": "no", "where": "ceiling"},
        defect_location_code="BAD",
        description="Water door het plafond",
    )


@pytest.fixture
def tenant():
    return CustomerFactory(user__language="en")


@pytest.fixture
def repair(tenant, tree, fixed_clock):
    return report_for(tenant, tree)


def info_url(repair):
    return reverse("portal:information_add", kwargs={"reference": repair.reference})


def desk_url(repair):
    return reverse("portal:desk_message", kwargs={"reference": repair.reference})


def detail_url(repair):
    return reverse("portal:request_detail", kwargs={"reference": repair.reference})


def png(name="lek.png"):
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def page(response):
    return response.content.decode()


# The request page offers both


def test_the_request_page_offers_adding_information_and_a_message(client, tenant, repair):
    client.force_login(tenant.user)

    html = page(client.get(detail_url(repair)))

    assert f'action="{info_url(repair)}"' in html
    assert 'enctype="multipart/form-data"' in html
    assert f'action="{desk_url(repair)}"' in html


def test_a_closed_request_page_says_nothing_can_be_added(client, tenant, repair):
    RepairRequest.objects.filter(pk=repair.pk).update(status=RepairRequest.Status.COMPLETED)
    client.force_login(tenant.user)

    html = page(client.get(detail_url(repair)))

    assert f'action="{info_url(repair)}"' not in html
    assert "This request is closed, so nothing can be added to it." in html
    assert f'action="{desk_url(repair)}"' in html  # a question can still be asked


# Adding information


def test_a_tenant_adds_text_and_a_photo(client, tenant, repair, fixed_clock):
    client.force_login(tenant.user)
    assert client.get(info_url(repair)).status_code == 200

    response = client.post(info_url(repair), {"text": "  Nu lekt het ook in de gang  ", "photos": [png()]})

    assert response.status_code == 302
    assert response["Location"] == detail_url(repair)
    [event] = Event.objects.filter(activity="request.information_added")
    assert event.case_id == repair.case_id
    assert event.actor == tenant.user
    assert event.channel == "portal"
    assert event.occurred_at == fixed_clock.now()
    assert event.attributes == {
        "request": repair.reference,
        "text": "Nu lekt het ook in de gang",
        "photos": 1,
    }
    [photo] = RequestPhoto.objects.filter(request=repair)
    assert photo.uploaded_by == tenant.user
    # Shown in the history of the tenant and of the staff.
    html = page(client.get(detail_url(repair)))
    assert "Information added" in html
    assert "Nu lekt het ook in de gang" in html
    client.force_login(UserFactory(role="agent"))
    staff = page(client.get(reverse("workspace:request_detail", kwargs={"reference": repair.reference})))
    assert "Nu lekt het ook in de gang" in staff


def test_photos_alone_are_enough(client, tenant, repair):
    client.force_login(tenant.user)

    response = client.post(info_url(repair), {"text": "", "photos": [png("a.png"), png("b.png")]})

    assert response.status_code == 302
    assert Event.objects.get(activity="request.information_added").attributes["photos"] == 2
    assert RequestPhoto.objects.filter(request=repair).count() == 2


def test_nothing_at_all_is_refused(client, tenant, repair):
    client.force_login(tenant.user)

    response = client.post(info_url(repair), {"text": "   "})

    assert response.status_code == 422
    assert str(MESSAGE_INFORMATION_EMPTY) in page(response)
    assert not Event.objects.filter(activity="request.information_added").exists()


def test_oversized_text_is_refused_and_kept(client, tenant, repair):
    client.force_login(tenant.user)
    text = "x" * (INFORMATION_MAX + 1)

    response = client.post(info_url(repair), {"text": text})

    html = page(response)
    assert response.status_code == 422
    assert f"Please keep your text under {INFORMATION_MAX} characters." in html
    assert f"{text}</textarea>" in html
    assert 'aria-invalid="true"' in html
    assert not Event.objects.filter(activity="request.information_added").exists()


def test_text_of_exactly_the_limit_is_taken(client, tenant, repair):
    client.force_login(tenant.user)

    assert client.post(info_url(repair), {"text": "x" * INFORMATION_MAX}).status_code == 302


def test_hostile_text_is_stored_as_typed_and_shown_escaped(client, tenant, repair):
    client.force_login(tenant.user)
    hostile = '<script>alert("x")</script><b>vet</b>'

    client.post(info_url(repair), {"text": hostile})

    assert Event.objects.get(activity="request.information_added").attributes["text"] == hostile
    for url in (
        detail_url(repair),
        reverse("workspace:request_detail", kwargs={"reference": repair.reference}),
    ):
        html = page(client.get(url))
        assert hostile not in html
        assert escape(hostile) in html
        client.force_login(UserFactory(role="agent"))


def test_a_file_that_is_no_photo_is_refused_and_the_text_kept(client, tenant, repair):
    client.force_login(tenant.user)
    fake = SimpleUploadedFile("virus.png", b"MZ not an image at all", content_type="image/png")

    response = client.post(info_url(repair), {"text": "Zie foto", "photos": [fake]})

    html = page(response)
    assert response.status_code == 422
    assert escape(str(MESSAGE_PHOTO_WRONG_TYPE) % {"name": "virus.png"}) in html
    assert "Zie foto</textarea>" in html
    assert "Please choose your photos again." in html
    assert not RequestPhoto.objects.filter(request=repair).exists()
    assert not Event.objects.filter(activity="request.information_added").exists()


@pytest.mark.parametrize("status", [RepairRequest.Status.COMPLETED, RepairRequest.Status.CANCELLED])
def test_a_closed_request_refuses_with_a_clear_message_and_keeps_the_text(client, tenant, repair, status):
    RepairRequest.objects.filter(pk=repair.pk).update(status=status)
    client.force_login(tenant.user)

    shown = client.get(info_url(repair))
    response = client.post(info_url(repair), {"text": "Nog iets"})

    assert str(MESSAGE_INFORMATION_CLOSED) in page(shown)
    assert response.status_code == 422
    assert str(MESSAGE_INFORMATION_CLOSED) in page(response)
    assert not Event.objects.filter(activity="request.information_added").exists()


def test_another_tenants_request_is_404(client, tenant, repair, tree):
    other = CustomerFactory()
    client.force_login(other.user)

    assert client.get(info_url(repair)).status_code == 404
    assert client.post(info_url(repair), {"text": "Van mij"}).status_code == 404
    assert client.post(desk_url(repair), {"key": str(uuid.uuid4()), "text": "Van mij"}).status_code == 404
    assert not Event.objects.filter(
        activity__in=["request.information_added", "customer.message_sent"]
    ).exists()


def test_an_unknown_reference_is_404(client, tenant, repair):
    client.force_login(tenant.user)

    assert (
        client.post(
            reverse("portal:information_add", kwargs={"reference": "M26-999999"}), {"text": "x"}
        ).status_code
        == 404
    )


@pytest.mark.parametrize("name", ["portal:information_add", "portal:desk_message"])
def test_anonymous_visitors_go_to_sign_in(client, repair, name):
    url = reverse(name, kwargs={"reference": repair.reference})

    for response in (client.get(url), client.post(url, {"text": "x"})):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("portal:sign_in"))


@pytest.mark.parametrize("role", STAFF_ROLES)
@pytest.mark.parametrize("name", ["portal:information_add", "portal:desk_message"])
def test_staff_are_refused_on_the_portal_views(client, repair, role, name):
    client.force_login(UserFactory(role=role))
    url = reverse(name, kwargs={"reference": repair.reference})

    assert client.get(url).status_code == 403
    assert client.post(url, {"text": "x"}).status_code == 403


def test_posts_need_the_csrf_token(tenant, repair):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(tenant.user)

    assert strict.post(info_url(repair), {"text": "x"}).status_code == 403
    assert strict.post(desk_url(repair), {"key": str(uuid.uuid4()), "text": "x"}).status_code == 403


# Messaging the desk


def test_a_tenant_writes_to_the_desk(client, tenant, repair, fixed_clock):
    client.force_login(tenant.user)
    assert client.get(desk_url(repair)).status_code == 200

    key = str(uuid.uuid4())
    response = client.post(desk_url(repair), {"key": key, "text": "Kan de monteur ook naar de kraan kijken?"})

    assert response.status_code == 302
    assert response["Location"] == detail_url(repair)
    [event] = Event.objects.filter(activity="customer.message_sent")
    assert (event.case_id, event.actor, event.channel) == (repair.case_id, tenant.user, "portal")
    assert event.attributes == {
        "request": repair.reference,
        "text": "Kan de monteur ook naar de kraan kijken?",
        "key": key,
    }
    [task] = StaffTask.objects.all()
    assert task.queue == "desk"
    assert task.state == StaffTask.State.OPEN
    assert task.case_id == repair.case_id
    assert task.title_en == f"Message from the customer about {repair.reference}"
    assert task.title_nl == f"Bericht van klant over {repair.reference}"
    assert task.details["message"] == "Kan de monteur ook naar de kraan kijken?"
    # Tuesday 09:30 → one working day later.
    assert task.deadline == datetime(2026, 3, 11, 9, 30, tzinfo=AMSTERDAM)
    # The tenant sees it as sent in the request's history.
    html = page(client.get(detail_url(repair)))
    assert "Message to the service desk" in html
    assert "Kan de monteur ook naar de kraan kijken?" in html


def test_a_message_on_friday_is_due_on_monday(client, tenant, repair, fixed_clock):
    fixed_clock.set(datetime(2026, 3, 13, 16, 0, tzinfo=AMSTERDAM))
    client.force_login(tenant.user)

    client.post(desk_url(repair), {"key": str(uuid.uuid4()), "text": "Vraagje"})

    assert StaffTask.objects.get().deadline == datetime(2026, 3, 16, 16, 0, tzinfo=AMSTERDAM)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "Please write your message."),
        ("   ", "Please write your message."),
        ("y" * (DESK_MESSAGE_MAX + 1), f"Please keep your message under {DESK_MESSAGE_MAX} characters."),
    ],
)
def test_a_bad_message_is_refused_and_kept(client, tenant, repair, text, error):
    client.force_login(tenant.user)

    response = client.post(desk_url(repair), {"key": str(uuid.uuid4()), "text": text})

    html = page(response)
    assert response.status_code == 422
    assert error in html
    if text.strip():
        assert f"{text}</textarea>" in html
    assert not StaffTask.objects.exists()
    assert not Event.objects.filter(activity="customer.message_sent").exists()


def test_a_hostile_message_is_shown_escaped(client, tenant, repair):
    client.force_login(tenant.user)
    hostile = "<img src=x onerror=alert(1)>"

    client.post(desk_url(repair), {"key": str(uuid.uuid4()), "text": hostile})

    html = page(client.get(detail_url(repair)))
    assert hostile not in html
    assert escape(hostile) in html


def test_a_message_sent_twice_reaches_the_desk_once(client, tenant, repair):
    client.force_login(tenant.user)
    form = {"key": str(uuid.uuid4()), "text": "Vraagje"}

    first = client.post(desk_url(repair), form)
    again = client.post(desk_url(repair), form)  # a double click, or the browser resending

    assert first.status_code == again.status_code == 302
    assert Event.objects.filter(activity="customer.message_sent").count() == 1
    assert StaffTask.objects.count() == 1
    # A new form (a new key) is a new message.
    client.post(desk_url(repair), {"key": str(uuid.uuid4()), "text": "Vraagje"})
    assert StaffTask.objects.count() == 2


@pytest.mark.parametrize("key", [None, "", "not-a-key", "1" * 5000, "<script>alert(1)</script>"])
def test_a_message_without_a_valid_form_key_is_refused_and_kept(client, tenant, repair, key):
    client.force_login(tenant.user)
    form = {"text": "Mijn vraag blijft staan"} | ({} if key is None else {"key": key})

    response = client.post(desk_url(repair), form)

    assert response.status_code == 422
    html = page(response)
    assert "This form is out of date. Please reload the page." in html
    assert "Mijn vraag blijft staan" in html
    assert "<script>alert(1)</script>" not in html
    assert not StaffTask.objects.exists()
