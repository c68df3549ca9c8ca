"""Step 2 of the journey in the portal: the tenant chooses a time block."""

import re
import threading
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections, transaction
from django.urls import reverse

from klantreis.accounts.models import Role
from klantreis.accounts.tests.factories import UserFactory
from klantreis.core.clock import FixedClock, use_clock
from klantreis.core.models import Organisation
from klantreis.customers.tests.factories import CustomerFactory, HomeFactory
from klantreis.events.models import Event
from klantreis.intake.models import RepairRequest, VeraCode
from klantreis.intake.services import request_create
from klantreis.intake.tests.factories import TriageTreeFactory
from klantreis.planning import forms
from klantreis.planning.models import Job, PlanningSettings, WorkingHours
from klantreis.planning.services import MESSAGE_ALREADY_BOOKED, MESSAGE_SLOT_TAKEN, appointment_book
from klantreis.planning.tests.factories import FirmFactory, TechnicianFactory

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
TUESDAY_MORNING = datetime(2026, 3, 10, 9, 30, tzinfo=AMSTERDAM)
STAFF_ROLES = [role for role in Role.values if role != Role.CUSTOMER]

TAP = {"flooding": "no", "where": "tap"}  # normal, LOA, 30 minutes
CEILING = {"flooding": "no", "where": "ceiling"}  # urgent, LOO, 90 minutes
FLOOD = {"flooding": "yes"}  # emergency, LOO, 60 minutes


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=AMSTERDAM)


def key(start: datetime, end: datetime) -> str:
    return f"{int(start.timestamp())}-{int(end.timestamp())}"


def technician(code: str = "LOA", *, start=time(7, 30), end=time(16), weekdays=(0, 1, 2, 3, 4)):
    specialism = VeraCode.objects.get(kind="ONDERHOUDSPECIALISME", code=code)
    person = TechnicianFactory(
        name="Piet de Loodgieter",
        firm=FirmFactory(kind="in_house"),
        specialisms=[specialism],
        start_latitude=52.09,
        start_longitude=5.12,
    )
    for weekday in weekdays:
        WorkingHours.objects.create(technician=person, weekday=weekday, start=start, end=end)
    return person


def reported(answers=TAP, *, customer=None):
    customer = customer or CustomerFactory(home=HomeFactory(latitude=52.095, longitude=5.125))
    return request_create(
        actor=customer.user,
        customer=customer,
        home=customer.homes.get(),
        channel="portal",
        tree=TriageTreeFactory(),
        answers=answers,
        defect_location_code="BAD",
        description="De kraan druppelt",
    )


def url(request, name="portal:appointment"):
    return reverse(name, kwargs={"reference": request.reference})


def legends(body: str) -> list[str]:
    return [re.sub(r"\s+", " ", text).strip() for text in re.findall(r"<legend>(.*?)</legend>", body, re.S)]


def radios(body: str) -> list[str]:
    return re.findall(r'<input type="radio" name="slot" value="([^"]+)"', body)


def checked(body: str) -> list[str]:
    return re.findall(r'<input type="radio" name="slot" value="([^"]+)" id="[^"]+" checked>', body)


def booking_events() -> int:
    return Event.objects.filter(activity="appointment.booked").count()


@pytest.fixture
def tuesday(vera):
    with use_clock(FixedClock(TUESDAY_MORNING)) as fixed:
        yield fixed


@pytest.fixture
def organisation(db):
    return Organisation.objects.create(
        name="Woonstede", emergency_phone="088 123 4567", service_phone="030 765 4321"
    )


@pytest.mark.django_db
def test_the_blocks_are_grouped_by_day_with_the_first_five_days_shown(client, tuesday):
    technician()
    request = reported()
    client.force_login(request.customer.user)

    response = client.get(url(request))

    body = response.content.decode()
    assert response.status_code == 200
    assert legends(body) == [
        "Morgen, woensdag 11 maart",
        "Donderdag 12 maart",
        "Vrijdag 13 maart",
        "Maandag 16 maart",
        "Dinsdag 17 maart",
    ]
    wednesday = [key(local(11, hour), local(11, hour + 2)) for hour in (8, 10, 12, 14)]
    assert radios(body)[:4] == wednesday
    assert len(radios(body)) == 20
    assert "08:00 tot 10:00 uur" in body
    # With empty routes every block costs the same drive: the earliest is suggested.
    assert checked(body) == [wednesday[0]]
    assert body.count("Onze tip: op dit moment hoeft de monteur het minst te rijden.") == 1
    assert f'href="{url(request)}?all=1"' in body
    assert "Meer dagen tonen" in body
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_show_more_days_lists_the_whole_horizon(client, tuesday):
    technician()
    request = reported()
    client.force_login(request.customer.user)

    body = client.get(url(request) + "?all=1").content.decode()

    assert len(legends(body)) == 10  # the working days of the next fourteen
    assert legends(body)[-1] == "Dinsdag 24 maart"
    assert len(radios(body)) == 40
    assert "Meer dagen tonen" not in body


