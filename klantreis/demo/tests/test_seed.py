import io
import math
import re
from collections import Counter
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from klantreis.accounts.models import User
from klantreis.core.clock import FixedClock, use_clock
from klantreis.core.models import Organisation
from klantreis.customers.models import Customer, Home, Tenancy
from klantreis.customers.tests.factories import HomeFactory
from klantreis.demo import people, texts
from klantreis.demo.seed import streets_load
from klantreis.events.models import Event
from klantreis.feedback.models import Survey
from klantreis.intake.models import RepairRequest, TriageTree, VeraCode
from klantreis.intake.services import request_create
from klantreis.journeys.dispatch import dispatch, touchpoints_run
from klantreis.journeys.models import (
    EventCursor,
    JourneyDefinition,
    JourneyInstance,
    ScheduledTouchpoint,
    StaffTask,
)
from klantreis.journeys.services import CURSOR, events_consume
from klantreis.messaging.models import Message
from klantreis.planning.models import Firm, Job, Technician, WorkingHours

pytestmark = pytest.mark.django_db
AMSTERDAM = ZoneInfo("Europe/Amsterdam")

# Utrecht, Maarssen, Nieuwegein, IJsselstein and Houten all lie inside this box.
LATITUDES = (51.98, 52.17)
LONGITUDES = (4.98, 5.22)
SERVICE_ACTIVITIES = {
    "request.reported",
    "request.status_changed",
    "job.assigned",
    "appointment.booked",
    "appointment.rescheduled",
    "appointment.cancelled",
    "technician.on_the_way",
    "eta.updated",
    "visit.arrived",
    "visit.fixed",
    "visit.not_fixed",
    "visit.not_home",
    "survey.answered",
    "task.completed",
}
# What the journey engine and messaging write about themselves.
ENGINE_ACTIVITIES = {
    "journey.started",
    "journey.ended",
    "touchpoint.cancelled",
    "touchpoint.deferred",
    "touchpoint.skipped",
    "touchpoint.done",
    "task.created",
    "message.sent",
    "message.delivered",
    "message.failed",
}
# Sent whatever the hour (the technician is nearly at the door).
ANY_HOUR = {"on_the_way", "running_late"}


def seed(**options):
    out = io.StringIO()
    defaults = {"homes": 60, "history_days": 5, "seed": 7, "upcoming": 8, "reports_per_day": 4}
    call_command("seed_demo", stdout=out, **defaults | options)
    return out.getvalue()


@pytest.fixture(scope="module")
def lived_month(django_db_setup, django_db_blocker):
    """A month lived through the journeys, seeded once for the tests that read it."""
    with django_db_blocker.unblock(), transaction.atomic():
        with use_clock(FixedClock(datetime(2026, 3, 10, 9, 30, tzinfo=AMSTERDAM))):
            output = seed(homes=150, history_days=30, reports_per_day=5, upcoming=5)
        yield output
        transaction.set_rollback(True)


@pytest.fixture
def seeded(fixed_clock):
    return seed()


def metres_between(lat1, lon1, lat2, lon2):
    north = (lat2 - lat1) * 111_320
    east = (lon2 - lon1) * 111_320 * math.cos(math.radians(lat1))
    return math.hypot(north, east)


def snapshot():
    return {
        "organisation": list(Organisation.objects.values_list("name", "emergency_phone", "service_phone")),
        "homes": list(
            Home.objects.order_by("reference").values_list(
                "reference",
                "street",
                "house_number",
                "house_letter",
                "house_number_addition",
                "postcode",
                "city",
                "latitude",
                "longitude",
            )
        ),  # fmt: skip
        "customers": list(
            Customer.objects.order_by("user__username").values_list(
                "user__username",
                "name",
                "email",
                "phone",
                "preferred_channel",
                "consent_email",
                "consent_sms",
                "consent_whatsapp",
                "assisted",
                "birth_year",
                "user__language",
                "tenancies__home__reference",
                "tenancies__start_date",
            )
        ),  # fmt: skip
        "technicians": sorted(
            (
                t.name,
                t.firm.name,
                t.region,
                t.start_latitude,
                tuple(sorted(t.specialisms.values_list("code", flat=True))),
            )
            for t in Technician.objects.select_related("firm")
        ),  # fmt: skip
        "requests": list(
            RepairRequest.objects.order_by("reference").values_list(
                "reference",
                "home__reference",
                "channel",
                "reported_at",
                "urgency",
                "specialism__code",
                "status",
                "description",
            )
        ),  # fmt: skip
        "events": list(
            Event.objects.order_by("id").values_list("case_id", "activity", "occurred_at", "role")
        ),
        "messages": list(
            Message.objects.order_by("id").values_list("case_id", "source", "channel", "status", "created_at")
        ),
        "surveys": list(Survey.objects.order_by("id").values_list("case_id", "kind", "score", "answered_at")),
        "tasks": list(StaffTask.objects.order_by("id").values_list("case_id", "queue", "state", "done_at")),
    }


