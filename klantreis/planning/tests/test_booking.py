"""Slot offering and booking against the database (the engine itself is
tested in test_slots.py)."""

import threading
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections, transaction

from klantreis.core.clock import FixedClock, use_clock
from klantreis.core.errors import ApplicationError
from klantreis.customers.tests.factories import CustomerFactory, HomeFactory
from klantreis.events.models import Event
from klantreis.intake.models import RepairRequest, VeraCode
from klantreis.intake.services import request_create
from klantreis.intake.tests.factories import TriageTreeFactory
from klantreis.planning import services
from klantreis.planning.models import Absence, Job, WorkingHours
from klantreis.planning.plan import slot_offer_list
from klantreis.planning.tests.factories import FirmFactory, TechnicianFactory

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
TUESDAY_MORNING = datetime(2026, 3, 10, 9, 30, tzinfo=AMSTERDAM)


def local(day: int, hour: int, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=AMSTERDAM)


def plumber(*, start=time(7, 30), end=time(16), weekdays=(0, 1, 2, 3, 4)):
    loo = VeraCode.objects.get(kind="ONDERHOUDSPECIALISME", code="LOO")
    technician = TechnicianFactory(
        firm=FirmFactory(kind="in_house"), specialisms=[loo], start_latitude=52.09, start_longitude=5.12
    )
    for weekday in weekdays:
        WorkingHours.objects.create(technician=technician, weekday=weekday, start=start, end=end)
    return technician


def reported(answers, *, latitude=52.095, longitude=5.125):
    customer = CustomerFactory(home=HomeFactory(latitude=latitude, longitude=longitude))
    return request_create(
        actor=customer.user,
        customer=customer,
        home=customer.homes.get(),
        channel="portal",
        tree=TriageTreeFactory(),
        answers=answers,
        defect_location_code="BAD",
        description="Lek",
    )


CEILING = {"flooding": "no", "where": "ceiling"}  # urgent, LOO, 90 minutes
FLOOD = {"flooding": "yes"}  # emergency, LOO, 60 minutes


@pytest.fixture
def tuesday():
    with use_clock(FixedClock(TUESDAY_MORNING)) as fixed:
        yield fixed


@pytest.mark.django_db
def test_a_normal_request_gets_every_block_of_the_next_fourteen_days_on_working_days(vera, tuesday):
    plumber()
    request = reported(CEILING)
    RepairRequest.objects.filter(pk=request.pk).update(urgency="normal")
    request.refresh_from_db()

    slots = slot_offer_list(request=request, now=tuesday.now())

    days = sorted({slot.start.astimezone(AMSTERDAM).date() for slot in slots})
    assert days[0].isoformat() == "2026-03-11"  # from tomorrow
    assert days[-1].isoformat() == "2026-03-24"  # fourteen days ahead
    assert all(day.weekday() < 5 for day in days)
    assert len(days) == 10
    assert len(slots) == 40
    assert [s.start.astimezone(AMSTERDAM).hour for s in slots[:4]] == [8, 10, 12, 14]
    assert all(s.end - s.start == timedelta(hours=2) for s in slots)
    assert sum(slot.best for slot in slots) == 1


@pytest.mark.django_db
def test_after_the_change_to_summer_time_the_blocks_stay_at_eight_local(vera, tuesday):
    plumber()
    request = reported(CEILING)
    RepairRequest.objects.filter(pk=request.pk).update(urgency="normal")
    request.refresh_from_db()

    slots = slot_offer_list(request=request, now=tuesday.now())

    monday_after = [s for s in slots if s.start.astimezone(AMSTERDAM).date().isoformat() == "2026-03-30"]
    assert monday_after == []  # beyond the horizon; the first summer-time day inside it:
    march_23 = [s.start.astimezone(UTC).hour for s in slots if s.start.astimezone(AMSTERDAM).day == 23]
    assert march_23 == [7, 9, 11, 13]


@pytest.mark.django_db
def test_an_urgent_request_gets_today_from_now_and_tomorrow(vera, tuesday):
    plumber()
    request = reported(CEILING)

    slots = slot_offer_list(request=request, now=tuesday.now())

    windows = [(s.start.astimezone(AMSTERDAM), s.end.astimezone(AMSTERDAM)) for s in slots]
    assert windows[0] == (local(10, 9).replace(minute=30), local(10, 10))  # the block under way, from now
    assert {w[0].date().day for w in windows} == {10, 11}
    # Tuesday's 14:00 block would start service at 14:00 + 90 minutes < 16:00, so it is offered.
    assert windows[-1] == (local(11, 14), local(11, 16))


@pytest.mark.django_db
def test_an_emergency_gets_today_only(vera, tuesday):
    plumber()
    request = reported(FLOOD)

    slots = slot_offer_list(request=request, now=tuesday.now())

    assert {s.start.astimezone(AMSTERDAM).date().day for s in slots} == {10}


@pytest.mark.django_db
def test_no_qualified_technician_means_no_capacity(vera, tuesday):
    request = reported(CEILING)

    assert slot_offer_list(request=request, now=tuesday.now()) == []


@pytest.mark.django_db
def test_an_absence_takes_its_hours_out_of_the_offer(vera, tuesday):
    technician = plumber()
    Absence.objects.create(technician=technician, start=local(11, 0), end=local(12, 0), reason="leave")
    request = reported(CEILING)

    slots = slot_offer_list(request=request, now=tuesday.now())

    assert {s.start.astimezone(AMSTERDAM).day for s in slots} == {10}


