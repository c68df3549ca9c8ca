"""The planner board: who may see it, what it shows for a day, pinning a job
(and the day re-planned around it) and re-planning a day."""

import re
from datetime import UTC, datetime, time

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from klantreis.accounts.models import Role
from klantreis.accounts.tests.factories import UserFactory
from klantreis.core.clock import FixedClock, use_clock
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.events.models import Event
from klantreis.intake.models import VeraCode
from klantreis.planning import services
from klantreis.planning.models import Job, PlanningSettings, WorkingHours
from klantreis.planning.optimise import Outcome
from klantreis.planning.selectors import board_for_day
from klantreis.planning.tests.days import AMSTERDAM, WEDNESDAY, WEST, at, crossed_day, reported
from klantreis.planning.tests.factories import FirmFactory, TechnicianFactory
from klantreis.workspace import forms
from klantreis.workspace.board import outcome_text

pytestmark = pytest.mark.django_db

ALL_ROLES = list(Role.values)
VIEWERS = {"agent", "planner", "manager", "admin"}  # the manager looks, never acts
ACTORS = {"planner", "admin"}
BOARD = reverse("workspace:board")
PIN = reverse("workspace:board_pin")
REPLAN = reverse("workspace:board_replan")
DAY = WEDNESDAY.isoformat()
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def day(vera):
    return crossed_day()


@pytest.fixture
def planner(client):
    user = UserFactory(role="planner", language="en")
    client.force_login(user)
    return user


def user_with(role):
    if role == "customer":
        return CustomerFactory().user
    return UserFactory(role=role, language="en")


def snapshot():
    """Everything a pin or a re-plan may change."""
    return (
        sorted(
            Job.objects.values_list(
                "pk", "technician_id", "planned_start", "route_position", "pinned", "status"
            )
        ),
        Event.objects.count(),
    )


def route_of(content: str, technician) -> list[int]:
    """The job ids listed in a technician's route, in order."""
    route = re.search(rf'<ol class="route-list" id="route-{technician.pk}".*?</ol>', content, re.S)
    assert route is not None
    return [int(job) for job in re.findall(r'<li class="route-stop[^"]*" data-job="(\d+)"', route.group(0))]


def shows(response, message) -> bool:
    return escape(str(message)) in response.content.decode()


# Access


@pytest.mark.parametrize("role", ALL_ROLES)
def test_the_board_by_role(client, day, role):
    client.force_login(user_with(role))

    response = client.get(BOARD, {"day": DAY})

    assert response.status_code == (200 if role in VIEWERS else 403)
    if role in VIEWERS:
        content = response.content.decode()
        assert day.west.name in content
        # Agents look; only planners and admins get the controls.
        assert (PIN in content) == (role in ACTORS)
        assert (REPLAN in content) == (role in ACTORS)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_only_planners_and_admins_pin(client, day, role):
    client.force_login(user_with(role))
    before = snapshot()

    response = client.post(PIN, {"day": DAY, "job": day.jobs["east-1"].pk, "technician": day.east.pk})

    if role in ACTORS:
        assert response.status_code == 302
        assert Job.objects.get(pk=day.jobs["east-1"].pk).pinned
    else:
        assert response.status_code == 403
        assert snapshot() == before


@pytest.mark.parametrize("role", ALL_ROLES)
def test_only_planners_and_admins_replan(client, day, role):
    client.force_login(user_with(role))
    before = snapshot()

    response = client.post(REPLAN, {"day": DAY})

    if role in ACTORS:
        assert response.status_code == 302
        assert snapshot() != before
    else:
        assert response.status_code == 403
        assert snapshot() == before


def test_anonymous_visitors_are_sent_to_sign_in(client, day):
    before = snapshot()

    responses = [
        client.get(BOARD, {"day": DAY}),
        client.post(PIN, {"day": DAY, "job": day.jobs["east-1"].pk, "technician": day.east.pk}),
        client.post(REPLAN, {"day": DAY}),
    ]

    assert [r.status_code for r in responses] == [302, 302, 302]
    assert all(r.url.startswith(reverse("portal:sign_in") + "?next=") for r in responses)
    assert snapshot() == before


def test_the_board_is_in_the_navigation_of_those_who_may_see_it(client, day):
    for role in ALL_ROLES:
        client.force_login(user_with(role))
        home = reverse("portal:home") if role == "customer" else reverse("workspace:home")
        content = client.get(home).content.decode()
        assert (f'href="{BOARD}"' in content) == (role in VIEWERS), role


# What the board shows