@pytest.fixture
def empty_database():
    def empty():
        # PostgreSQL refuses to TRUNCATE with foreign-key checks still
        # pending in the test's transaction: run them first.
        connection.check_constraints()
        call_command("flush", interactive=False, verbosity=0)

    yield empty
    # flush recreated the content types under new ids; the test's rollback
    # brings the old ones back, so the cache must not keep the new ones.
    ContentType.objects.clear_cache()


def test_the_same_seed_gives_the_same_organisation(fixed_clock, empty_database):
    # Given an empty database (sequences reset too, so references can match)
    empty_database()
    seed()
    first = snapshot()

    # When the database is emptied and seeded again with the same seed
    empty_database()
    seed()

    # Then everything is the same, down to references and event times
    assert snapshot() == first
    assert len(first["homes"]) == 60
    assert len(first["requests"]) > 20
    assert first["messages"]


def test_another_seed_gives_other_people_and_homes(fixed_clock, empty_database):
    seed(seed=1)
    names = set(Customer.objects.values_list("name", flat=True))
    addresses = set(Home.objects.values_list("street", "house_number", "postcode"))
    empty_database()

    seed(seed=2)

    assert set(Customer.objects.values_list("name", flat=True)) != names
    assert set(Home.objects.values_list("street", "house_number", "postcode")) != addresses


def test_seeding_creates_every_role(seeded):
    roles = Counter(User.objects.values_list("role", flat=True))

    assert roles == {
        "customer": 60,
        "agent": 1,
        "planner": 1,
        "designer": 1,
        "manager": 1,
        "admin": 1,
        "subcontractor": 2,
        "technician": len(people.TECHNICIANS),
    }
    organisation = Organisation.objects.get()
    assert organisation.name == "Woonstichting De Domstad"
    assert organisation.emergency_phone.startswith("030-")
    assert organisation.service_phone.startswith("030-")


def test_staff_sign_in_with_the_demo_password(seeded):
    agent = User.objects.get(username="agent")
    technician = User.objects.get(username="tech-jan")
    designer = User.objects.get(username="designer")
    admin = User.objects.get(username="admin")

    assert agent.check_password("demo")
    assert technician.check_password("demo")
    assert (agent.is_staff, agent.is_superuser) == (False, False)
    assert designer.is_staff
    assert not designer.is_superuser
    assert designer.has_perm("intake.view_triagetree")
    assert designer.has_perm("intake.change_triagetree")
    assert not designer.has_perm("intake.delete_triagetree")
    assert admin.is_staff
    assert admin.is_superuser
    assert admin.role == "admin"
    manager = User.objects.get(username="manager")
    assert manager.check_password("demo")
    assert (manager.role, manager.is_staff, manager.is_superuser) == ("manager", False, False)


def test_tenants_sign_in_by_link_only(seeded):
    customers = User.objects.filter(role=User.Role.CUSTOMER)

    assert not any(user.has_usable_password() for user in customers)
    assert list(customers.filter(is_staff=True)) == []


def test_firms_have_their_technicians_and_office_users(seeded):
    firms = {firm.name: firm for firm in Firm.objects.all()}

    assert set(firms) == {people.IN_HOUSE_FIRM, people.PLUMBING_FIRM, people.ELECTRICAL_FIRM}
    assert firms[people.IN_HOUSE_FIRM].kind == Firm.Kind.IN_HOUSE
    assert firms[people.IN_HOUSE_FIRM].technicians.count() >= 15
    for name, office in ((people.PLUMBING_FIRM, "sub-loodgieter"), (people.ELECTRICAL_FIRM, "sub-elektra")):
        assert firms[name].kind == Firm.Kind.SUBCONTRACTOR
        assert 3 <= firms[name].technicians.count() <= 5
        assert list(firms[name].members.values_list("username", flat=True)) == [office]


