"""Moving and cancelling a booked appointment, and booking a follow-up visit
(planning.services: appointment_reschedule, appointment_cancel,
appointment_book)."""

import threading
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from klantreis.accounts.tests.factories import staff_user
from klantreis.core.clock import FixedClock, use_clock
from klantreis.core.errors import ApplicationError
from klantreis.events.models import Event
from klantreis.intake.models import RepairRequest
from klantreis.intake.services import request_status_change
from klantreis.planning import services
from klantreis.planning.models import Job, PlanningSettings, Technician
from klantreis.planning.plan import SourceTravel, moment, route_states, slot_offer_list
from klantreis.planning.tests.test_booking import (
    AMSTERDAM,
    CEILING,
    TUESDAY_MORNING,
    local,
    plumber,
    reported,
)
from klantreis.planning.travel import travel_source_for

WEDNESDAY_8 = (local(11, 8), local(11, 10))
WEDNESDAY_10 = (local(11, 10), local(11, 12))
WEDNESDAY_12 = (local(11, 12), local(11, 14))
THURSDAY_8 = (local(12, 8), local(12, 10))
THURSDAY_12 = (local(12, 12), local(12, 14))


@pytest.fixture
def tuesday():
    with use_clock(FixedClock(TUESDAY_MORNING)) as fixed:
        yield fixed


def normal(*, latitude=52.095, longitude=5.125):
    """A request offered from tomorrow for the horizon (14 days)."""
    request = reported(CEILING, latitude=latitude, longitude=longitude)
    RepairRequest.objects.filter(pk=request.pk).update(urgency=RepairRequest.Urgency.NORMAL)
    request.refresh_from_db()
    return request


def book(request, window, actor=None):
    return services.appointment_book(
        request=request, window_start=window[0], window_end=window[1], actor=actor, channel="portal"
    )


def reschedule(job, window, actor=None, channel="portal"):
    return services.appointment_reschedule(
        job=job, window_start=window[0], window_end=window[1], actor=actor, channel=channel
    )


def route(technician, day):
    """The technician's open jobs of `day` (of March 2026) in stored route order."""
    return list(
        Job.objects.filter(
            technician=technician,
            status=Job.Status.OPEN,
            visit_start__gte=local(day, 0),
            visit_start__lt=local(day + 1, 0),
        )
        .order_by("route_position")
        .values_list("pk", "route_position", "planned_start")
    )


def windows(slots):
    return [(slot.start, slot.end) for slot in slots]


def event_snapshot():
    return list(Event.objects.order_by("pk").values_list("activity", flat=True))


# Moving an appointment.


@pytest.mark.django_db
def test_a_reschedule_moves_the_job_and_re_times_the_day_it_left(
    vera, tuesday, django_capture_on_commit_callbacks
):
    technician = plumber()
    first, second = normal(), normal(latitude=52.1, longitude=5.13)
    job = book(first, WEDNESDAY_8)
    other = book(second, WEDNESDAY_10)
    assert [(pk, position) for pk, position, _ in route(technician, 11)] == [(job.pk, 0), (other.pk, 1)]
    events = event_snapshot()

    with django_capture_on_commit_callbacks() as callbacks:
        moved = reschedule(job, THURSDAY_12, actor=first.customer.user)

    assert (moved.pk, moved.technician, moved.visit_start, moved.visit_end) == (
        job.pk,
        technician,
        *THURSDAY_12,
    )
    assert route(technician, 12) == [(job.pk, 0, local(12, 12))]  # early: waits for its window
    assert route(technician, 11) == [(other.pk, 0, local(11, 10))]
    assert Job.objects.count() == 2
    assert event_snapshot() == [*events, "appointment.rescheduled"]
    rescheduled = Event.objects.get(activity="appointment.rescheduled")
    assert (rescheduled.actor, rescheduled.channel, rescheduled.layer) == (
        first.customer.user,
        "portal",
        "digital",
    )
    assert rescheduled.attributes == {
        "request": first.reference,
        "customer": first.customer_id,
        "job": job.pk,
        "technician": technician.pk,
        "firm": technician.firm_id,
        "window_start": "2026-03-12T11:00:00+00:00",
        "window_end": "2026-03-12T13:00:00+00:00",
        "previous_technician": technician.pk,
        "previous_window_start": "2026-03-11T07:00:00+00:00",
        "previous_window_end": "2026-03-11T09:00:00+00:00",
        "planned_start": "2026-03-12T11:00:00+00:00",
        "self_service": True,
    }
    # Both days are looked at again once the change is committed.
    assert [callback.args for callback in callbacks] == [("2026-03-11",), ("2026-03-12",)]


