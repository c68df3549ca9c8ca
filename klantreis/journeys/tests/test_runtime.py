"""The runtime on hand-made event logs: arming, re-timing, cancelling,
quiet hours, the frequency cap, and sending through a real SMTP server."""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from django.db import transaction

from klantreis.core.clock import FixedClock, use_clock
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.events.models import Event
from klantreis.events.services import event_record
from klantreis.journeys.dispatch import dispatch, touchpoints_claim, touchpoints_reap, touchpoints_run
from klantreis.journeys.management.commands.run_journeys import round_pause
from klantreis.journeys.models import JourneyInstance, JourneySettings, ScheduledTouchpoint
from klantreis.journeys.services import definitions_install_defaults, events_consume
from klantreis.messaging.models import Message

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
CASE = "M26-000001"


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=AMSTERDAM)


def record(activity: str, **attributes: Any) -> Event:
    with transaction.atomic():
        return event_record(
            case_id=CASE,
            activity=activity,
            actor=None,
            channel="system",
            layer="digital",
            attributes=attributes,
        )


def run() -> None:
    events_consume()
    dispatch(batch_size=50, run=lambda claim: touchpoints_run(claim=claim))


def due(touchpoint: str) -> list[datetime]:
    return [
        row.due_at.astimezone(AMSTERDAM)
        for row in ScheduledTouchpoint.objects.filter(
            touchpoint=touchpoint, state=ScheduledTouchpoint.State.SCHEDULED
        )
    ]


@pytest.fixture
def clock() -> Any:
    with use_clock(FixedClock(at(10, 9, 30))) as fixed:
        yield fixed


@pytest.fixture
def journey(db: None, clock: FixedClock) -> Any:
    definitions_install_defaults()
    return CustomerFactory(email="huurder@example.nl", user__language="nl")


def reported(customer: Any, urgency: str = "normal") -> None:
    record(
        "request.reported", request=CASE, customer=customer.pk, home=customer.homes.get().pk, urgency=urgency
    )


def booked(start: datetime, end: datetime, activity: str = "appointment.booked") -> None:
    record(activity, request=CASE, window_start=start.isoformat(), window_end=end.isoformat())


def test_a_report_starts_one_journey_pinned_to_the_active_version(journey: Any, smtp_server: Any) -> None:
    reported(journey)
    run()
    run()  # following the log again changes nothing
    instance = JourneyInstance.objects.get()
    assert (instance.key, instance.definition.version, instance.customer) == ("repair", 1, journey)
    assert Message.objects.filter(source="journey:repair:received").count() == 1
    assert len(smtp_server.messages) == 1
    mail = smtp_server.messages[0]
    assert mail["To"] == "huurder@example.nl"
    assert "We hebben uw melding ontvangen" in mail["Subject"]
    assert mail["Message-ID"] == Message.objects.get().message_id_header


def test_the_reminder_is_armed_the_evening_before_and_moves_with_a_reschedule(
    journey: Any, clock: FixedClock, smtp_server: Any
) -> None:
    reported(journey)
    booked(at(13, 10), at(13, 12))
    run()
    assert due("reminder") == [at(12, 18)]
    confirmation = [m for m in smtp_server.messages if "Uw afspraak" in m["Subject"]]
    assert len(confirmation) == 1
    ics = next(
        part for part in confirmation[0].iter_attachments() if part.get_content_type() == "text/calendar"
    )
    entry = icalendar.Calendar.from_ical(ics.get_payload(decode=True)).walk("VEVENT")[0]
    assert entry.decoded("dtstart") == at(13, 10)
    assert entry.decoded("dtend") == at(13, 12)
    assert entry["uid"] == f"{CASE}@klantreis"
    # A calendar entry is shared and synced: it links to the page behind the
    # sign-in, not to the signed link of the mail itself.
    assert "/portal/go/" in confirmation[0].get_body(("plain",)).get_content()
    assert str(entry["description"]).endswith(f"/portal/requests/{CASE}/")

    booked(at(17, 14), at(17, 16), activity="appointment.rescheduled")
    run()
    assert due("reminder") == [at(16, 18)]
    assert Event.objects.filter(activity="touchpoint.rescheduled").count() == 1

    clock.set(at(12, 18, 1))
    run()
    assert not any("Herinnering" in (m.get_body(("plain",)).get_content()) for m in smtp_server.messages)
    clock.set(at(16, 18, 0))
    run()
    reminders = Message.objects.filter(source="journey:repair:reminder")
    assert reminders.count() == 1
    assert reminders.get().status == Message.Status.DELIVERED