def test_technicians_have_vera_specialisms_hours_and_a_start_in_the_region(seeded):
    technicians = Technician.objects.prefetch_related("specialisms", "working_hours")

    assert technicians.count() == len(people.TECHNICIANS)
    for technician in technicians:
        codes = list(technician.specialisms.all())
        assert codes, technician
        assert {code.kind for code in codes} == {VeraCode.Kind.SPECIALISM}
        hours = list(technician.working_hours.all())
        assert 3 <= len(hours) <= 5
        assert all(h.weekday < 5 and h.start < h.end for h in hours)
        assert technician.user.role == User.Role.TECHNICIAN
        assert technician.region
        assert LATITUDES[0] < technician.start_latitude < LATITUDES[1]
        assert LONGITUDES[0] < technician.start_longitude < LONGITUDES[1]
    full_timers = WorkingHours.objects.filter(start="07:30", end="16:00").values("technician").distinct()
    assert full_timers.count() >= 15


def test_every_specialism_the_triage_can_ask_for_has_a_technician(seeded):
    needed = {
        outcome["specialism"]
        for tree in TriageTree.objects.all()
        for outcome in tree.definition["outcomes"].values()
    }
    available = set(Technician.objects.values_list("specialisms__code", flat=True))

    assert needed, "the default triage trees were not loaded"
    assert needed - available == set()


def test_homes_have_real_streets_plausible_postcodes_and_nearby_coordinates(seeded):
    streets = {(s.street, s.city): s for s in streets_load()}

    for home in Home.objects.all():
        street = streets[(home.street, home.city)]
        assert re.fullmatch(r"[1-9][0-9]{3}[A-Z]{2}", home.postcode), home
        assert home.postcode[:4] == street.postcode4
        assert home.postcode[4:] not in {"SA", "SD", "SS"}
        assert not set(home.postcode[4:]) & set("FIOQUY"), home
        assert re.fullmatch(r"VHE-\d{6}", home.reference)
        assert LATITUDES[0] < home.latitude < LATITUDES[1]
        assert LONGITUDES[0] < home.longitude < LONGITUDES[1]
        assert metres_between(street.latitude, street.longitude, home.latitude, home.longitude) < 400


def test_the_street_table_is_large_and_well_formed():
    streets = streets_load()

    assert len(streets) >= 80
    assert len({(s.street, s.city) for s in streets}) == len(streets)
    assert {s.city for s in streets} >= {"Utrecht", "Nieuwegein", "Maarssen", "IJsselstein", "Houten"}
    for street in streets:
        assert re.fullmatch(r"[1-9][0-9]{3}", street.postcode4)
        assert street.kind in {"house", "flat"}
        assert street.weight > 0


def test_tenants_are_a_plausible_mix(fixed_clock):
    seed(homes=400, history_days=0)
    customers = list(Customer.objects.select_related("user"))

    assert len(customers) == 400
    assert Tenancy.objects.filter(end_date__isnull=True).count() == 400
    english = [c for c in customers if c.user.language == "en"]
    assisted = [c for c in customers if c.assisted]
    assert 0.05 <= len(english) / 400 <= 0.16
    assert 0.04 <= len(assisted) / 400 <= 0.14
    with_email = [c for c in customers if c.email]
    assert len(with_email) / 400 >= 0.8
    assert all(re.fullmatch(r"[a-z0-9.]+@example\.(nl|com)", c.email) for c in with_email)
    assert all(c.user.email == c.email for c in customers)
    assert all(re.fullmatch(r"\+31[0-9]{9}", c.phone) for c in customers)
    assert len({c.phone for c in customers}) == 400
    assert {c.preferred_channel for c in customers} >= {"email", "sms", "whatsapp", "phone"}
    assert all(c.consent_email for c in customers if c.preferred_channel == "email")
    assert not any(c.consent_email for c in customers if not c.email)
    assert all(1925 < c.birth_year < 2010 for c in customers)
    for tenancy in Tenancy.objects.select_related("customer"):
        assert tenancy.start_date.year >= tenancy.customer.birth_year + 18


