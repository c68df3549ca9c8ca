"""The flagship repair journey end to end through the real services, with
the clock moved forward and mail counted at a real SMTP server:

report → book → confirmation (with .ics) → reschedule → the reminder fires
at the moved time, not the old one → on my way with ETA → not fixed →
follow-up booked → completed → survey link two hours later → low score →
callback task.
"""

import re
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import icalendar
import pytest

from klantreis.accounts.services import entry_link_read
from klantreis.core.clock import FixedClock, use_clock
from klantreis.customers.tests.factories import CustomerFactory, HomeFactory
from klantreis.events.models import Event
from klantreis.feedback.services import survey_answer
from klantreis.intake.models import VeraCode
from klantreis.intake.services import request_create
from klantreis.intake.tests.factories import TriageTreeFactory
from klantreis.journeys.dispatch import dispatch, touchpoints_run
from klantreis.journeys.models import StaffTask
from klantreis.journeys.services import definitions_install_defaults, events_consume
from klantreis.planning import services as planning
from klantreis.planning.models import Job, WorkingHours
from klantreis.planning.plan import slot_offer_list
from klantreis.planning.tests.factories import FirmFactory, TechnicianFactory

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
TAP = {"flooding": "no", "where": "tap"}  # normal urgency, specialism LOA, 30 minutes in the test tree


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=AMSTERDAM)


def journeys_run() -> None:
    """What `manage.py run_journeys` does in one round (batches carried out here)."""
    events_consume()
    dispatch(batch_size=50, run=lambda claim: touchpoints_run(claim=claim))


def mails(sink, subject_part: str) -> list[EmailMessage]:
    return [m for m in sink.messages if subject_part in m["Subject"]]


def body(mail: EmailMessage) -> str:
    return mail.get_body(("plain",)).get_content()