def test_the_board_of_a_seeded_day(client, day, planner):
    jobs = day.jobs
    with use_clock(FixedClock(datetime(2026, 3, 10, 12, tzinfo=UTC))):
        waiting = services.job_create(
            request=reported("no technician yet", *WEST),
            firm=day.firm,
            technician=None,
            actor=None,
            visit_start=at(13),
            visit_end=at(15),
        )

    response = client.get(BOARD, {"day": DAY})

    assert response.status_code == 200
    content = response.content.decode()
    assert "Planning board: Wednesday 11 March 2026" in content
    assert f'href="{BOARD}?day=2026-03-10"' in content
    assert f'href="{BOARD}?day=2026-03-12"' in content
    # Olga (east) before Wim (west): by name; each with the other side's jobs.
    assert content.index(day.east.name) < content.index(day.west.name)
    assert route_of(content, day.east) == [jobs["west-1"].pk, jobs["west-2"].pk]
    assert route_of(content, day.west) == [jobs["east-1"].pk, jobs["east-2"].pk]
    assert "promised 08:00–10:00" in content
    assert "4 visits at risk" in content
    at_risk = content[content.index('id="at-risk-heading"') : content.index('id="unassigned-heading"')]
    assert at_risk.count("no planned time") == 4
    to_plan = content[content.index('id="unassigned-heading"') :]
    assert waiting.request.reference in to_plan
    assert "13:00–15:00" in to_plan
    assert all(job.request.reference not in to_plan for job in jobs.values())
    board = board_for_day(day=WEDNESDAY, zone=AMSTERDAM)
    assert f"{board.travel_minutes} min of travel" in content
    assert content.count('role="img"') == 4  # a timeline and a map per technician
    assert "style=" not in content  # the CSP allows no inline style


def test_the_board_shows_today_by_default(client, day, planner):
    with use_clock(FixedClock(at(7))):
        response = client.get(BOARD)

    assert response.status_code == 200
    assert route_of(response.content.decode(), day.west) == [day.jobs["east-1"].pk, day.jobs["east-2"].pk]


@pytest.mark.parametrize("value", ["2026-02-30", "yesterday", "11-03-2026", "<script>alert(1)</script>"])
def test_a_day_that_is_no_date_shows_today_with_an_error(client, day, planner, value):
    with use_clock(FixedClock(datetime(2026, 3, 12, 9, tzinfo=UTC))):
        response = client.get(BOARD, {"day": value})

    assert response.status_code == 400
    content = response.content.decode()
    assert escape("That is not a date like 2026-03-11; this is today's board.") in content
    assert "Planning board: Thursday 12 March 2026" in content
    assert "<script>alert(1)" not in content


def test_the_board_speaks_the_planners_language(client, day):
    client.force_login(UserFactory(role="planner", language="nl"))

    content = client.get(BOARD, {"day": DAY}).content.decode()

    assert "Planbord: Woensdag 11 maart 2026" in content
    assert "4 bezoeken met risico" in content


def test_a_board_without_travel_times_says_so(client, day, planner):
    PlanningSettings.objects.create(travel_source=PlanningSettings.TravelSource.OSRM, osrm_url="")

    response = client.get(BOARD, {"day": DAY})

    assert response.status_code == 200
    assert (
        "Travel times are unavailable right now, so the board shows no travel." in response.content.decode()
    )


# Pinning


def test_pinning_moves_the_job_and_replans_the_day(client, day, planner):
    jobs = day.jobs

    response = client.post(PIN, {"day": DAY, "job": jobs["east-1"].pk, "technician": day.east.pk}, **HTMX)

    assert response.status_code == 200
    content = response.content.decode()
    assert content.lstrip().startswith('<div id="board"')  # the partial for htmx to swap
    pinned = Job.objects.get(pk=jobs["east-1"].pk)
    assert (pinned.technician, pinned.pinned) == (day.east, True)
    placed = {name: Job.objects.get(pk=job.pk) for name, job in jobs.items()}
    assert {name: job.technician for name, job in placed.items()} == {
        "west-1": day.west,
        "west-2": day.west,
        "east-1": day.east,
        "east-2": day.east,
    }
    assert all(job.visit_start <= job.planned_start <= job.visit_end for job in placed.values())
    assert route_of(content, day.east) == [jobs["east-1"].pk, jobs["east-2"].pk]
    assert route_of(content, day.west) == [jobs["west-1"].pk, jobs["west-2"].pk]
    notice = re.search(r'<p class="message board-notice" role="status"[^>]*>(.*?)</p>', content, re.S)
    assert notice is not None
    assert notice.group(1).startswith(
        f"{jobs['east-1'].request.reference} is pinned to {day.east.name}. "
        "The rest of the day is re-planned around it: travel went from "
    )
    pin_events = Event.objects.filter(activity="job.pinned")
    assert [(e.actor, e.attributes["technician"]) for e in pin_events] == [(planner, day.east.pk)]
    assert Event.objects.filter(activity="appointment.replanned").count() == 3