def test_a_cancellation_cancels_the_reminder(journey: Any, clock: FixedClock, smtp_server: Any) -> None:
    reported(journey)
    booked(at(13, 10), at(13, 12))
    run()
    record("appointment.cancelled", request=CASE)
    run()
    assert due("reminder") == []
    assert ScheduledTouchpoint.objects.get(touchpoint="reminder").state == ScheduledTouchpoint.State.CANCELLED
    clock.set(at(12, 18, 30))
    run()
    assert not Message.objects.filter(source="journey:repair:reminder").exists()


def test_nothing_is_sent_in_quiet_hours_except_for_emergencies(
    journey: Any, clock: FixedClock, smtp_server: Any
) -> None:
    clock.set(at(10, 22, 15))
    reported(journey)
    run()
    assert due("received") == [at(11, 8)]
    assert not smtp_server.messages
    clock.set(at(11, 8, 0))
    run()
    assert len(smtp_server.messages) == 1


def test_an_emergency_is_told_at_night(journey: Any, clock: FixedClock, smtp_server: Any) -> None:
    clock.set(at(10, 23, 40))
    reported(journey, urgency="emergency")
    run()
    assert len(smtp_server.messages) == 1


def test_quiet_hours_are_checked_again_when_a_row_waited(
    journey: Any, clock: FixedClock, smtp_server: Any
) -> None:
    reported(journey)
    events_consume()  # scheduled at 09:30, but no dispatcher ran until the night
    clock.set(at(10, 21, 30))
    run()
    assert not smtp_server.messages
    assert due("received") == [at(11, 8)]
    assert Event.objects.filter(activity="touchpoint.deferred", attributes__reason="quiet hours").exists()


def test_the_frequency_cap_defers_what_is_not_essential(
    journey: Any, clock: FixedClock, smtp_server: Any
) -> None:
    settings = JourneySettings.objects.create(cap_messages=1, cap_hours=24)
    reported(journey)  # "received" is essential: sent regardless
    record("visit.not_fixed", request=CASE)
    run()
    clock.advance(timedelta(hours=1))
    run()  # not_fixed is the first non-essential message today: within the cap
    sent = Message.objects.filter(source="journey:repair:not_fixed")
    assert sent.count() == 1  # the essential "received" did not count against the cap
    record("visit.not_home", request=CASE)
    clock.advance(timedelta(minutes=15))
    run()
    assert not Message.objects.filter(source="journey:repair:not_home").exists()
    deferred = ScheduledTouchpoint.objects.get(touchpoint="not_home")
    assert deferred.state == ScheduledTouchpoint.State.SCHEDULED
    assert deferred.due_at > clock.now() + timedelta(hours=20)
    assert settings.cap_messages == 1


def test_a_crashed_claim_is_given_back_and_carried_out_once(
    journey: Any, clock: FixedClock, smtp_server: Any
) -> None:
    reported(journey)
    events_consume()
    claim = touchpoints_claim(limit=10)
    assert claim is not None
    assert touchpoints_claim(limit=10) is None  # nothing left for another dispatcher
    clock.advance(timedelta(minutes=6))  # the worker holding the claim died
    assert touchpoints_reap() == 1
    run()
    assert touchpoints_run(claim=claim) == 0  # the dead worker's claim is void
    assert len(smtp_server.messages) == 1