@pytest.mark.django_db
def test_a_job_can_move_later_within_its_own_technicians_day(vera, tuesday):
    technician = plumber()
    first, second = normal(), normal(latitude=52.1, longitude=5.13)
    job = book(first, WEDNESDAY_8)
    other = book(second, WEDNESDAY_10)

    reschedule(job, WEDNESDAY_12, actor=staff_user("agent"), channel="phone")

    assert route(technician, 11) == [(other.pk, 0, local(11, 10)), (job.pk, 1, local(11, 12))]
    rescheduled = Event.objects.get(activity="appointment.rescheduled")
    assert (rescheduled.layer, rescheduled.attributes["self_service"]) == ("human", False)


@pytest.mark.django_db
def test_the_blocks_offered_for_a_move_count_the_jobs_own_place_as_free(vera, tuesday):
    # A two-hour shift holds one 90-minute job a day.
    plumber(start=time(8), end=time(10))
    request = normal()
    job = book(request, WEDNESDAY_8)

    assert WEDNESDAY_8 in windows(slot_offer_list(request=request, now=tuesday.now(), moving=job))
    # A new job of another request does not fit on Wednesday.
    assert WEDNESDAY_8 not in windows(slot_offer_list(request=normal(latitude=52.1), now=tuesday.now()))


@pytest.mark.django_db
def test_a_reschedule_frees_the_last_capacity_of_the_old_block(vera, tuesday):
    plumber(start=time(8), end=time(10))
    first, second = normal(), normal(latitude=52.1, longitude=5.13)
    job = book(first, WEDNESDAY_8)
    assert WEDNESDAY_8 not in windows(slot_offer_list(request=second, now=tuesday.now()))

    reschedule(job, THURSDAY_8, actor=first.customer.user)

    offered = windows(slot_offer_list(request=second, now=tuesday.now()))
    assert WEDNESDAY_8 in offered
    assert THURSDAY_8 not in offered
    booked = book(second, WEDNESDAY_8)
    assert (booked.visit_start, booked.visit_end) == WEDNESDAY_8


@pytest.mark.django_db
def test_a_move_to_a_full_block_keeps_the_old_appointment(vera, tuesday):
    technician = plumber(start=time(8), end=time(10))
    first, second = normal(), normal(latitude=52.1, longitude=5.13)
    job = book(first, WEDNESDAY_8)
    book(second, THURSDAY_8)
    before = route(technician, 11)
    events = event_snapshot()

    with pytest.raises(ApplicationError) as raised:
        reschedule(job, THURSDAY_8, actor=first.customer.user)

    assert raised.value.message == services.MESSAGE_SLOT_TAKEN
    job.refresh_from_db()
    assert (job.visit_start, job.visit_end, job.status) == (*WEDNESDAY_8, "open")
    assert route(technician, 11) == before
    assert event_snapshot() == events


@pytest.mark.django_db
@pytest.mark.parametrize(
    "window",
    [
        (local(14, 8), local(14, 10)),  # a Saturday: nobody works
        (local(11, 10), local(11, 8)),  # ends before it starts
        (local(9, 8), local(9, 10)),  # yesterday
        (local(11, 9), local(11, 11)),  # not a block
        (datetime(9999, 12, 31, 22, tzinfo=UTC), datetime(9999, 12, 31, 23, tzinfo=UTC)),
    ],
)
def test_a_block_that_is_not_offered_is_refused_and_nothing_changes(vera, tuesday, window):
    technician = plumber()
    request = normal()
    job = book(request, WEDNESDAY_8)
    before, events = route(technician, 11), event_snapshot()

    with pytest.raises(ApplicationError) as raised:
        reschedule(job, window, actor=request.customer.user)

    assert raised.value.message == services.MESSAGE_SLOT_TAKEN
    assert route(technician, 11) == before
    assert event_snapshot() == events


