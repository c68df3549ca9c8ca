"""The desk books a time block for a tenant on the phone."""

import re
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from klantreis.accounts.models import Role
from klantreis.accounts.tests.factories import UserFactory
from klantreis.core.clock import FixedClock, use_clock
from klantreis.customers.tests.factories import CustomerFactory, HomeFactory
from klantreis.events.models import Event
from klantreis.intake.models import RepairRequest, VeraCode
from klantreis.intake.services import request_create
from klantreis.intake.tests.factories import TriageTreeFactory
from klantreis.planning.models import Job, WorkingHours
from klantreis.planning.services import appointment_book, job_create
from klantreis.planning.tests.factories import FirmFactory, TechnicianFactory

pytestmark = pytest.mark.django_db

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
TUESDAY_MORNING = datetime(2026, 3, 10, 9, 30, tzinfo=AMSTERDAM)
ALL_ROLES = list(Role.values)
BOOKING = {"agent", "planner", "admin"}

TAP = {"flooding": "no", "where": "tap"}  # normal, LOA, 30 minutes
CEILING = {"flooding": "no", "where": "ceiling"}  # urgent, LOO, 90 minutes
FLOOD = {"flooding": "yes"}  # emergency, LOO, 60 minutes


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=AMSTERDAM)


def key(start: datetime, end: datetime) -> str:
    return f"{int(start.timestamp())}-{int(end.timestamp())}"


def technician(code="LOA", *, name="Piet de Loodgieter", start=time(7, 30), end=time(16)):
    specialism = VeraCode.objects.get(kind="ONDERHOUDSPECIALISME", code=code)
    person = TechnicianFactory(
        name=name,
        firm=FirmFactory(kind="in_house", name="Eigen dienst"),
        specialisms=[specialism],
        start_latitude=52.09,
        start_longitude=5.12,
    )
    for weekday in range(5):
        WorkingHours.objects.create(technician=person, weekday=weekday, start=start, end=end)
    return person


def reported(answers=TAP):
    customer = CustomerFactory(home=HomeFactory(latitude=52.095, longitude=5.125), name="Mehmet Kaya")
    return request_create(
        actor=customer.user,
        customer=customer,
        home=customer.homes.get(),
        channel="phone",
        tree=TriageTreeFactory(),
        answers=answers,
        defect_location_code="BAD",
        description="Kraan druppelt",
    )


def user_with(role):
    if role == "customer":
        return CustomerFactory().user
    return UserFactory(role=role)


def url(request, name="workspace:appointment"):
    return reverse(name, kwargs={"reference": request.reference})


def legends(body: str) -> list[str]:
    return [re.sub(r"\s+", " ", text).strip() for text in re.findall(r"<legend>(.*?)</legend>", body, re.S)]


def radios(body: str) -> list[str]:
    return re.findall(r'<input type="radio" name="slot" value="([^"]+)"', body)


@pytest.fixture
def tuesday(vera):
    with use_clock(FixedClock(TUESDAY_MORNING)) as fixed:
        yield fixed


def test_the_agent_sees_the_offers_by_day_with_the_technician_behind_each(client, tuesday):
    technician()
    request = reported()
    client.force_login(UserFactory(role="agent"))

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
    assert len(radios(body)) == 20
    assert body.count("Piet de Loodgieter · ") == 20
    assert "minuten extra rijden" in body
    assert body.count("Voorstel: de minste extra reistijd") == 1
    assert "Mehmet Kaya" in body
    assert "Meer dagen tonen" in body


def test_the_agent_books_for_the_tenant_on_the_phone(client, tuesday):
    person = technician()
    request = reported()
    agent = UserFactory(role="agent")
    client.force_login(agent)

    response = client.post(url(request), {"slot": key(local(11, 12), local(11, 14))})

    assert response.status_code == 302
    assert response["Location"] == url(request, "workspace:request_detail")
    job = Job.objects.get()
    assert (job.request, job.technician, job.visit_start, job.visit_end) == (
        request,
        person,
        local(11, 12),
        local(11, 14),
    )
    booked = Event.objects.get(activity="appointment.booked")
    assert (booked.channel, booked.layer, booked.actor) == ("phone", "human", agent)
    page = client.get(response["Location"]).content.decode()
    assert (
        f"Afspraak gemaakt voor {request.reference}: woensdag 11 maart tussen 12:00 en 14:00 uur "
        "(Piet de Loodgieter)." in page
    )
    assert "<strong>Woensdag 11 maart</strong>, tussen 12:00 en 14:00 uur" in page
    assert "Monteur: Piet de Loodgieter (Eigen dienst)" in page
    assert f'href="{url(request)}"' not in page  # booked: no second booking


def test_booking_by_htmx_redirects_by_header_and_errors_come_back_as_the_part(client, tuesday):
    technician()
    request = reported()
    client.force_login(UserFactory(role="planner"))

    wrong = client.post(url(request), {"slot": "morgen"}, headers={"HX-Request": "true"})
    done = client.post(
        url(request), {"slot": key(local(11, 8), local(11, 10))}, headers={"HX-Request": "true"}
    )

    assert wrong.status_code == 422  # htmx swaps 422 in
    assert wrong.content.decode().lstrip().startswith('<div id="appointment">')
    assert "Kies een van de getoonde tijden." in wrong.content.decode()
    assert done.status_code == 200
    assert done["HX-Redirect"] == url(request, "workspace:request_detail")
    assert Job.objects.count() == 1


