"""The staff task queue: who may see and work it, what it shows, and marking
a task done (once, with a note of at most 2000 characters)."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from klantreis.accounts.models import Role
from klantreis.accounts.tests.factories import UserFactory
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.events.models import Event
from klantreis.intake.tests.factories import TriageTreeFactory
from klantreis.journeys.models import StaffTask
from klantreis.journeys.services import MESSAGE_TASK_DONE
from klantreis.workspace.forms import MESSAGE_TASK_NOTE_TOO_LONG
from klantreis.workspace.tests.journey_cases import callback_task, journeys_install

pytestmark = pytest.mark.django_db

ALL_ROLES = list(Role.values)
VIEWERS = {"agent", "planner", "designer", "manager", "admin"}  # the manager looks, never acts
ACTORS = {"agent", "planner", "admin"}
TASKS = reverse("workspace:tasks")
HTMX = {"HX-Request": "true"}
TITLE_EN = "Call the tenant back: low score"
TITLE_NL = "Bel de huurder terug: laag cijfer"


@pytest.fixture
def tree(vera, fixed_clock):
    journeys_install()
    return TriageTreeFactory()


@pytest.fixture
def task(tree):
    return callback_task(tree, customer=CustomerFactory(name="Fatima Yilmaz", phone="+31612345678"))


def user_with(role, language="en"):
    if role == "customer":
        return CustomerFactory(user__language=language).user
    return UserFactory(role=role, language=language)


def done_url(task):
    return reverse("workspace:task_done", kwargs={"task_id": task.pk})


def in_dutch(message, **values):
    with translation.override("nl"):
        text = str(message)
    return escape(text % values if values else text)


def state_of(task):
    task.refresh_from_db()
    return (task.state, task.note, task.done_by_id, Event.objects.filter(activity="task.completed").count())


# Access


@pytest.mark.parametrize("role", ALL_ROLES)
def test_the_task_list_by_role(client, task, role):
    client.force_login(user_with(role))

    response = client.get(TASKS)

    assert response.status_code == (200 if role in VIEWERS else 403)
    if role in VIEWERS:
        content = response.content.decode()
        assert TITLE_EN in content
        # Designers look; the others get the done form.
        assert (done_url(task) in content) == (role in ACTORS)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_only_agents_planners_and_admins_mark_a_task_done(client, task, role):
    user = user_with(role)
    client.force_login(user)

    response = client.post(done_url(task), {"note": "Gebeld"})

    if role in ACTORS:
        assert response.status_code == 302
        assert state_of(task) == ("done", "Gebeld", user.pk, 1)
    else:
        assert response.status_code == 403
        assert state_of(task) == ("open", "", None, 0)


def test_anonymous_visitors_are_sent_to_sign_in(client, task):
    responses = [client.get(TASKS), client.post(done_url(task), {"note": "x"})]

    assert [r.status_code for r in responses] == [302, 302]
    assert all(r.url.startswith(reverse("portal:sign_in") + "?next=") for r in responses)
    assert state_of(task) == ("open", "", None, 0)


def test_the_task_list_is_in_the_navigation_of_those_who_may_see_it(client, task):
    for role in ALL_ROLES:
        client.force_login(user_with(role))
        home = reverse("portal:home") if role == "customer" else reverse("workspace:home")
        content = client.get(home).content.decode()
        assert (f'href="{TASKS}"' in content) == (role in VIEWERS), role


def test_marking_done_needs_the_csrf_token(task):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_with("agent"))

    response = client.post(done_url(task), {"note": "Gebeld"})

    assert response.status_code == 403
    assert state_of(task) == ("open", "", None, 0)


def test_a_task_that_does_not_exist_is_404(client, task):
    client.force_login(user_with("agent"))

    response = client.post(reverse("workspace:task_done", kwargs={"task_id": task.pk + 1}), {"note": ""})

    assert response.status_code == 404
    assert state_of(task) == ("open", "", None, 0)


def test_the_list_only_answers_get(client, task):
    client.force_login(user_with("agent"))

    assert client.post(TASKS).status_code == 405
    assert client.get(done_url(task)).status_code == 405


# What the list shows


def test_a_task_shows_its_case_customer_deadline_and_details(client, task):
    client.force_login(user_with("agent"))

    content = client.get(TASKS).content.decode()

    reference = task.case_id.removeprefix("request:")
    detail = reverse("workspace:request_detail", kwargs={"reference": reference})
    assert f'<a href="{detail}">Request {reference}</a>' in content
    assert "Fatima Yilmaz" in content
    assert 'href="tel:+31612345678"' in content
    # One working day after the answer (Tuesday 09:30), in the organisation's time.
    assert 'datetime="2026-03-11T09:30:00+01:00"' in content
    facts = re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", content, re.S)
    assert [(label, re.sub(r"<[^>]+>", "", value).strip()) for label, value in facts] == [
        ("Deadline", "March 11, 2026, 9:30 a.m."),
        ("Queue", "Call-backs"),
        ("Case", f"Request {reference}"),
        ("Customer", "Fatima Yilmaz · +31612345678"),
        ("Score", "1"),
        ("Survey", "csat"),
        ("Comment given", "yes"),
    ]
    assert "overdue" not in content.split('id="tasks"', 1)[1]
    assert "1 open task" in content


def test_the_title_is_in_the_viewers_language(client, task):
    client.force_login(user_with("planner", language="nl"))

    content = client.get(TASKS).content.decode()

    assert TITLE_NL in content
    assert TITLE_EN not in content


def test_open_tasks_come_nearest_deadline_first_and_overdue_ones_are_marked(client, tree, fixed_clock):
    first = callback_task(tree)
    fixed_clock.advance(timedelta(days=1, hours=1))  # Wednesday 10:30: the first is overdue
    second = callback_task(tree)
    client.force_login(user_with("agent"))

    content = client.get(TASKS).content.decode()

    assert content.index(f'id="task-{first.pk}"') < content.index(f'id="task-{second.pk}"')
    first_card = content[content.index(f'id="task-{first.pk}"') : content.index(f'id="task-{second.pk}"')]
    second_card = content[content.index(f'id="task-{second.pk}"') :]
    assert (
        "task-overdue"
        in content[content.index(f'id="task-{first.pk}"') - 40 : content.index(f'id="task-{first.pk}"')]
    )
    assert '<span class="badge badge-risk">overdue</span>' in first_card
    assert "badge-risk" not in second_card
    assert "1 overdue on this page" in content


def test_the_queue_filter(client, task):
    other = StaffTask.objects.create(
        instance=task.instance,
        queue="inspections",
        title_nl="Inspecteer de woning",
        title_en="Inspect the home",
        case_id=task.case_id,
        deadline=task.deadline + timedelta(days=1),
        created_at=task.created_at,
    )
    client.force_login(user_with("agent"))

    everything = client.get(TASKS).content.decode()
    callbacks = client.get(TASKS, {"queue": "callbacks"}).content.decode()
    inspections = client.get(TASKS, {"queue": "inspections"}).content.decode()
    empty = client.get(TASKS, {"queue": "nothing_here"}).content.decode()

    assert TITLE_EN in everything
    assert "Inspect the home" in everything
    assert '<option value="callbacks">Call-backs</option>' in everything
    assert '<option value="inspections">inspections</option>' in everything
    assert TITLE_EN in callbacks
    assert "Inspect the home" not in callbacks
    assert TITLE_EN not in inspections
    assert f'id="task-{other.pk}"' in inspections
    assert "No open tasks in this queue." in empty


@pytest.mark.parametrize("queue", ["<script>alert(1)</script>", "x" * 500, "Callbacks"])
def test_a_queue_filter_that_is_no_queue_name_shows_every_task(client, task, queue):
    client.force_login(user_with("agent"))

    response = client.get(TASKS, {"queue": queue})

    content = response.content.decode()
    assert response.status_code == 200
    assert TITLE_EN in content
    assert "<script>alert(1)</script>" not in content
    assert response.context["form"].errors


def test_done_tasks_are_not_listed(client, task, tree):
    task.state = StaffTask.State.DONE
    task.save()
    client.force_login(user_with("agent"))

    content = client.get(TASKS).content.decode()

    assert TITLE_EN not in content
    assert "No open tasks." in content


# Marking done


def test_marking_a_task_done_records_who_and_the_note_and_it_leaves_the_list(client, task):
    agent = user_with("agent")
    client.force_login(agent)

    response = client.post(done_url(task), {"note": "Gebeld; monteur komt terug.", "queue": "callbacks"})

    assert response.status_code == 302
    assert response.url == f"{TASKS}?queue=callbacks"
    assert state_of(task) == ("done", "Gebeld; monteur komt terug.", agent.pk, 1)
    event = Event.objects.get(activity="task.completed")
    assert (event.case_id, event.actor, event.layer, event.attributes["on_time"]) == (
        task.case_id,
        agent,
        "human",
        True,
    )
    page = client.get(response.url).content.decode()
    assert f"Done: {TITLE_EN}." in page
    assert f'id="task-{task.pk}"' not in page


def test_a_note_is_optional(client, task):
    agent = user_with("agent")
    client.force_login(agent)

    response = client.post(done_url(task))

    assert response.status_code == 302
    assert state_of(task) == ("done", "", agent.pk, 1)


def test_marking_done_twice_gives_a_clear_error_in_the_users_language(client, task):
    first, second = user_with("agent"), user_with("planner", language="nl")
    client.force_login(first)
    client.post(done_url(task), {"note": "Gebeld"})
    client.force_login(second)

    response = client.post(done_url(task), {"note": "Ik ook"})

    assert response.status_code == 422
    assert in_dutch(MESSAGE_TASK_DONE) in response.content.decode()
    assert state_of(task) == ("done", "Gebeld", first.pk, 1)


def test_an_oversized_note_is_refused_and_kept(client, task):
    client.force_login(user_with("agent", language="nl"))
    note = ("Lang verhaal. " * 143).strip()  # 2001 characters

    response = client.post(done_url(task), {"note": note})

    assert response.status_code == 422
    content = response.content.decode()
    assert in_dutch(MESSAGE_TASK_NOTE_TOO_LONG, limit_value=2000, show_value=len(note)) in content
    assert f">{escape(note)}</textarea>" in content
    assert f'aria-describedby="task-{task.pk}-error task-{task.pk}-hint"' in content
    assert state_of(task) == ("open", "", None, 0)


def test_a_note_of_exactly_2000_characters_is_kept(client, task):
    client.force_login(user_with("agent"))

    response = client.post(done_url(task), {"note": "x" * 2000})

    assert response.status_code == 302
    assert state_of(task)[:2] == ("done", "x" * 2000)


def test_with_htmx_the_list_is_swapped_in_place(client, tree):
    task = callback_task(tree)
    other = callback_task(tree)
    client.force_login(user_with("agent"))

    response = client.post(done_url(task), {"note": ""}, headers=HTMX)

    content = response.content.decode()
    assert response.status_code == 200
    assert content.lstrip().startswith('<div id="tasks">')
    assert f"Done: {TITLE_EN}." in content
    assert f'id="task-{task.pk}"' not in content
    assert f'id="task-{other.pk}"' in content


def test_with_htmx_a_refusal_is_swapped_in_with_status_422(client, task):
    client.force_login(user_with("agent"))

    response = client.post(done_url(task), {"note": "x" * 2001}, headers=HTMX)

    assert response.status_code == 422
    assert response.content.decode().lstrip().startswith('<div id="tasks">')
    assert state_of(task) == ("open", "", None, 0)