@pytest.mark.django_db
def test_a_block_without_a_time_zone_is_a_programming_error(vera, tuesday):
    plumber()
    request = normal()
    job = book(request, WEDNESDAY_8)

    with pytest.raises(ValueError, match="aware"):
        reschedule(job, (datetime(2026, 3, 12, 8), datetime(2026, 3, 12, 10)))  # noqa: DTZ001


@pytest.mark.django_db
@pytest.mark.parametrize("outcome", ["fixed", "not_fixed", "not_home"])
def test_a_closed_job_cannot_be_moved_or_cancelled(vera, tuesday, outcome):
    plumber()
    request = normal()
    job = book(request, WEDNESDAY_8)
    services.job_complete(job=job, status=outcome, actor=None)
    job.refresh_from_db()
    events = event_snapshot()

    for change in (
        lambda: reschedule(job, THURSDAY_8, actor=staff_user("planner")),
        lambda: services.appointment_cancel(job=job, actor=staff_user("planner"), channel="phone"),
    ):
        with pytest.raises(ApplicationError) as raised:
            change()
        assert raised.value.message == services.MESSAGE_APPOINTMENT_CLOSED

    job.refresh_from_db()
    assert (job.status, job.visit_start) == (outcome, WEDNESDAY_8[0])
    assert event_snapshot() == events


@pytest.mark.django_db
def test_a_cancelled_appointment_cannot_be_moved_or_cancelled_again(vera, tuesday):
    plumber()
    request = normal()
    job = book(request, WEDNESDAY_8)
    services.appointment_cancel(job=job, actor=None, channel="system")

    with pytest.raises(ApplicationError) as moved:
        reschedule(job, THURSDAY_8)
    with pytest.raises(ApplicationError) as cancelled:
        services.appointment_cancel(job=job, actor=None, channel="system")

    assert moved.value.message == cancelled.value.message == services.MESSAGE_APPOINTMENT_CLOSED
    assert Event.objects.filter(activity="appointment.cancelled").count() == 1


@pytest.mark.django_db
def test_a_job_without_a_promised_window_has_no_appointment_to_change(vera, tuesday):
    technician = plumber()
    request = normal()
    job = services.job_create(request=request, firm=technician.firm, technician=technician, actor=None)

    with pytest.raises(ApplicationError) as moved:
        reschedule(job, THURSDAY_8)
    with pytest.raises(ApplicationError) as cancelled:
        services.appointment_cancel(job=job, actor=None, channel="system")

    assert moved.value.message == cancelled.value.message == services.MESSAGE_NO_APPOINTMENT
    job.refresh_from_db()
    assert (job.status, job.visit_start) == ("open", None)


@pytest.mark.django_db
def test_a_visit_under_way_cannot_be_moved_or_cancelled(vera, tuesday):
    technician = plumber()
    request = reported(CEILING)  # urgent: today's blocks are offered
    job = book(request, (local(10, 10), local(10, 12)))
    tuesday.set(local(10, 10))
    services.job_arrive(job=job, technician=technician, actor=None)
    planner = staff_user("planner")

    with pytest.raises(ApplicationError) as moved:
        reschedule(job, (local(11, 8), local(11, 10)), actor=planner)
    with pytest.raises(ApplicationError) as cancelled:
        services.appointment_cancel(job=job, actor=planner, channel="phone")

    assert moved.value.message == cancelled.value.message == services.MESSAGE_VISIT_UNDER_WAY
    job.refresh_from_db()
    assert (job.status, job.visit_start) == ("open", local(10, 10))