@pytest.mark.django_db
def test_booking_stores_the_job_in_the_route_and_records_the_event(vera, tuesday):
    technician = plumber()
    request = reported(CEILING)
    slot = slot_offer_list(request=request, now=tuesday.now())[2]

    job = services.appointment_book(
        request=request,
        window_start=slot.start,
        window_end=slot.end,
        actor=request.customer.user,
        channel="portal",
    )

    assert (job.technician, job.visit_start, job.visit_end, job.route_position) == (
        technician,
        slot.start,
        slot.end,
        0,
    )
    assert slot.start <= job.planned_start <= slot.end
    request.refresh_from_db()
    assert request.status == "in_progress"
    booked = Event.objects.get(activity="appointment.booked")
    assert booked.attributes["window_start"] == slot.start.isoformat()
    assert booked.attributes["window_end"] == slot.end.isoformat()
    assert booked.attributes["technician"] == technician.pk
    assert list(Event.objects.values_list("activity", flat=True)) == [
        "request.reported",
        "request.status_changed",
        "job.assigned",
        "appointment.booked",
    ]


@pytest.mark.django_db
def test_a_second_booking_for_the_same_request_is_refused(vera, tuesday):
    plumber()
    request = reported(CEILING)
    slot = slot_offer_list(request=request, now=tuesday.now())[0]
    services.appointment_book(
        request=request, window_start=slot.start, window_end=slot.end, actor=None, channel="portal"
    )

    with pytest.raises(ApplicationError) as raised:
        services.appointment_book(
            request=request, window_start=slot.start, window_end=slot.end, actor=None, channel="portal"
        )

    assert raised.value.message == services.MESSAGE_ALREADY_BOOKED
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_a_block_that_was_never_offered_is_refused_and_nothing_is_written(vera, tuesday):
    plumber()
    request = reported(CEILING)
    events = Event.objects.count()

    with pytest.raises(ApplicationError) as raised:
        services.appointment_book(  # a Saturday
            request=request, window_start=local(14, 8), window_end=local(14, 10), actor=None, channel="portal"
        )

    assert raised.value.message == services.MESSAGE_SLOT_TAKEN
    assert Job.objects.count() == 0
    assert Event.objects.count() == events


@pytest.mark.django_db
def test_the_last_capacity_goes_once(vera, tuesday):
    # A two-hour shift holds one 90-minute job.
    plumber(start=time(8), end=time(10))
    first, second = reported(CEILING), reported(CEILING, latitude=52.1, longitude=5.13)
    tomorrow_8 = (local(11, 8), local(11, 10))
    services.appointment_book(
        request=first, window_start=tomorrow_8[0], window_end=tomorrow_8[1], actor=None, channel="portal"
    )

    assert all(
        s.start.astimezone(AMSTERDAM).day != 11 for s in slot_offer_list(request=second, now=tuesday.now())
    )
    with pytest.raises(ApplicationError) as raised:
        services.appointment_book(
            request=second, window_start=tomorrow_8[0], window_end=tomorrow_8[1], actor=None, channel="portal"
        )
    assert raised.value.message == services.MESSAGE_SLOT_TAKEN


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks need PostgreSQL; .ci/run runs this suite on PostgreSQL too",
)
def test_two_customers_racing_for_the_last_capacity_on_postgresql(vera):
    """The first booking holds its transaction open while the second one
    starts: without the row locks the second would read a plan without the
    first job and book the same capacity too."""
    with use_clock(FixedClock(TUESDAY_MORNING)):
        plumber(start=time(8), end=time(10))
        first, second = reported(CEILING), reported(CEILING, latitude=52.1, longitude=5.13)
    first_booked, commit_first = threading.Event(), threading.Event()
    outcomes: dict[str, str] = {}

    def attempt(name, request, hold=False):
        try:
            with use_clock(FixedClock(TUESDAY_MORNING)), transaction.atomic():
                services.appointment_book(
                    request=request,
                    window_start=local(11, 8),
                    window_end=local(11, 10),
                    actor=None,
                    channel="portal",
                )
                if hold:
                    first_booked.set()
                    commit_first.wait(timeout=20)
            outcomes[name] = "booked"
        except ApplicationError as error:
            outcomes[name] = str(error.message)
        finally:
            first_booked.set()
            connections.close_all()

    one = threading.Thread(target=attempt, args=("first", first, True))
    one.start()
    assert first_booked.wait(timeout=20)
    two = threading.Thread(target=attempt, args=("second", second))
    two.start()
    two.join(timeout=2)  # with the locks it is waiting for the first to commit
    commit_first.set()
    one.join(timeout=20)
    two.join(timeout=20)

    assert outcomes == {"first": "booked", "second": str(services.MESSAGE_SLOT_TAKEN)}
    assert Job.objects.filter(status="open").count() == 1


@pytest.mark.django_db
def test_the_block_under_way_can_be_booked_a_little_later(vera, tuesday):
    plumber()
    request = reported(CEILING)  # urgent: today's 08:00–10:00 block is offered from 09:30
    slot = slot_offer_list(request=request, now=tuesday.now())[0]
    assert slot.start.astimezone(AMSTERDAM) == local(10, 9).replace(minute=30)

    tuesday.advance(timedelta(seconds=40))  # the customer took a while to click
    job = services.appointment_book(
        request=request, window_start=slot.start, window_end=slot.end, actor=None, channel="portal"
    )

    assert job.visit_start == tuesday.now()  # the window as offered now
    assert job.visit_end == slot.end