def test_pinning_without_javascript_returns_to_the_board(client, day, planner):
    response = client.post(PIN, {"day": DAY, "job": day.jobs["east-1"].pk, "technician": day.east.pk})

    assert response.status_code == 302
    assert response.url == f"{BOARD}?day={DAY}"
    page = client.get(response.url).content.decode()
    assert f"{day.jobs['east-1'].request.reference} is pinned to {day.east.name}." in page


def test_pinning_at_a_time_keeps_that_time(client, day, planner):
    west_2 = day.jobs["west-2"]

    response = client.post(
        PIN, {"day": DAY, "job": west_2.pk, "technician": day.east.pk, "time": "11:15"}, **HTMX
    )

    assert response.status_code == 200
    pinned = Job.objects.get(pk=west_2.pk)
    assert (pinned.technician, pinned.planned_start, pinned.pinned) == (day.east, at(11, 15), True)
    assert "11:15–12:45" in response.content.decode()


def test_pinning_a_job_that_waits_for_a_technician(client, day, planner):
    with use_clock(FixedClock(datetime(2026, 3, 10, 12, tzinfo=UTC))):
        waiting = services.job_create(
            request=reported("no technician yet", *WEST),
            firm=day.firm,
            technician=None,
            actor=None,
            visit_start=at(13),
            visit_end=at(15),
        )

    response = client.post(PIN, {"day": DAY, "job": waiting.pk, "technician": day.west.pk}, **HTMX)

    assert response.status_code == 200
    assert Job.objects.get(pk=waiting.pk).technician == day.west
    assert waiting.pk in route_of(response.content.decode(), day.west)


@pytest.fixture
def strangers(day):
    """A plumber of another firm and an electrician of the same firm, both at work."""
    loo = VeraCode.objects.get(kind="ONDERHOUDSPECIALISME", code="LOO")
    ele = VeraCode.objects.get(kind="ONDERHOUDSPECIALISME", code="ELE")
    other_firm = TechnicianFactory(firm=FirmFactory(), specialisms=[loo])
    electrician = TechnicianFactory(firm=day.firm, specialisms=[ele])
    for technician in (other_firm, electrician):
        WorkingHours.objects.create(technician=technician, weekday=2, start=time(8), end=time(16))
    return other_firm, electrician


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"job": "999999"}, forms.MESSAGE_BOARD_JOB_UNKNOWN),
        ({"job": "<script>alert(1)</script>"}, forms.MESSAGE_BOARD_JOB_UNKNOWN),
        ({"job": ""}, forms.MESSAGE_BOARD_JOB_UNKNOWN),
        ({"technician": "999999"}, forms.MESSAGE_BOARD_TECHNICIAN),
        ({"technician": "x" * 5000}, forms.MESSAGE_BOARD_TECHNICIAN),
        ({"technician": "other firm"}, services.MESSAGE_TECHNICIAN_OTHER_FIRM),
        ({"technician": "electrician"}, services.MESSAGE_PIN_OTHER_SPECIALISM),
        ({"time": "13:00"}, services.MESSAGE_PIN_OUTSIDE_WINDOW),
        ({"time": "07:59"}, services.MESSAGE_PIN_OUTSIDE_WINDOW),
        ({"time": "25:00"}, forms.MESSAGE_BOARD_TIME),
        ({"time": "9.30"}, forms.MESSAGE_BOARD_TIME),
        ({"time": "<b>09:00</b>"}, forms.MESSAGE_BOARD_TIME),
        ({"day": "2026-03-12"}, forms.MESSAGE_BOARD_JOB_OTHER_DAY),
    ],
)
def test_bad_pins_are_refused_and_change_nothing(client, day, planner, strangers, change, message):
    other_firm, electrician = strangers
    named = {"other firm": other_firm.pk, "electrician": electrician.pk}
    data = {"day": DAY, "job": day.jobs["east-1"].pk, "technician": day.east.pk} | change
    data["technician"] = named.get(data["technician"], data["technician"])
    before = snapshot()

    response = client.post(PIN, data, **HTMX)

    assert response.status_code == 422
    assert shows(response, message)
    assert "Nothing was changed." in response.content.decode()
    assert "<script>alert" not in response.content.decode()
    assert snapshot() == before