def test_a_round_hands_out_full_batches_and_ends_after_a_partial_one(journey: Any, clock: FixedClock) -> None:
    reported(journey)
    events_consume()
    row = ScheduledTouchpoint.objects.get(touchpoint="received")
    for armed_by in range(1, 5):  # five due in all
        ScheduledTouchpoint.objects.create(
            instance=row.instance,
            touchpoint="received",
            armed_by=row.armed_by + armed_by,
            due_at=row.due_at,
            created_at=row.created_at,
        )
    batches: list[int] = []

    def hand_out(claim: str) -> None:
        batches.append(ScheduledTouchpoint.objects.filter(claim=claim).count())
        if len(batches) == 3:  # falls due while the round runs
            ScheduledTouchpoint.objects.create(
                instance=row.instance,
                touchpoint="received",
                armed_by=row.armed_by + 99,
                due_at=clock.now(),
                created_at=clock.now(),
            )

    assert dispatch(batch_size=2, run=hand_out) == 3
    assert batches == [2, 2, 1]
    # The latecomer waits for the next round instead of a batch of its own in this one.
    assert ScheduledTouchpoint.objects.filter(state=ScheduledTouchpoint.State.SCHEDULED).count() == 1
    assert dispatch(batch_size=2, run=hand_out) == 1
    assert batches == [2, 2, 1, 1]


def test_the_journey_ends_when_the_request_is_completed(
    journey: Any, clock: FixedClock, smtp_server: Any
) -> None:
    reported(journey)
    booked(at(13, 10), at(13, 12))
    run()
    completed = record("request.status_changed", request=CASE, to="completed")
    run()
    instance = JourneyInstance.objects.get()
    assert instance.state == JourneyInstance.State.ENDED
    assert due("reminder") == []
    [ended] = Event.objects.filter(activity="journey.ended")
    assert (ended.case_id, ended.occurred_at) == (CASE, completed.occurred_at)
    assert ended.attributes == {
        "journey": "repair",
        "version": instance.definition.version,
        "by": completed.pk,
        "cancelled": 1,  # the reminder
    }


@pytest.mark.parametrize(
    ("scores", "callbacks"),
    [
        ({"csat": 3, "nps": 4, "ces": 3}, 1),  # an NPS detractor at 4 or lower
        ({"csat": 3, "nps": 5, "ces": 2}, 1),  # hard to get done
        ({"csat": 3, "nps": 5, "ces": 3}, 0),  # nothing low enough
        ({"moment": 1}, 0),  # a moment question calls nobody back
    ],
    ids=["nps", "ces", "none", "moment"],
)
def test_the_callback_follows_any_low_score_of_the_survey(
    journey: Any, clock: FixedClock, scores: dict[str, int], callbacks: int
) -> None:
    reported(journey)
    kind = next(iter(scores))
    record("survey.answered", request=CASE, kind=kind, score=scores[kind], **scores)
    run()
    assert JourneyInstance.objects.get().staff_tasks.count() == callbacks


def test_a_survey_answer_with_a_low_score_creates_a_callback_task(journey: Any, clock: FixedClock) -> None:
    reported(journey)
    record("survey.answered", request=CASE, kind="csat", score=2, csat=2, nps=8, ces=5)
    record("survey.answered", request=CASE, kind="csat", score=4, csat=4, nps=8, ces=5)
    run()
    instance = JourneyInstance.objects.get()
    (task,) = instance.staff_tasks.all()
    assert task.details == {"request": CASE, "kind": "csat", "score": 2, "nps": 8, "ces": 5}
    assert task.queue == "callbacks"
    assert task.deadline == datetime(2026, 3, 11, 9, 30, tzinfo=AMSTERDAM).astimezone(UTC)
    assert Event.objects.filter(activity="task.created", layer="human").count() == 1


@pytest.mark.parametrize(
    ("read", "batches", "messages", "pause"),
    [
        (0, 0, 0, 0.5),  # nothing to do
        (3, 0, 0, 0.2),  # caught up: gather what falls due meanwhile
        (0, 1, 0, 0.2),
        (0, 0, 7, 0.2),
        (500, 0, 0, 0.0),  # a full page of events: more are waiting
        (0, 50, 0, 0.0),  # every batch of the round was full
        (0, 0, 200, 0.0),
    ],
)
def test_the_journey_loop_waits_only_when_it_has_caught_up(
    read: int, batches: int, messages: int, pause: float
) -> None:
    assert round_pause(read=read, batches=batches, messages=messages, gather=0.2, idle=0.5) == pause