@pytest.mark.django_db
def test_show_more_days_by_htmx_returns_the_part_and_keeps_the_chosen_block(client, tuesday):
    technician()
    request = reported()
    client.force_login(request.customer.user)
    chosen = key(local(13, 12), local(13, 14))

    response = client.get(url(request) + f"?all=1&slot={chosen}", headers={"HX-Request": "true"})

    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert body.lstrip().startswith('<div id="appointment">')
    assert checked(body) == [chosen]
    assert len(legends(body)) == 10
    # Focus moves to the first day that was hidden before.
    assert re.search(
        r'<fieldset class="slot-day" tabindex="-1" data-autofocus>\s*<legend>\s*Woensdag 18 maart', body
    )


@pytest.mark.django_db
def test_days_are_local_days_not_utc_days(client, tuesday):
    """A block from midnight Amsterdam time starts the evening before in UTC."""
    PlanningSettings.objects.create(first_block_start=time(0), last_block_end=time(4))
    technician(start=time(0), end=time(4))
    request = reported()
    client.force_login(request.customer.user)

    body = client.get(url(request)).content.decode()

    assert legends(body)[0] == "Morgen, woensdag 11 maart"
    assert radios(body)[:2] == [key(local(11, 0), local(11, 2)), key(local(11, 2), local(11, 4))]
    assert "00:00 tot 02:00 uur" in body


@pytest.mark.django_db
def test_booking_a_block_writes_one_job_and_one_event_and_shows_the_appointment(client, tuesday):
    person = technician()
    request = reported()
    client.force_login(request.customer.user)
    events = Event.objects.count()

    response = client.post(url(request), {"slot": key(local(12, 10), local(12, 12))})

    assert response.status_code == 302
    assert response["Location"] == url(request, "portal:request_detail")
    job = Job.objects.get()
    assert (job.request, job.technician, job.visit_start, job.visit_end) == (
        request,
        person,
        local(12, 10),
        local(12, 12),
    )
    booked = Event.objects.get(activity="appointment.booked")
    assert (booked.channel, booked.actor, booked.attributes["window_start"]) == (
        "portal",
        request.customer.user,
        "2026-03-12T09:00:00+00:00",
    )
    assert Event.objects.count() == events + 3  # status changed, job assigned, appointment booked
    page = client.get(response["Location"]).content.decode()
    assert "Uw afspraak is gemaakt: donderdag 12 maart tussen 10:00 en 12:00 uur." in page
    assert "Uw afspraak" in page
    assert "<strong>Donderdag 12 maart</strong>, tussen 10:00 en 12:00 uur" in page
    assert "Piet de Loodgieter" not in page  # the tenant is not told who
    assert "Afspraak gemaakt" in page  # the history
    assert "Kies een tijd" not in page