@pytest.mark.django_db
def test_a_cancelled_request_cannot_get_a_new_time(vera, tuesday):
    plumber()
    request = normal()
    job = book(request, WEDNESDAY_8)
    request_status_change(request=request, status="cancelled", actor=None, channel="system", layer="digital")

    with pytest.raises(ApplicationError) as raised:
        reschedule(job, THURSDAY_8, actor=staff_user("planner"))

    assert raised.value.message == services.MESSAGE_NOT_BOOKABLE
    job.refresh_from_db()
    assert (job.visit_start, job.visit_end) == WEDNESDAY_8


@pytest.mark.django_db
def test_a_move_drops_the_pin_and_the_old_arrival_estimates(vera, tuesday):
    technician = plumber()
    request = normal()
    job = book(request, WEDNESDAY_8)
    services.job_pin(job=job, technician=technician, planned_start=local(11, 9), actor=staff_user("planner"))
    Job.objects.filter(pk=job.pk).update(expected_arrival=local(11, 9), eta_published=local(11, 9))

    moved = reschedule(job, THURSDAY_8, actor=staff_user("planner"))

    assert (moved.pinned, moved.expected_arrival, moved.eta_published, moved.on_the_way_at) == (
        False,
        None,
        None,
        None,
    )
    assert moved.planned_start == local(12, 8)


@pytest.mark.django_db
def test_a_booking_next_to_a_job_pinned_in_time_keeps_the_pinned_time(vera, tuesday):
    technician = plumber()
    pinned = book(normal(), WEDNESDAY_8)
    services.job_pin(
        job=pinned, technician=technician, planned_start=local(11, 9), actor=staff_user("planner")
    )

    later = book(normal(latitude=52.1, longitude=5.13), WEDNESDAY_10)

    [(first, _, pinned_start), (second, _, later_start)] = route(technician, 11)
    assert (first, pinned_start, second) == (pinned.pk, local(11, 9), later.pk)
    # After the pinned 90 minutes from 09:00, not at 10:00 as an unpinned job allowed.
    assert later_start > local(11, 10) + timedelta(minutes=30)


# Cancelling an appointment.


@pytest.mark.django_db
def test_a_cancellation_re_times_the_day_and_leaves_the_request_bookable(
    vera, tuesday, django_capture_on_commit_callbacks
):
    technician = plumber()
    first, second = normal(), normal(latitude=52.1, longitude=5.13)
    job = book(first, WEDNESDAY_8)
    other = book(second, WEDNESDAY_10)
    events = event_snapshot()

    with django_capture_on_commit_callbacks() as callbacks:
        cancelled = services.appointment_cancel(
            job=job, actor=first.customer.user, channel="portal", reason="Zelf opgelost"
        )

    assert (cancelled.status, cancelled.outcome_note) == ("cancelled", "Zelf opgelost")
    assert route(technician, 11) == [(other.pk, 0, local(11, 10))]
    assert event_snapshot() == [*events, "appointment.cancelled"]
    event = Event.objects.get(activity="appointment.cancelled")
    assert (event.actor, event.channel, event.layer) == (first.customer.user, "portal", "digital")
    assert event.attributes == {
        "request": first.reference,
        "customer": first.customer_id,
        "job": job.pk,
        "technician": technician.pk,
        "window_start": "2026-03-11T07:00:00+00:00",
        "window_end": "2026-03-11T09:00:00+00:00",
        "reason": "Zelf opgelost",
        "self_service": True,
    }
    assert [callback.args for callback in callbacks] == [("2026-03-11",)]
    # In progress is where the intake's statuses allow it to stay, and it is bookable.
    first.refresh_from_db()
    assert first.status == "in_progress"
    assert WEDNESDAY_8 in windows(slot_offer_list(request=first, now=tuesday.now()))
    again = book(first, WEDNESDAY_8, actor=first.customer.user)
    assert (again.status, again.visit_start) == ("open", WEDNESDAY_8[0])
    assert Event.objects.filter(activity="appointment.booked").last().attributes["follow_up"] is False


