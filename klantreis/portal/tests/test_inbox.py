"""The portal inbox: a tenant reads the in-app messages sent to them (and
only those), newest first, on their home page and per request."""

from datetime import timedelta

import pytest
from django.urls import reverse

from klantreis.accounts.tests.factories import UserFactory
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.intake.services import request_create
from klantreis.intake.tests.factories import TriageTreeFactory
from klantreis.messaging.models import Message
from klantreis.messaging.services import MessageDraft, messages_prepare, messages_send

pytestmark = pytest.mark.django_db
HOME = reverse("portal:home")


@pytest.fixture
def tenant():
    return CustomerFactory(name="Fatima Yilmaz", email="fatima@example.nl")


def send(customer, key, subject, text="Tekst", *, channels=("inapp",), case_id="", clock=None):
    """Through messaging as the journeys send: a row first, then the channel."""
    (message,) = messages_prepare(
        drafts=[
            MessageDraft(
                idempotency_key=key,
                customer=customer,
                case_id=case_id,
                source="test",
                channels=channels,
                language="nl",
                subject=subject,
                text=text,
            )
        ]
    )
    messages_send(messages=[message])
    if clock is not None:
        clock.advance(timedelta(minutes=5))
    message.refresh_from_db()
    return message


def subjects_on(content):
    return [s for s in ("Eerste", "Tweede", "Derde") if s in content]


def test_a_tenant_reads_their_inbox_newest_first(client, tenant, fixed_clock):
    first = send(tenant, "a", "Eerste", "Regel een\nRegel twee: http://localhost/portal/", clock=fixed_clock)
    send(tenant, "b", "Tweede", clock=fixed_clock)
    client.force_login(tenant.user)

    response = client.get(HOME)

    content = response.content.decode()
    assert response.status_code == 200
    assert first.status == Message.Status.DELIVERED
    inbox = content[content.index('id="inbox"') :]
    assert inbox.index("Tweede") < inbox.index("Eerste")
    assert "Regel een<br>Regel twee: " in inbox
    assert '<a href="http://localhost/portal/" rel="nofollow">http://localhost/portal/</a>' in inbox
    assert f'datetime="{first.created_at.astimezone(fixed_clock.now().tzinfo).isoformat()}"' in inbox


def test_another_tenants_messages_are_never_shown(client, tenant, fixed_clock):
    neighbour = CustomerFactory()
    send(tenant, "mine", "Eerste", clock=fixed_clock)
    send(neighbour, "theirs", "Tweede", clock=fixed_clock)
    client.force_login(tenant.user)

    content = client.get(HOME).content.decode()

    assert subjects_on(content) == ["Eerste"]


def test_only_what_reached_the_inbox_is_listed(client, tenant, fixed_clock):
    send(tenant, "inbox", "Eerste", clock=fixed_clock)
    send(tenant, "mail", "Tweede", channels=("email",), clock=fixed_clock)
    # Not sent yet: still queued.
    messages_prepare(
        drafts=[
            MessageDraft(
                idempotency_key="queued",
                customer=tenant,
                case_id="",
                source="test",
                channels=("inapp",),
                language="nl",
                subject="Derde",
                text="Nog niet verstuurd",
            )
        ]
    )
    client.force_login(tenant.user)

    content = client.get(HOME).content.decode()

    assert Message.objects.get(idempotency_key="mail").channel == "email"
    assert subjects_on(content) == ["Eerste"]


def test_an_empty_inbox_says_so(client, tenant):
    client.force_login(tenant.user)

    content = client.get(HOME).content.decode()

    assert "Nog geen berichten." in content


def test_the_inbox_escapes_what_a_message_says(client, tenant, fixed_clock):
    send(tenant, "x", "<script>alert(1)</script>", "<img src=x onerror=alert(2)>", clock=fixed_clock)
    client.force_login(tenant.user)

    content = client.get(HOME).content.decode()

    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert "<img src=x" not in content


def test_the_inbox_is_paged(client, tenant, fixed_clock):
    for number in range(12):
        send(tenant, f"m{number}", f"Bericht {number:02d}", clock=fixed_clock)
    client.force_login(tenant.user)

    first = client.get(HOME).content.decode()
    second = client.get(HOME, {"page": "2"}).content.decode()
    nonsense = client.get(HOME, {"page": "<script>"})

    assert "Bericht 11" in first
    assert "Bericht 02" in first
    assert "Bericht 01" not in first
    assert "Bericht 01" in second
    assert "Bericht 00" in second
    assert "Bericht 11" not in second
    assert 'href="?page=2#inbox"' in first
    assert nonsense.status_code == 200


def test_the_request_page_lists_that_requests_messages_only(client, tenant, vera, fixed_clock):
    tree = TriageTreeFactory()
    repair = request_create(
        actor=tenant.user,
        customer=tenant,
        home=tenant.homes.get(),
        channel="portal",
        tree=tree,
        answers={"flooding": "no", "where": "ceiling"},
        defect_location_code="BAD",
        description="Lek",
    )
    send(tenant, "this", "Eerste", case_id=repair.case_id, clock=fixed_clock)
    send(tenant, "other", "Tweede", case_id="request:M26-999999", clock=fixed_clock)
    send(CustomerFactory(), "neighbour", "Derde", case_id=repair.case_id, clock=fixed_clock)
    client.force_login(tenant.user)

    content = client.get(
        reverse("portal:request_detail", kwargs={"reference": repair.reference})
    ).content.decode()

    assert subjects_on(content) == ["Eerste"]


def test_staff_have_no_inbox(client):
    client.force_login(UserFactory(role="agent"))

    assert client.get(HOME).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(HOME)

    assert response.status_code == 302
    assert response.url.startswith(reverse("portal:sign_in"))