def test_a_closed_job_cannot_be_pinned(client, day, planner):
    services.job_complete(job=day.jobs["east-1"], status=Job.Status.CANCELLED, actor=None)
    before = snapshot()

    response = client.post(PIN, {"day": DAY, "job": day.jobs["east-1"].pk, "technician": day.east.pk}, **HTMX)

    assert response.status_code == 422
    assert shows(response, services.MESSAGE_JOB_CLOSED)
    assert snapshot() == before


def test_a_pin_without_the_boards_day_is_refused(client, day, planner):
    before = snapshot()

    response = client.post(PIN, {"job": day.jobs["east-1"].pk, "technician": day.east.pk})

    assert response.status_code == 422
    assert "The board&#x27;s day is missing." in response.content.decode()
    assert snapshot() == before


def test_a_refused_pin_is_explained_in_the_planners_language(client, day, strangers):
    client.force_login(UserFactory(role="planner", language="nl"))
    other_firm, _ = strangers

    response = client.post(PIN, {"day": DAY, "job": day.jobs["east-1"].pk, "technician": other_firm.pk})

    assert response.status_code == 422
    with translation.override("nl"):
        assert shows(response, services.MESSAGE_TECHNICIAN_OTHER_FIRM)
        assert shows(response, "Er is niets veranderd.")


def test_a_get_does_not_pin(client, day, planner):
    before = snapshot()

    response = client.get(PIN, {"day": DAY, "job": day.jobs["east-1"].pk, "technician": day.east.pk})

    assert response.status_code == 405
    assert snapshot() == before


# Re-planning a day


def test_replanning_untangles_the_day_and_tells_the_travel_saved(client, day, planner):
    before = board_for_day(day=WEDNESDAY, zone=AMSTERDAM).travel_minutes

    response = client.post(REPLAN, {"day": DAY}, **HTMX)

    assert response.status_code == 200
    after = board_for_day(day=WEDNESDAY, zone=AMSTERDAM).travel_minutes
    assert after < before
    assert (
        f"The day is re-planned: travel time went from {before} to {after} minutes."
        in response.content.decode()
    )
    assert route_of(response.content.decode(), day.west) == [day.jobs["west-1"].pk, day.jobs["west-2"].pk]


def test_replanning_a_good_day_changes_nothing(client, day, planner):
    client.post(REPLAN, {"day": DAY}, **HTMX)
    travel = board_for_day(day=WEDNESDAY, zone=AMSTERDAM).travel_minutes
    before = snapshot()

    response = client.post(REPLAN, {"day": DAY}, **HTMX)

    assert response.status_code == 200
    assert (
        f"The plan stays as it is: no shorter plan was found (travel time {travel} minutes)."
        in response.content.decode()
    )
    assert snapshot() == before


def test_replanning_an_empty_day(client, day, planner):
    response = client.post(REPLAN, {"day": "2026-03-15"}, **HTMX)

    assert response.status_code == 200
    assert "Nothing to re-plan: no job of this day has a technician." in response.content.decode()


def test_replanning_without_travel_times_is_refused(client, day, planner):
    PlanningSettings.objects.create(travel_source=PlanningSettings.TravelSource.OSRM, osrm_url="")
    before = snapshot()

    response = client.post(REPLAN, {"day": DAY}, **HTMX)

    assert response.status_code == 422
    assert "The day could not be re-planned now: travel times are unavailable." in response.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        ("the day changed while solving", "Nothing changed: the day changed while it was being re-planned."),
        ("no feasible plan that serves every job", "Nothing changed: no plan was found that keeps every"),
    ],
)
def test_every_reason_of_the_optimiser_reads_as_a_sentence(reason, text):
    outcome = Outcome(day=WEDNESDAY, jobs=4, applied=False, reason=reason, travel_before=600, travel_after=0)

    with translation.override("en"):
        assert outcome_text(outcome).startswith(text)


def test_a_pin_holds_even_when_the_day_cannot_be_replanned(client, day, planner):
    PlanningSettings.objects.create(travel_source=PlanningSettings.TravelSource.OSRM, osrm_url="")

    response = client.post(PIN, {"day": DAY, "job": day.jobs["east-1"].pk, "technician": day.east.pk}, **HTMX)

    assert response.status_code == 200
    assert (
        "The rest of the day could not be re-planned now: travel times are unavailable."
        in response.content.decode()
    )
    pinned = Job.objects.get(pk=day.jobs["east-1"].pk)
    assert (pinned.technician, pinned.pinned) == (day.east, True)
    assert Event.objects.filter(activity="appointment.replanned").count() == 0