@pytest.mark.django_db
def test_a_cancellation_frees_the_last_capacity(vera, tuesday):
    plumber(start=time(8), end=time(10))
    first, second = normal(), normal(latitude=52.1, longitude=5.13)
    job = book(first, WEDNESDAY_8)

    services.appointment_cancel(job=job, actor=None, channel="system")

    assert book(second, WEDNESDAY_8).visit_start == WEDNESDAY_8[0]


@pytest.mark.django_db
def test_an_overlong_cancellation_reason_is_refused(vera, tuesday):
    plumber()
    request = normal()
    job = book(request, WEDNESDAY_8)
    events = event_snapshot()

    with pytest.raises(ApplicationError) as raised:
        services.appointment_cancel(job=job, actor=None, channel="system", reason="x" * 1001)

    assert raised.value.field == "reason"
    assert str(raised.value.message) == str(services.MESSAGE_REASON_TOO_LONG % {"max": 1000})
    job.refresh_from_db()
    assert job.status == "open"
    assert event_snapshot() == events
    hostile = " <script>alert(1)</script>\x00" + "é" * 975 + "\n"
    services.appointment_cancel(job=job, actor=None, channel="system", reason=hostile)
    stored = "<script>alert(1)</script>" + "é" * 975
    assert len(stored) == 1000
    assert Event.objects.get(activity="appointment.cancelled").attributes["reason"] == stored
    job.refresh_from_db()
    assert (job.status, job.outcome_note) == ("cancelled", stored)


# A follow-up visit.


@pytest.mark.django_db
@pytest.mark.parametrize("outcome", ["not_fixed", "not_home"])
def test_after_a_visit_that_did_not_fix_it_a_follow_up_is_offered_and_booked(vera, tuesday, outcome):
    technician = plumber()
    request = reported(CEILING)  # urgent: today and tomorrow
    first = book(request, (local(10, 10), local(10, 12)), actor=request.customer.user)
    tuesday.set(local(10, 10))
    services.job_arrive(job=first, technician=technician, actor=technician.user)
    tuesday.set(local(10, 11))
    services.job_complete(job=first, status=outcome, actor=None, note="Onderdeel besteld")

    slots = slot_offer_list(request=request, now=tuesday.now())
    assert slots
    assert all(slot.start >= tuesday.now() for slot in slots)
    follow_up = book(request, (local(11, 8), local(11, 10)), actor=request.customer.user)

    assert (follow_up.status, follow_up.technician, follow_up.visit_start) == (
        "open",
        technician,
        local(11, 8),
    )
    first.refresh_from_db()
    assert first.status == outcome
    request.refresh_from_db()
    assert request.status == "in_progress"
    booked = list(Event.objects.filter(activity="appointment.booked").order_by("pk"))
    assert [(e.attributes["job"], e.attributes["follow_up"]) for e in booked] == [
        (first.pk, False),
        (follow_up.pk, True),
    ]
    assert {e.attributes["customer"] for e in booked} == {request.customer_id}


# The cut-off for customers.


def weekly_plumber():
    return plumber(weekdays=range(7))


# (appointment day, booked on, the cut-off in UTC): 17:00 local the day before.
CUTOFFS = [
    # Summer time starts on Sunday 29 March 2026: the day before is still winter time.
    (date(2026, 3, 29), date(2026, 3, 26), datetime(2026, 3, 28, 16, tzinfo=UTC)),
    (date(2026, 3, 30), date(2026, 3, 26), datetime(2026, 3, 29, 15, tzinfo=UTC)),
    # Winter time starts on Sunday 25 October 2026: the day before is still summer time.
    (date(2026, 10, 25), date(2026, 10, 22), datetime(2026, 10, 24, 15, tzinfo=UTC)),
    (date(2026, 10, 26), date(2026, 10, 22), datetime(2026, 10, 25, 16, tzinfo=UTC)),
]


def at_local(day, hour):
    return datetime.combine(day, time(hour), tzinfo=AMSTERDAM)