def test_history_is_made_by_the_services_in_time_order(seeded, fixed_clock):
    requests = list(RepairRequest.objects.select_related("customer__user", "reported_by"))
    events = list(Event.objects.order_by("id"))
    by_case = {}
    for event in events:
        by_case.setdefault(event.case_id, []).append(event)

    assert requests
    assert {event.activity for event in events} <= SERVICE_ACTIVITIES | ENGINE_ACTIVITIES
    assert {event.case_id for event in events} == {r.case_id for r in requests}
    times = [event.occurred_at for event in events]
    assert times == sorted(times)
    assert times[-1] <= fixed_clock.now()  # today's reports and bookings happen at the anchor
    assert times[0] >= fixed_clock.now() - timedelta(days=6)
    for request in requests:
        history = by_case[request.case_id]
        reported = history[0]
        assert (reported.activity, reported.occurred_at) == ("request.reported", request.reported_at)
        assert reported.attributes["request"] == request.reference
        if request.channel == RepairRequest.Channel.PHONE:
            assert request.reported_by.username == "agent"
            assert (reported.role, reported.channel, reported.layer) == ("agent", "phone", "human")
        else:
            assert request.reported_by == request.customer.user
            assert (reported.role, reported.channel, reported.layer) == ("customer", "portal", "digital")
        assert [e.activity for e in history].count("request.reported") == 1
    for job in Job.objects.select_related("request", "technician__user"):
        history = by_case[job.request.case_id]
        assigned = [e for e in history if e.activity == "job.assigned" and e.attributes["job"] == job.pk]
        assert len(assigned) == 1
        booked = [e for e in history if e.activity == "appointment.booked" and e.attributes["job"] == job.pk]
        # Emergencies (and a visit no block fits) are planned by the planner;
        # the others booked through slot offers by the tenant, the agent on
        # the phone or the technician at the door.
        if booked:
            assert assigned[0].role in {"customer", "agent", "technician"}
        else:
            assert assigned[0].role == "planner"
        visits = [
            e
            for e in history
            if e.activity.startswith("visit.")
            and e.activity != "visit.arrived"
            and e.attributes["job"] == job.pk
        ]
        if job.status == Job.Status.OPEN:
            assert visits == []
            assert job.visit_start >= assigned[0].occurred_at
        elif job.status == Job.Status.CANCELLED:
            assert visits == []
            cancelled = [e.attributes["job"] for e in history if e.activity == "appointment.cancelled"]
            assert cancelled.count(job.pk) == 1
        else:
            assert [v.activity for v in visits] == [f"visit.{job.status}"]
            assert visits[0].occurred_at == job.completed_at
            # The technician set off and arrived before finishing.
            assert job.on_the_way_at <= job.arrived_at <= job.completed_at
        if job.technician is not None:
            assert job.request.specialism in job.technician.specialisms.all()


def test_request_statuses_follow_the_visits(seeded):
    for request in RepairRequest.objects.prefetch_related("jobs"):
        jobs = list(request.jobs.all())
        statuses = [job.status for job in jobs]
        if request.status == RepairRequest.Status.REGISTERED:
            assert jobs == []
        elif request.status in {RepairRequest.Status.COMPLETED, RepairRequest.Status.TECHNICALLY_DONE}:
            assert Job.Status.FIXED in statuses
        elif request.status == RepairRequest.Status.CANCELLED:
            assert statuses[0] == Job.Status.CANCELLED
        else:
            assert request.status == RepairRequest.Status.IN_PROGRESS
            # Newest job first: still open, or waiting for the next visit to be booked.
            waiting = {Job.Status.OPEN, Job.Status.NOT_FIXED, Job.Status.NOT_HOME, Job.Status.CANCELLED}
            assert statuses[0] in waiting


def test_recent_requests_are_still_open(seeded):
    assert Job.objects.filter(status=Job.Status.OPEN).exists()
    assert RepairRequest.objects.filter(status=RepairRequest.Status.IN_PROGRESS).exists()


