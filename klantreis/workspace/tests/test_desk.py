"""The staff side of desk messages: answering a tenant's message from the
request page (or from its task), to the tenant's portal inbox in their language."""

import uuid

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from klantreis.accounts.models import Role
from klantreis.accounts.tests.factories import UserFactory
from klantreis.core.forms import MESSAGE_KEY_MISSING
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.events.models import Event
from klantreis.intake.services import request_create
from klantreis.intake.tests.factories import TriageTreeFactory
from klantreis.journeys.desk import DESK_MESSAGE_MAX, customer_message_send, desk_message_answer
from klantreis.journeys.models import StaffTask
from klantreis.messaging.models import Message

pytestmark = pytest.mark.django_db
ALL_ROLES = list(Role.values)
ANSWERERS = {"agent", "planner", "admin"}


@pytest.fixture
def tree(vera):
    return TriageTreeFactory()


@pytest.fixture
def tenant():
    return CustomerFactory(user__language="en")


@pytest.fixture
def repair(tenant, tree, fixed_clock):
    return request_create(
        actor=tenant.user,
        customer=tenant,
        home=tenant.homes.get(),
        channel="portal",
        tree=tree,
        answers={"flooding": "no", "where": "ceiling"},
        defect_location_code="BAD",
        description="Water door het plafond",
    )


@pytest.fixture
def asked(tenant, repair):
    return customer_message_send(
        customer=tenant,
        actor=tenant.user,
        case_id=repair.case_id,
        reference=repair.reference,
        text="Wanneer komt de monteur?",
        key=str(uuid.uuid4()),
    )


def user_with(role):
    if role == "customer":
        return CustomerFactory().user
    return UserFactory(role=role)


def answer_url(repair):
    return reverse("workspace:desk_answer", kwargs={"reference": repair.reference})


def staff_page(repair):
    return reverse("workspace:request_detail", kwargs={"reference": repair.reference})


def test_an_agent_answers_and_the_tenant_reads_it_in_the_portal(client, tenant, repair, asked, fixed_clock):
    agent = UserFactory(role="agent")
    client.force_login(agent)
    html = client.get(staff_page(repair)).content.decode()
    assert f'action="{answer_url(repair)}"' in html
    assert "Wanneer komt de monteur?" in html  # the question is in the history

    response = client.post(answer_url(repair), {"key": str(uuid.uuid4()), "text": "Dinsdag tussen 10 en 12."})

    assert response.status_code == 302
    assert response["Location"] == staff_page(repair)
    [message] = Message.objects.filter(source="desk")
    assert message.customer == tenant
    assert message.channel == "inapp"
    assert message.status == Message.Status.DELIVERED  # the inbox is the delivery
    assert message.case_id == repair.case_id
    assert message.language == "en"
    assert message.subject == f"Answer from the service desk about {repair.reference}"
    assert message.text == "Dinsdag tussen 10 en 12."
    [event] = Event.objects.filter(activity="desk.message_sent")
    assert (event.actor, event.case_id) == (agent, repair.case_id)
    assert event.attributes == {
        "request": repair.reference,
        "text": "Dinsdag tussen 10 en 12.",
        "message": message.pk,
    }
    asked.refresh_from_db()
    assert asked.state == StaffTask.State.DONE
    assert asked.done_by == agent
    assert asked.note == "Dinsdag tussen 10 en 12."
    # The tenant reads it in their inbox and in the request's history.
    tenant_client = Client()
    tenant_client.force_login(tenant.user)
    portal = tenant_client.get(reverse("portal:request_detail", kwargs={"reference": repair.reference}))
    assert "Dinsdag tussen 10 en 12." in portal.content.decode()
    assert "Answer from the service desk" in portal.content.decode()
    home = tenant_client.get(reverse("portal:home")).content.decode()
    assert f"Answer from the service desk about {repair.reference}" in home


def test_a_dutch_tenant_gets_the_subject_in_dutch(client, tree, fixed_clock):
    dutch = CustomerFactory(user__language="nl")
    repair = request_create(
        actor=dutch.user,
        customer=dutch,
        home=dutch.homes.get(),
        channel="portal",
        tree=tree,
        answers={"flooding": "no", "where": "ceiling"},
        defect_location_code="BAD",
        description="Lek",
    )
    client.force_login(UserFactory(role="planner", language="en"))

    client.post(answer_url(repair), {"key": str(uuid.uuid4()), "text": "Antwoord"})

    message = Message.objects.get(source="desk")
    assert message.language == "nl"
    assert repair.reference in message.subject


@pytest.mark.parametrize("role", ALL_ROLES)
def test_who_may_answer(client, repair, asked, role):
    client.force_login(user_with(role))

    response = client.post(answer_url(repair), {"key": str(uuid.uuid4()), "text": "Antwoord"})

    if role in ANSWERERS:
        assert response.status_code == 302
        assert Message.objects.filter(source="desk").count() == 1
    else:
        assert response.status_code == 403
        assert not Message.objects.filter(source="desk").exists()
        asked.refresh_from_db()
        assert asked.state == StaffTask.State.OPEN