def booked_on(day, booked, *, request=None):
    """A normal request booked on `booked` for 10:00-12:00 on `day`."""
    with use_clock(FixedClock(at_local(booked, 9))):
        request = request or normal()
        return book(request, (at_local(day, 10), at_local(day, 12)))


@pytest.mark.django_db
@pytest.mark.parametrize(("day", "booked", "cutoff"), CUTOFFS, ids=lambda v: str(v)[:10])
def test_a_customer_can_change_until_the_cut_off_the_day_before_across_summer_time(vera, day, booked, cutoff):
    weekly_plumber()
    job = booked_on(day, booked)
    customer = job.request.customer.user
    target = (at_local(day + timedelta(days=3), 10), at_local(day + timedelta(days=3), 12))

    for change in (
        lambda: reschedule(job, target, actor=customer),
        lambda: services.appointment_cancel(job=job, actor=customer, channel="portal"),
    ):
        with use_clock(FixedClock(cutoff + timedelta(seconds=1))), pytest.raises(ApplicationError) as raised:
            change()
        assert raised.value.message == services.MESSAGE_CHANGE_TOO_LATE % {"time": "17:00"}
    job.refresh_from_db()
    assert (job.status, job.visit_start) == ("open", at_local(day, 10))

    with use_clock(FixedClock(cutoff)):
        moved = reschedule(job, target, actor=customer)
    assert moved.visit_start == target[0]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["agent", "planner", "admin"])
def test_staff_change_after_the_cut_off(vera, role):
    weekly_plumber()
    day, booked, cutoff = CUTOFFS[0]
    first = booked_on(day, booked)
    second = booked_on(day, booked, request=normal(latitude=52.1, longitude=5.13))
    staff = staff_user(role)
    target = (at_local(day + timedelta(days=3), 10), at_local(day + timedelta(days=3), 12))

    with use_clock(FixedClock(cutoff + timedelta(hours=12))):  # the night before, 05:00
        moved = reschedule(first, target, actor=staff, channel="phone")
        cancelled = services.appointment_cancel(job=second, actor=staff, channel="phone", reason="Belde af")

    assert (moved.visit_start, cancelled.status) == (target[0], "cancelled")
    assert [
        e.attributes["self_service"]
        for e in Event.objects.filter(activity__in=["appointment.rescheduled", "appointment.cancelled"])
    ] == [False, False]


@pytest.mark.django_db
def test_without_a_cut_off_customers_change_until_the_visit(vera):
    PlanningSettings.objects.create(change_cutoff=None)
    weekly_plumber()
    day, booked, _cutoff = CUTOFFS[1]
    job = booked_on(day, booked)

    with use_clock(FixedClock(at_local(day, 7))):  # the morning of the visit
        cancelled = services.appointment_cancel(job=job, actor=job.request.customer.user, channel="portal")

    assert cancelled.status == "cancelled"


@pytest.mark.django_db
def test_the_cut_off_time_is_the_organisations(vera):
    PlanningSettings.objects.create(change_cutoff=time(12, 30))
    weekly_plumber()
    day, booked, _cutoff = CUTOFFS[1]  # Monday 30 March (summer time)
    job = booked_on(day, booked)

    with use_clock(FixedClock(at_local(day - timedelta(days=1), 12) + timedelta(minutes=31))):
        with pytest.raises(ApplicationError) as raised:
            services.appointment_cancel(job=job, actor=job.request.customer.user, channel="portal")

    assert str(raised.value.message) == str(services.MESSAGE_CHANGE_TOO_LATE % {"time": "12:30"})


# Properties: whatever is moved where, every open job is on exactly one route,
# in the stored order and at the stored times, and every offered block can be taken.

HORIZON = [date(2026, 3, 11) + timedelta(days=n) for n in range(14)]
PLACES = [(52.095, 5.125), (52.1, 5.13), (52.08, 5.10), (52.11, 5.15)]