@pytest.mark.django_db
def test_booking_by_htmx_redirects_by_header(client, tuesday):
    technician()
    request = reported()
    client.force_login(request.customer.user)

    response = client.post(
        url(request), {"slot": key(local(11, 8), local(11, 10))}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    assert response["HX-Redirect"] == url(request, "portal:request_detail")
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_a_block_taken_meanwhile_gives_the_error_and_fresh_offers_and_writes_nothing(client, tuesday):
    # A two-hour shift holds one 90-minute visit a day.
    technician("LOO", start=time(8), end=time(10))
    request = reported(CEILING)
    RepairRequest.objects.filter(pk=request.pk).update(urgency="normal")
    neighbour = reported(CEILING)
    RepairRequest.objects.filter(pk=neighbour.pk).update(urgency="normal")
    client.force_login(request.customer.user)
    wednesday = key(local(11, 8), local(11, 10))
    assert radios(client.get(url(request)).content.decode())[0] == wednesday
    appointment_book(
        request=neighbour, window_start=local(11, 8), window_end=local(11, 10), actor=None, channel="portal"
    )
    events = Event.objects.count()

    response = client.post(url(request), {"slot": wednesday}, headers={"HX-Request": "true"})

    body = response.content.decode()
    assert response.status_code == 422
    assert str(MESSAGE_SLOT_TAKEN) == "Deze tijd is niet meer vrij. Kies een andere tijd."
    assert "Deze tijd is niet meer vrij. Kies een andere tijd." in body
    assert radios(body)[0] == key(local(12, 8), local(12, 10))
    assert wednesday not in radios(body)
    assert list(Job.objects.values_list("request", flat=True)) == [neighbour.pk]
    assert Event.objects.count() == events


@pytest.mark.parametrize(
    ("slot", "message"),
    [
        ("", "Kies een tijd."),
        ("morgen", "Kies een van de getoonde tijden."),
        ("12-abc", "Kies een van de getoonde tijden."),
        (key(local(11, 10), local(11, 8)), "Kies een van de getoonde tijden."),  # ends before it starts
        (key(local(11, 8), local(11, 8)), "Kies een van de getoonde tijden."),
        ("99999999999-999999999999", "Kies een van de getoonde tijden."),  # beyond the year 9999
        ("<script>alert(1)</script>", "Kies een van de getoonde tijden."),
        ("1" * 40, "Kies een van de getoonde tijden."),
        ("0-7200", "Deze tijd is al voorbij. Kies een andere tijd."),  # 1970
        (key(local(9, 8), local(9, 10)), "Deze tijd is al voorbij. Kies een andere tijd."),
        (key(local(14, 8), local(14, 10)), "Deze tijd is niet meer vrij. Kies een andere tijd."),  # Saturday
        (
            key(local(11, 9), local(11, 11)),
            "Deze tijd is niet meer vrij. Kies een andere tijd.",
        ),  # not a block
    ],
)
@pytest.mark.django_db
def test_a_tampered_block_gets_a_clear_error_and_writes_nothing(client, tuesday, slot, message):
    technician()
    request = reported()
    client.force_login(request.customer.user)
    events = Event.objects.count()

    response = client.post(url(request), {"slot": slot})

    body = response.content.decode()
    assert response.status_code == 422
    assert message in body
    assert "<script>alert(1)</script>" not in body
    assert len(radios(body)) == 20  # the offers again
    assert Job.objects.count() == 0
    assert Event.objects.count() == events


@pytest.mark.django_db
def test_the_block_under_way_is_still_booked_with_a_key_from_a_moment_ago(client, tuesday):
    """An urgent request is offered the block under way from 'now', so the key
    moves on every second; the tenant's choice still means that block."""
    technician("LOO")
    request = reported(CEILING)
    client.force_login(request.customer.user)
    shown = radios(client.get(url(request)).content.decode())[0]
    assert shown == key(local(10, 9, 30), local(10, 10))
    tuesday.advance(timedelta(minutes=5))

    response = client.post(url(request), {"slot": shown})

    assert response.status_code == 302
    job = Job.objects.get()
    assert (job.visit_start, job.visit_end) == (local(10, 9, 35), local(10, 10))


@pytest.mark.django_db
def test_an_emergency_shows_the_call_box_and_books_nothing(client, tuesday, organisation):
    technician("LOO")
    request = reported(FLOOD)
    client.force_login(request.customer.user)

    page = client.get(url(request))
    posted = client.post(url(request), {"slot": key(local(10, 10), local(10, 12))})

    body = page.content.decode()
    assert page.status_code == 200
    assert 'class="emergency"' in body
    assert 'href="tel:0881234567"' in body
    assert radios(body) == []
    assert posted.status_code == 422
    assert 'class="emergency"' in posted.content.decode()
    assert Job.objects.count() == 0
    assert booking_events() == 0


@pytest.mark.django_db
def test_no_capacity_asks_the_tenant_to_call(client, tuesday, organisation):
    request = reported()  # no plumber at all
    client.force_login(request.customer.user)

    response = client.get(url(request))

    body = response.content.decode()
    assert response.status_code == 200
    assert "Er is online geen tijd beschikbaar." in body
    assert 'Bel ons op <a href="tel:0307654321">030 765 4321</a>.' in body
    assert '<form method="post" action="' + url(request) not in body
    assert radios(body) == []


@pytest.mark.django_db
def test_an_appointment_already_booked_is_shown_instead_of_offers(client, tuesday):
    technician()
    request = reported()
    appointment_book(
        request=request, window_start=local(11, 10), window_end=local(11, 12), actor=None, channel="portal"
    )
    client.force_login(request.customer.user)

    page = client.get(url(request))
    again = client.post(url(request), {"slot": key(local(12, 8), local(12, 10))})

    body = page.content.decode()
    assert page.status_code == 200
    assert "<strong>Woensdag 11 maart</strong>, tussen 10:00 en 12:00 uur" in body
    assert radios(body) == []
    assert again.status_code == 422
    assert str(MESSAGE_ALREADY_BOOKED) in again.content.decode()
    assert Job.objects.count() == 1
    assert booking_events() == 1


@pytest.mark.django_db
def test_a_closed_request_has_nothing_to_plan(client, tuesday):
    technician()
    request = reported()
    RepairRequest.objects.filter(pk=request.pk).update(status="cancelled")
    client.force_login(request.customer.user)

    page = client.get(url(request))
    posted = client.post(url(request), {"slot": key(local(11, 8), local(11, 10))})

    assert "Deze melding is afgesloten" in page.content.decode()
    assert radios(page.content.decode()) == []
    assert posted.status_code == 422
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_the_request_page_links_to_choosing_a_time_until_booked(client, tuesday):
    technician()
    request = reported()
    client.force_login(request.customer.user)

    before = client.get(url(request, "portal:request_detail")).content.decode()

    assert f'href="{url(request)}">Kies een tijd</a>' in before
    assert "Uw afspraak" not in before


@pytest.mark.django_db
def test_another_tenants_request_is_not_found_and_nothing_is_booked(client, tuesday):
    technician()
    theirs = reported()
    client.force_login(CustomerFactory().user)

    assert client.get(url(theirs)).status_code == 404
    assert client.post(url(theirs), {"slot": key(local(11, 8), local(11, 10))}).status_code == 404
    assert Job.objects.count() == 0


@pytest.mark.parametrize("role", STAFF_ROLES)
@pytest.mark.django_db
def test_staff_cannot_book_through_the_portal(client, tuesday, role):
    technician()
    request = reported()
    client.force_login(UserFactory(role=role))

    assert client.get(url(request)).status_code == 403
    assert client.post(url(request), {"slot": key(local(11, 8), local(11, 10))}).status_code == 403
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_anonymous_visitors_get_the_sign_in_page(client, tuesday):
    request = reported()

    response = client.get(url(request))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:sign_in") + "?next=")


def test_a_window_key_is_parsed_strictly():
    start, end = forms.window_parse("1773216000-1773223200")

    assert (start.astimezone(AMSTERDAM), end.astimezone(AMSTERDAM)) == (local(11, 9), local(11, 11))
    for bad in ["", "1-", "-1-2", "+1-2", "1.5-2", "２-3", "3-2", " 1-2", "1-2-3"]:
        with pytest.raises(ValueError):  # noqa: PT011 - a plain ValueError is the contract
            forms.window_parse(bad)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks need PostgreSQL; .ci/run runs this suite on PostgreSQL too",
)
def test_a_block_taken_while_the_tenant_books_gives_the_error_on_postgresql(client, tuesday):
    """The neighbour's booking holds its transaction open: the tenant's page
    still offers the block, the booking service waits for the lock, then sees
    the block gone; the tenant gets the error and fresh offers."""
    technician("LOO", start=time(8), end=time(10))
    request, neighbour = reported(CEILING), reported(CEILING)
    RepairRequest.objects.filter(pk__in=[request.pk, neighbour.pk]).update(urgency="normal")
    booked, failures = threading.Event(), []

    def neighbour_books():
        try:
            with transaction.atomic():
                appointment_book(
                    request=neighbour,
                    window_start=local(11, 8),
                    window_end=local(11, 10),
                    actor=None,
                    channel="portal",
                )
                booked.set()
                with connection.cursor() as cursor:  # commit once the tenant waits for the lock
                    for _ in range(200):
                        cursor.execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                            "AND datname = current_database()"
                        )
                        if cursor.fetchone()[0]:
                            break
                        threading.Event().wait(0.05)
                    else:
                        failures.append("the tenant never waited for the lock")
        finally:
            booked.set()
            connections.close_all()

    client.force_login(request.customer.user)
    holder = threading.Thread(target=neighbour_books)
    holder.start()
    assert booked.wait(timeout=20)
    response = client.post(url(request), {"slot": key(local(11, 8), local(11, 10))})
    holder.join(timeout=20)

    assert failures == []
    assert response.status_code == 422
    assert "Deze tijd is niet meer vrij. Kies een andere tijd." in response.content.decode()
    assert radios(response.content.decode())[0] == key(local(12, 8), local(12, 10))
    assert list(Job.objects.values_list("request", flat=True)) == [neighbour.pk]
    assert booking_events() == 1