@pytest.mark.parametrize("role", ["technician", "subcontractor", "designer"])
def test_the_staff_page_shows_no_answer_form_to_others(client, repair, asked, role):
    client.force_login(user_with(role))

    response = client.get(staff_page(repair))

    if response.status_code == 200:
        assert f'action="{answer_url(repair)}"' not in response.content.decode()


def test_anonymous_visitors_go_to_sign_in(client, repair):
    response = client.post(answer_url(repair), {"key": str(uuid.uuid4()), "text": "x"})

    assert response.status_code == 302
    assert "sign-in" in response["Location"]
    assert not Message.objects.exists()


def test_an_unknown_request_is_404(client, repair):
    client.force_login(UserFactory(role="agent"))

    assert (
        client.post(
            reverse("workspace:desk_answer", kwargs={"reference": "M26-999999"}), {"text": "x"}
        ).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "Please write your answer."),
        ("z" * (DESK_MESSAGE_MAX + 1), f"Please keep the answer under {DESK_MESSAGE_MAX} characters."),
    ],
)
def test_a_bad_answer_is_refused_and_kept(client, repair, asked, text, error):
    client.force_login(UserFactory(role="agent", language="en"))

    response = client.post(answer_url(repair), {"key": str(uuid.uuid4()), "text": text})

    html = response.content.decode()
    assert response.status_code == 422
    assert error in html
    assert f"{text}</textarea>" in html
    assert not Message.objects.filter(source="desk").exists()
    asked.refresh_from_db()
    assert asked.state == StaffTask.State.OPEN


def test_a_hostile_answer_reaches_the_tenant_escaped(client, tenant, repair, asked):
    client.force_login(UserFactory(role="agent"))
    hostile = "<script>alert(1)</script>"

    client.post(answer_url(repair), {"key": str(uuid.uuid4()), "text": hostile})

    client.force_login(tenant.user)
    html = client.get(
        reverse("portal:request_detail", kwargs={"reference": repair.reference})
    ).content.decode()
    assert hostile not in html
    assert escape(hostile) in html


def test_the_desk_task_is_listed_with_the_message_and_a_way_to_answer(client, repair, asked):
    client.force_login(UserFactory(role="agent", language="en"))

    html = client.get(reverse("workspace:tasks") + "?queue=desk").content.decode()

    assert f"Message from the customer about {repair.reference}" in html
    assert "Service desk" in html
    assert "Wanneer komt de monteur?" in html
    assert f'href="{staff_page(repair)}#desk"' in html


def test_a_desk_task_can_also_be_marked_done_without_an_answer(client, asked):
    client.force_login(UserFactory(role="agent"))

    response = client.post(reverse("workspace:task_done", kwargs={"task_id": asked.pk}), {"note": "Gebeld"})

    assert response.status_code == 302
    asked.refresh_from_db()
    assert asked.state == StaffTask.State.DONE
    assert Event.objects.get(activity="task.completed").attributes["journey"] == ""


def test_an_answer_sent_twice_reaches_the_tenant_once(client, tenant, repair, asked):
    client.force_login(UserFactory(role="agent"))
    form = {"key": str(uuid.uuid4()), "text": "Dinsdag tussen 10 en 12."}

    first = client.post(answer_url(repair), form)
    again = client.post(answer_url(repair), form)

    assert first.status_code == again.status_code == 302
    assert Message.objects.filter(source="desk").count() == 1
    assert Event.objects.filter(activity="desk.message_sent").count() == 1
    client.post(answer_url(repair), {"key": str(uuid.uuid4()), "text": "Of woensdag."})
    assert Message.objects.filter(source="desk").count() == 2


def test_the_same_form_key_on_another_request_is_another_answer(tenant, repair, asked, tree):
    agent = UserFactory(role="agent")
    other = request_create(
        customer=tenant,
        home=tenant.homes.get(),
        actor=tenant.user,
        channel="portal",
        tree=tree,
        answers={"flooding": "no", "where": "ceiling"},
        defect_location_code="BAD",
        description="Nog een lek",
    )
    key = str(uuid.uuid4())

    first = desk_message_answer(
        customer=tenant, actor=agent, case_id=repair.case_id, reference=repair.reference, text="A", key=key
    )
    second = desk_message_answer(
        customer=tenant, actor=agent, case_id=other.case_id, reference=other.reference, text="B", key=key
    )

    assert first.idempotency_key == f"desk-{repair.case_id}-{key}"
    assert second.pk != first.pk
    assert second.text == "B"


def test_an_answer_without_a_valid_form_key_is_refused_and_kept(client, tenant, repair, asked):
    agent = UserFactory(role="agent")
    client.force_login(agent)

    response = client.post(answer_url(repair), {"key": "x" * 3000, "text": "Mijn antwoord"})

    assert response.status_code == 422
    html = response.content.decode()
    with translation.override(agent.language):
        assert escape(str(MESSAGE_KEY_MISSING)) in html
    assert "Mijn antwoord" in html
    assert not Message.objects.filter(source="desk").exists()