def test_seeding_twice_changes_nothing(seeded):
    counts = (
        Home.objects.count(),
        User.objects.count(),
        RepairRequest.objects.count(),
        Event.objects.count(),
    )

    output = seed(seed=99)

    assert "already exists" in output
    assert (
        Home.objects.count(),
        User.objects.count(),
        RepairRequest.objects.count(),
        Event.objects.count(),
    ) == counts


def test_seeding_refuses_a_database_with_homes_but_no_organisation(fixed_clock):
    HomeFactory()

    with pytest.raises(CommandError, match="only fills an empty database"):
        seed()

    assert Organisation.objects.count() == 0
    assert Home.objects.count() == 1
    assert User.objects.count() == 0


def test_the_summary_tells_what_was_made(seeded):
    assert "Demo organisation seeded" in seeded
    assert "Homes: 60" in seeded
    assert f"Requests: {RepairRequest.objects.count()}" in seeded
    assert f"Journey events: {Event.objects.count()}" in seeded


def test_the_journeys_ran_through_the_history_and_follow_what_comes_next(seeded, fixed_clock):
    # Given a seeded demo: the shipped journeys, installed before the history began
    (definition,) = JourneyDefinition.objects.all()
    assert (definition.key, definition.version, definition.active, definition.created_by) == (
        "repair",
        1,
        True,
        None,
    )
    assert definition.created_at < Event.objects.order_by("id").first().occurred_at
    assert EventCursor.objects.get(name=CURSOR).position == Event.objects.order_by("-id").first().id
    assert "Journeys: repair v1 (ran through the history" in seeded
    messages = Message.objects.count()

    # When the journey loop runs over it now
    events_consume()
    dispatch(batch_size=100, run=lambda claim: touchpoints_run(claim=claim))

    # Then nothing of the past is left to send
    assert Message.objects.count() == messages

    # And a report made now starts a journey of its own
    tenant = Customer.objects.exclude(email="").order_by("pk").first()
    tree = TriageTree.objects.filter(active=True).order_by("pk").first()
    answers, key = {}, tree.definition["start"]
    while True:  # the first answer to each question
        answer = tree.definition["questions"][key]["answers"][0]
        answers[key] = answer["key"]
        if "outcome" in answer:
            break
        key = answer["next"]
    request = request_create(
        actor=tenant.user,
        customer=tenant,
        home=tenant.homes.first(),
        channel="portal",
        tree=tree,
        answers=answers,
        defect_location_code=texts.DEFAULT_LOCATIONS[0],
        description="Lek",
    )
    events_consume()
    assert JourneyInstance.objects.filter(case_id=request.case_id).count() == 1


def test_every_case_has_its_journey_and_every_booking_its_confirmation(seeded):
    instances = set(JourneyInstance.objects.values_list("case_id", flat=True))
    booked = list(Event.objects.filter(activity="appointment.booked"))

    assert {r.case_id for r in RepairRequest.objects.all()} <= instances
    assert booked
    confirmations = ScheduledTouchpoint.objects.filter(touchpoint="confirmation")
    for event in booked:
        # Each booking's confirmation, sent the moment it was booked, or when
        # the quiet hours (21:00 to 08:00) were over.
        (row,) = [
            row
            for row in confirmations.filter(instance__case_id=event.case_id)
            if row.context.get("event_at") == event.occurred_at.isoformat()
        ]
        booked_at = event.occurred_at.astimezone(AMSTERDAM)
        if time(8) <= booked_at.time() < time(21):
            expected = event.occurred_at
        else:
            morning = booked_at.date() + timedelta(days=1 if booked_at.time() >= time(21) else 0)
            expected = datetime.combine(morning, time(8), tzinfo=AMSTERDAM)
        assert (row.state, row.due_at, row.finished_at) == ("done", expected, expected)
        assert Message.objects.filter(idempotency_key=f"tp-{row.pk}").exists()