@pytest.mark.parametrize(
    ("slot", "message"),
    [
        ("", "Kies een tijd."),
        ("<script>alert(1)</script>", "Kies een van de getoonde tijden."),
        (key(local(11, 10), local(11, 8)), "Kies een van de getoonde tijden."),
        ("0-7200", "Deze tijd is al voorbij. Kies een andere tijd."),
        (key(local(14, 8), local(14, 10)), "Deze tijd is niet meer vrij. Kies een andere tijd."),
    ],
)
def test_a_bad_block_gets_a_clear_error_and_writes_nothing(client, tuesday, slot, message):
    technician()
    request = reported()
    client.force_login(UserFactory(role="agent"))
    events = Event.objects.count()

    response = client.post(url(request), {"slot": slot})

    body = response.content.decode()
    assert response.status_code == 422
    assert message in body
    assert "<script>alert(1)</script>" not in body
    assert len(radios(body)) == 20
    assert Job.objects.count() == 0
    assert Event.objects.count() == events


def test_a_block_taken_meanwhile_gives_the_error_and_writes_nothing(client, tuesday):
    technician("LOO", start=time(8), end=time(10))
    request, neighbour = reported(CEILING), reported(CEILING)
    RepairRequest.objects.filter(pk__in=[request.pk, neighbour.pk]).update(urgency="normal")
    appointment_book(
        request=neighbour, window_start=local(11, 8), window_end=local(11, 10), actor=None, channel="portal"
    )
    client.force_login(UserFactory(role="agent"))
    events = Event.objects.count()

    response = client.post(url(request), {"slot": key(local(11, 8), local(11, 10))})

    assert response.status_code == 422
    assert "Deze tijd is niet meer vrij. Kies een andere tijd." in response.content.decode()
    assert radios(response.content.decode())[0] == key(local(12, 8), local(12, 10))
    assert list(Job.objects.values_list("request", flat=True)) == [neighbour.pk]
    assert Event.objects.count() == events


def test_an_emergency_is_offered_today_only(client, tuesday):
    technician("LOO")
    request = reported(FLOOD)
    client.force_login(UserFactory(role="agent"))

    body = client.get(url(request)).content.decode()

    assert legends(body) == ["Vandaag, dinsdag 10 maart"]
    assert radios(body)[0] == key(local(10, 9, 30), local(10, 10))
    assert "Noodgeval: alleen tijden van vandaag." in body


def test_no_capacity_says_so(client, tuesday):
    request = reported()
    client.force_login(UserFactory(role="agent"))

    body = client.get(url(request)).content.decode()

    assert "Geen monteur met dit vakgebied heeft de komende dagen tijd." in body
    assert radios(body) == []


def test_an_appointment_already_booked_is_shown_with_the_technician(client, tuesday):
    technician()
    request = reported()
    appointment_book(
        request=request, window_start=local(12, 14), window_end=local(12, 16), actor=None, channel="portal"
    )
    client.force_login(UserFactory(role="agent"))

    page = client.get(url(request))
    again = client.post(url(request), {"slot": key(local(11, 8), local(11, 10))})

    body = page.content.decode()
    assert "<strong>Donderdag 12 maart</strong>, tussen 14:00 en 16:00 uur" in body
    assert "Monteur: Piet de Loodgieter (Eigen dienst)" in body
    assert radios(body) == []
    assert again.status_code == 422
    assert "Voor deze melding is al een afspraak gemaakt." in again.content.decode()
    assert Job.objects.count() == 1


def test_a_job_without_a_time_is_not_booked_again(client, tuesday):
    technician()
    request = reported()
    job_create(request=request, firm=FirmFactory(name="Van Vliet"), technician=None, actor=None)
    client.force_login(UserFactory(role="agent"))

    body = client.get(url(request)).content.decode()

    assert "Deze melding is al aan Van Vliet gegeven, zonder tijd." in body
    assert radios(body) == []


@pytest.mark.parametrize("role", ALL_ROLES)
def test_who_may_book_at_the_desk(client, tuesday, role):
    technician()
    request = reported()
    client.force_login(user_with(role))

    page = client.get(url(request))
    posted = client.post(url(request), {"slot": key(local(11, 8), local(11, 10))})

    if role in BOOKING:
        assert (page.status_code, posted.status_code) == (200, 302)
        assert Job.objects.count() == 1
    else:
        assert (page.status_code, posted.status_code) == (403, 403)
        assert Job.objects.count() == 0


@pytest.mark.parametrize("role", ["agent", "planner", "admin", "designer"])
def test_the_request_page_offers_booking_to_those_who_may(client, tuesday, role):
    technician()
    request = reported()
    client.force_login(user_with(role))

    body = client.get(url(request, "workspace:request_detail")).content.decode()

    assert (f'href="{url(request)}"' in body) == (role in BOOKING)


def test_anonymous_visitors_get_the_sign_in_page(client, tuesday):
    request = reported()

    response = client.get(url(request))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:sign_in") + "?next=")