def assert_plan_consistent(now):
    technicians = list(Technician.objects.order_by("pk"))
    travel = SourceTravel(travel_source_for(PlanningSettings.current()))
    routes, _jobs = route_states(
        technicians=technicians, days=HORIZON, now=now, zone=AMSTERDAM, travel=travel
    )
    on_routes = Counter(stop.job_id for state in routes for stop in state.route.stops)
    open_jobs = list(Job.objects.filter(status=Job.Status.OPEN))
    assert on_routes == Counter(job.pk for job in open_jobs)
    stored = {job.pk: job for job in open_jobs}
    for state in routes:
        assert state.feasible
        for position, (stop, start) in enumerate(zip(state.route.stops, state.starts, strict=True)):
            job = stored[stop.job_id]
            assert (job.route_position, job.planned_start) == (position, moment(start))
            assert job.visit_start <= job.planned_start <= job.visit_end


@pytest.mark.django_db
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    bookings=st.lists(st.integers(min_value=0, max_value=200), min_size=2, max_size=4),
    moves=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=3), st.integers(min_value=0, max_value=200), st.booleans()
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_moves_keep_every_job_on_exactly_one_route(vera, bookings, moves):
    with transaction.atomic(), use_clock(FixedClock(TUESDAY_MORNING)) as fixed:
        plumber(start=time(8), end=time(12), weekdays=(0, 2, 4))  # little room: moves compete
        plumber(start=time(9), end=time(16), weekdays=(1, 2, 3))
        jobs = []
        for number, choice in enumerate(bookings):
            request = normal(latitude=PLACES[number][0], longitude=PLACES[number][1])
            slots = slot_offer_list(request=request, now=fixed.now())
            if slots:
                slot = slots[choice % len(slots)]
                jobs.append(book(request, (slot.start, slot.end)))
        assert_plan_consistent(fixed.now())
        for which, choice, valid in moves:
            if not jobs:
                break
            job = Job.objects.get(pk=jobs[which % len(jobs)].pk)
            slots = slot_offer_list(request=job.request, now=fixed.now(), moving=job)
            before = list(
                Job.objects.order_by("pk").values_list("pk", "technician", "visit_start", "route_position")
            )
            if valid and slots:
                slot = slots[choice % len(slots)]
                moved = reschedule(job, (slot.start, slot.end), actor=staff_user("planner"))
                assert (moved.visit_start, moved.visit_end) == (slot.start, slot.end)
            else:
                with pytest.raises(ApplicationError):  # Saturdays are nobody's
                    reschedule(job, (local(14, 8), local(14, 10)), actor=staff_user("planner"))
                after = list(
                    Job.objects.order_by("pk").values_list(
                        "pk", "technician", "visit_start", "route_position"
                    )
                )
                assert after == before
            assert_plan_consistent(fixed.now())
            assert Job.objects.count() == len(jobs)
        transaction.set_rollback(True)


# Concurrency (PostgreSQL: row locks).


def race(first, second):
    """Run `first` and hold its transaction open, start `second`, let the
    first commit; each returns what it did."""
    first_done, commit_first = threading.Event(), threading.Event()
    outcomes: dict[str, str] = {}

    def attempt(name, action, hold):
        try:
            with use_clock(FixedClock(TUESDAY_MORNING)), transaction.atomic():
                action()
                if hold:
                    first_done.set()
                    commit_first.wait(timeout=20)
            outcomes[name] = "done"
        except ApplicationError as error:
            outcomes[name] = str(error.message)
        finally:
            first_done.set()
            connections.close_all()

    one = threading.Thread(target=attempt, args=("first", first, True))
    one.start()
    assert first_done.wait(timeout=20)
    two = threading.Thread(target=attempt, args=("second", second, False))
    two.start()
    two.join(timeout=2)  # with the locks it is waiting for the first to commit
    waited = two.is_alive()
    commit_first.set()
    one.join(timeout=20)
    two.join(timeout=20)
    return outcomes, waited


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks need PostgreSQL; .ci/run runs this suite on PostgreSQL too",
)