@pytest.mark.django_db
def test_the_flagship_repair_journey(vera, smtp_server) -> None:
    clock = FixedClock(local(9, 9, 0))  # Monday morning
    with use_clock(clock):
        definitions_install_defaults()
        loa = VeraCode.objects.get(kind="ONDERHOUDSPECIALISME", code="LOA")
        technician = TechnicianFactory(
            firm=FirmFactory(kind="in_house"), specialisms=[loa], start_latitude=52.09, start_longitude=5.12
        )
        for weekday in range(5):
            WorkingHours.objects.create(
                technician=technician, weekday=weekday, start=time(7, 30), end=time(16)
            )
        customer = CustomerFactory(
            email="tenant@example.nl", user__language="en", home=HomeFactory(latitude=52.095, longitude=5.125)
        )

        # Report.
        request = request_create(
            actor=customer.user,
            customer=customer,
            home=customer.homes.get(),
            channel="portal",
            tree=TriageTreeFactory(),
            answers=TAP,
            defect_location_code="BAD",
            description="The kitchen tap drips",
        )
        journeys_run()
        assert len(mails(smtp_server, "We received your request")) == 1

        # Book a block on Tuesday → confirmation with a calendar file.
        offers = slot_offer_list(request=request, now=clock.now())
        tuesday = next(o for o in offers if o.start.astimezone(AMSTERDAM).date() == local(10, 0).date())
        job = planning.appointment_book(
            request=request,
            window_start=tuesday.start,
            window_end=tuesday.end,
            actor=customer.user,
            channel="portal",
        )
        journeys_run()
        (confirmation,) = mails(smtp_server, "Your appointment")
        ics = next(p for p in confirmation.iter_attachments() if p.get_content_type() == "text/calendar")
        entry = icalendar.Calendar.from_ical(ics.get_payload(decode=True)).walk("VEVENT")[0]
        assert entry.decoded("dtstart") == tuesday.start
        assert entry.decoded("dtend") == tuesday.end
        # The links sign the tenant in and open their request or the appointment page.
        tokens = re.findall(r"/portal/go/([^/\s]+)/", body(confirmation))
        assert tokens
        for token in tokens:
            link = entry_link_read(token=token)
            assert (link.user, link.reference) == (customer.user, request.reference)
        assert {entry_link_read(token=token).target for token in tokens} <= {"request", "appointment"}

        # The customer moves it to Wednesday.
        offers = slot_offer_list(request=request, now=clock.now())
        wednesday = next(o for o in offers if o.start.astimezone(AMSTERDAM).date() == local(11, 0).date())
        planning.appointment_reschedule(
            job=job,
            window_start=wednesday.start,
            window_end=wednesday.end,
            actor=customer.user,
            channel="portal",
        )
        journeys_run()
        assert len(mails(smtp_server, "Your appointment has moved")) == 1

        # The evening before the old date: no reminder.
        clock.set(local(9, 18, 5))
        journeys_run()
        assert mails(smtp_server, "The technician comes tomorrow") == []
        # The evening before the new date: the reminder.
        clock.set(local(10, 18, 0))
        journeys_run()
        (reminder,) = mails(smtp_server, "The technician comes tomorrow")
        assert "Wednesday" in body(reminder)

        # On the day: the technician sets off → "on my way" with the ETA.
        job.refresh_from_db()
        clock.set(max(job.visit_start - timedelta(minutes=20), local(11, 7, 45)))
        planning.technician_on_the_way(
            job=job, technician=technician, actor=technician.user, latitude=52.09, longitude=5.12
        )
        journeys_run()
        (on_the_way,) = mails(smtp_server, "on the way")
        eta = Event.objects.filter(activity="eta.updated").latest("id").attributes["eta"]
        assert datetime.fromisoformat(eta).astimezone(AMSTERDAM).strftime("%H:%M") in on_the_way["Subject"]

        # Not fixed → the follow-up is booked on site, the confirmation comes again.
        clock.advance(timedelta(minutes=20))
        planning.job_arrive(job=job, technician=technician, actor=technician.user)
        clock.advance(timedelta(hours=1))
        planning.job_complete(job=job, status=Job.Status.NOT_FIXED, actor=technician.user, note="part needed")
        offers = slot_offer_list(request=request, now=clock.now())
        follow_up = planning.appointment_book(
            request=request,
            window_start=offers[0].start,
            window_end=offers[0].end,
            actor=technician.user,
            channel="on_site",
        )
        journeys_run()
        assert len(mails(smtp_server, "Your appointment:")) == 2
        clock.advance(timedelta(hours=2))
        journeys_run()
        # The "not fixed" message was cancelled by the follow-up booking.
        assert mails(smtp_server, "not finished yet") == []

        # Completed → the survey link two hours later, not before.
        clock.set(follow_up.visit_start + timedelta(minutes=30))
        planning.job_complete(job=follow_up, status=Job.Status.FIXED, actor=technician.user)
        completed_at = clock.now()
        journeys_run()
        clock.set(completed_at + timedelta(hours=1, minutes=59))
        journeys_run()
        assert mails(smtp_server, "How was the repair") == []
        clock.set(completed_at + timedelta(hours=2))
        journeys_run()
        (survey,) = mails(smtp_server, "How was the repair")
        token = re.search(r"/survey/([^/\s]+)/", body(survey)).group(1)

        # A low score → a callback task for a person, due within one working day.
        survey_answer(token=token, scores={"csat": 2, "nps": 6, "ces": 3}, comment="Took three visits")
        journeys_run()
        (task,) = StaffTask.objects.all()
        assert task.queue == "callbacks"
        assert task.state == StaffTask.State.OPEN
        assert task.case_id == request.case_id
        assert clock.now() < task.deadline <= clock.now() + timedelta(days=3)

    activities = list(Event.objects.filter(case_id=request.case_id).values_list("activity", flat=True))
    for expected in [
        "journey.started",
        "message.sent",
        "message.delivered",
        "touchpoint.cancelled",
        "task.created",
    ]:
        assert expected in activities
    # Nothing went twice: one message per touchpoint occurrence.
    assert len(smtp_server.messages) == len({m["Message-ID"] for m in smtp_server.messages})
