import io
import math
import re
from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.db import connection

from klantreis.accounts.models import User
from klantreis.core.models import Organisation
from klantreis.customers.models import Customer, Home, Tenancy
from klantreis.customers.tests.factories import HomeFactory
from klantreis.demo import people, texts
from klantreis.demo.seed import streets_load
from klantreis.events.models import Event
from klantreis.intake.models import RepairRequest, TriageTree, VeraCode
from klantreis.intake.services import request_create
from klantreis.journeys.dispatch import dispatch, touchpoints_run
from klantreis.journeys.models import EventCursor, JourneyDefinition, JourneyInstance
from klantreis.journeys.services import CURSOR, events_consume
from klantreis.messaging.models import Message
from klantreis.planning.models import Firm, Job, Technician, WorkingHours

pytestmark = pytest.mark.django_db

# Utrecht, Maarssen, Nieuwegein, IJsselstein and Houten all lie inside this box.
LATITUDES = (51.98, 52.17)
LONGITUDES = (4.98, 5.22)
SERVICE_ACTIVITIES = {
    "request.reported",
    "request.status_changed",
    "job.assigned",
    "visit.fixed",
    "visit.not_fixed",
    "visit.not_home",
    "visit.cancelled",
    "appointment.booked",
}


def seed(**options):
    out = io.StringIO()
    call_command("seed_demo", stdout=out, **{"homes": 60, "history_days": 7, "seed": 7} | options)
    return out.getvalue()


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
    assert {event.activity for event in events} <= SERVICE_ACTIVITIES
    assert {event.case_id for event in events} == {r.case_id for r in requests}
    times = [event.occurred_at for event in events]
    assert times == sorted(times)
    assert times[-1] <= fixed_clock.now()  # today's reports and bookings happen at the anchor
    assert times[0] >= fixed_clock.now() - timedelta(days=8)
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
        # The past was planned by the planner; the coming days were booked by
        # the tenants themselves through slot offering.
        assert (assigned[0].role, len(booked)) in {("planner", 0), ("customer", 1)}
        visits = [e for e in history if e.activity.startswith("visit.") and e.attributes["job"] == job.pk]
        if job.status == Job.Status.OPEN:
            assert visits == []
            assert job.visit_start >= assigned[0].occurred_at
        else:
            assert [v.activity for v in visits] == [f"visit.{job.status}"]
            assert visits[0].occurred_at == job.completed_at
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
            # Newest job first: still open, or waiting for the follow-up visit to be planned.
            assert statuses[0] in {Job.Status.OPEN, Job.Status.NOT_FIXED, Job.Status.NOT_HOME}


def test_visits_end_mostly_fixed(fixed_clock):
    seed(homes=200, history_days=40)
    closed = Counter(Job.objects.exclude(status=Job.Status.OPEN).values_list("status", flat=True))
    total = sum(closed.values())

    assert total > 150
    assert 0.68 <= closed["fixed"] / total <= 0.88
    assert 0.04 <= closed["not_fixed"] / total <= 0.16
    assert 0.02 <= closed["not_home"] / total <= 0.12
    urgencies = Counter(RepairRequest.objects.values_list("urgency", flat=True))
    assert urgencies["emergency"] < urgencies["urgent"] < urgencies["normal"]
    channels = Counter(RepairRequest.objects.values_list("channel", flat=True))
    assert channels["phone"] > 0
    assert channels["portal"] > channels["phone"]


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


def test_the_journeys_are_installed_after_the_history_so_it_is_not_replayed(seeded, fixed_clock):
    # Given a seeded demo: the shipped journeys, following from the last seeded event
    assert list(JourneyDefinition.objects.values_list("key", "version", "active", "created_by")) == [
        ("repair", 1, True, None)
    ]
    assert EventCursor.objects.get(name=CURSOR).position == Event.objects.order_by("-id").first().id
    assert "Journeys: repair v1 (following events from now on)" in seeded

    # When the journey loop runs over it
    events_consume()
    dispatch(batch_size=100, run=lambda claim: touchpoints_run(claim=claim))

    # Then none of the past starts a journey or sends anything
    assert JourneyInstance.objects.count() == 0
    assert Message.objects.count() == 0

    # But a report made now does
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
    assert list(JourneyInstance.objects.values_list("case_id", flat=True)) == [request.case_id]