@pytest.mark.django_db(transaction=True)
@postgresql_only
def test_a_move_and_a_booking_racing_for_the_last_capacity_on_postgresql(vera):
    with use_clock(FixedClock(TUESDAY_MORNING)):
        plumber(start=time(8), end=time(10))
        first, second = normal(), normal(latitude=52.1, longitude=5.13)
        job = book(first, WEDNESDAY_8)

    outcomes, waited = race(lambda: reschedule(job, THURSDAY_8), lambda: book(second, THURSDAY_8))

    assert waited
    assert outcomes == {"first": "done", "second": str(services.MESSAGE_SLOT_TAKEN)}
    assert list(Job.objects.filter(status="open").values_list("request", "visit_start")) == [
        (first.pk, THURSDAY_8[0])
    ]


@pytest.mark.django_db(transaction=True)
@postgresql_only
def test_a_booking_and_a_move_racing_for_the_last_capacity_on_postgresql(vera):
    with use_clock(FixedClock(TUESDAY_MORNING)):
        plumber(start=time(8), end=time(10))
        first, second = normal(), normal(latitude=52.1, longitude=5.13)
        job = book(first, WEDNESDAY_8)

    outcomes, waited = race(lambda: book(second, THURSDAY_8), lambda: reschedule(job, THURSDAY_8))

    assert waited
    assert outcomes == {"first": "done", "second": str(services.MESSAGE_SLOT_TAKEN)}
    assert set(Job.objects.filter(status="open").values_list("request", "visit_start")) == {
        (first.pk, WEDNESDAY_8[0]),
        (second.pk, THURSDAY_8[0]),
    }


@pytest.mark.django_db(transaction=True)
@postgresql_only
def test_a_booking_waiting_on_a_move_gets_the_capacity_it_frees_on_postgresql(vera):
    with use_clock(FixedClock(TUESDAY_MORNING)):
        plumber(start=time(8), end=time(10))
        first, second = normal(), normal(latitude=52.1, longitude=5.13)
        job = book(first, WEDNESDAY_8)

    outcomes, waited = race(lambda: reschedule(job, THURSDAY_8), lambda: book(second, WEDNESDAY_8))

    assert waited
    assert outcomes == {"first": "done", "second": "done"}
    assert set(Job.objects.filter(status="open").values_list("request", "visit_start")) == {
        (first.pk, THURSDAY_8[0]),
        (second.pk, WEDNESDAY_8[0]),
    }


@pytest.mark.django_db(transaction=True)
@postgresql_only
def test_two_moves_of_one_job_on_postgresql(vera):
    with use_clock(FixedClock(TUESDAY_MORNING)):
        plumber(start=time(8), end=time(10))
        request = normal()
        job = book(request, WEDNESDAY_8)

    friday_8 = (local(13, 8), local(13, 10))
    outcomes, waited = race(lambda: reschedule(job, THURSDAY_8), lambda: reschedule(job, friday_8))

    assert waited
    assert outcomes == {"first": "done", "second": "done"}
    job.refresh_from_db()
    assert (job.visit_start, job.route_position) == (friday_8[0], 0)
    assert Job.objects.filter(visit_start__in=[WEDNESDAY_8[0], THURSDAY_8[0]]).count() == 0


def test_the_refusals_read_in_dutch():
    with translation.override("nl"):
        assert str(services.MESSAGE_CHANGE_TOO_LATE % {"time": "17:00"}) == (
            "Een afspraak kunt u wijzigen tot 17:00 uur op de dag ervoor. Bel ons om de afspraak te wijzigen."
        )
        assert (
            str(services.MESSAGE_APPOINTMENT_CLOSED)
            == "Deze afspraak heeft al plaatsgevonden of is geannuleerd."
        )
        assert str(services.MESSAGE_VISIT_UNDER_WAY).startswith("De monteur is al met deze afspraak bezig")
        assert str(services.MESSAGE_NO_APPOINTMENT).startswith("Voor deze opdracht is geen afspraak")
        assert (
            str(services.MESSAGE_REASON_TOO_LONG % {"max": 1000})
            == "De reden mag hoogstens 1000 tekens lang zijn."
        )