def test_messages_went_out_at_their_touchpoints_due_times(seeded, fixed_clock):
    done = list(ScheduledTouchpoint.objects.filter(state="done"))

    assert done
    # Carried out at their own due time, or at once when armed after it (a
    # reminder for a visit booked after the evening before): none waited.
    assert all(row.finished_at == max(row.due_at, row.created_at) for row in done)
    sent_on = {m.created_at.astimezone(AMSTERDAM).date() for m in Message.objects.all()}
    assert len(sent_on) >= 4
    emergencies = {r.case_id for r in RepairRequest.objects.filter(urgency="emergency")}
    for message in Message.objects.all():
        touchpoint = message.source.rsplit(":", 1)[-1]
        if touchpoint in ANY_HOUR or message.case_id in emergencies:
            continue
        # Quiet hours (21:00 to 08:00) held them back.
        assert time(8) <= message.created_at.astimezone(AMSTERDAM).time() < time(21), message.source


def test_no_touchpoint_due_before_now_is_left_pending(seeded, fixed_clock):
    pending = ScheduledTouchpoint.objects.filter(state__in=["scheduled", "claimed"])

    assert not pending.filter(due_at__lt=fixed_clock.now()).exists()
    # The coming visits' reminders wait for the running engine.
    assert pending.filter(touchpoint="reminder", due_at__gt=fixed_clock.now()).exists()


def test_seeding_sends_no_real_mail(seeded):
    # Under test, e-mail goes to Django's local-memory outbox: no tenant gets anything.
    emails = Message.objects.filter(channel="email").exclude(sent_at=None)

    assert emails.exists()
    assert len(mail.outbox) == emails.count()


# A month lived through the journeys, seeded once (these come last: the month
# stays in the database until the module ends) ------------------------------------


def test_a_month_ends_mostly_fixed(lived_month):
    closed = Counter(Job.objects.exclude(status=Job.Status.OPEN).values_list("status", flat=True))
    total = sum(closed.values())

    assert total > 60
    assert 0.65 <= closed["fixed"] / total <= 0.9
    assert closed["not_fixed"] + closed["not_home"] > 0
    urgencies = Counter(RepairRequest.objects.values_list("urgency", flat=True))
    assert urgencies["emergency"] < urgencies["urgent"]
    assert urgencies["emergency"] < urgencies["normal"]
    channels = Counter(RepairRequest.objects.values_list("channel", flat=True))
    assert channels["phone"] > 0
    assert channels["portal"] > channels["phone"]
    activities = set(Event.objects.values_list("activity", flat=True))
    assert {"appointment.rescheduled", "appointment.cancelled", "eta.updated", "visit.arrived"} <= activities
    assert {"task.created", "task.completed", "survey.answered"} <= activities
    # Journeys of closed requests ended (the engine marks them; it records no event for it).
    assert JourneyInstance.objects.filter(state=JourneyInstance.State.ENDED).exists()


def test_a_month_of_surveys_is_answered_and_low_scores_called_back(lived_month):
    answers = list(Event.objects.filter(activity="survey.answered").order_by("id"))
    sent = Survey.objects.values("key").distinct().count()

    assert answers
    assert 0.15 <= len(answers) / sent <= 0.6
    low = {
        e.case_id
        for e in answers
        if e.attributes.get("csat", 5) <= 2
        or e.attributes.get("nps", 10) <= 4
        or e.attributes.get("ces", 7) <= 2
    }
    callbacks = list(StaffTask.objects.filter(queue="callbacks"))
    assert low
    assert callbacks
    # Callbacks come from low scores only.
    assert {task.case_id for task in callbacks} <= low
    # Agents call back within about a working day.
    for task in callbacks:
        if task.state == StaffTask.State.DONE:
            assert task.done_by.username == "agent"
            assert task.done_at - task.created_at < timedelta(days=4)


def test_first_time_fixes_score_higher_than_repeat_visits(lived_month):
    visited = Job.objects.filter(status__in=["fixed", "not_fixed", "not_home"])
    visits = Counter(visited.values_list("request__reference", flat=True))
    first_time, repeat = [], []
    for event in Event.objects.filter(activity="survey.answered"):
        if "csat" not in event.attributes:
            continue
        reference = event.case_id.removeprefix("request:")
        (repeat if visits[reference] > 1 else first_time).append(event.attributes["csat"])

    assert first_time
    assert sum(first_time) / len(first_time) >= 3.5
    if repeat:
        assert sum(repeat) / len(repeat) < sum(first_time) / len(first_time)
