"""Conformance against a case the real journey engine ran: what the engine
does by the definition is what the replayed definition expects."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from klantreis.core.clock import FixedClock, use_clock
from klantreis.customers.tests.factories import CustomerFactory, HomeFactory
from klantreis.insights import mining
from klantreis.intake.models import VeraCode
from klantreis.intake.services import request_create
from klantreis.intake.tests.factories import TriageTreeFactory
from klantreis.journeys.dispatch import dispatch, touchpoints_run
from klantreis.journeys.models import JourneyDefinition
from klantreis.journeys.services import definitions_install_defaults, events_consume
from klantreis.planning import services as planning
from klantreis.planning.models import Job, WorkingHours
from klantreis.planning.plan import slot_offer_list
from klantreis.planning.tests.factories import FirmFactory, TechnicianFactory

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
TAP = {"flooding": "no", "where": "tap"}


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=AMSTERDAM)


def journeys_run() -> None:
    events_consume()
    dispatch(batch_size=50, run=lambda claim: touchpoints_run(claim=claim))


@pytest.mark.django_db
def test_a_journey_the_engine_ran_conforms(vera, smtp_server) -> None:
    clock = FixedClock(local(9, 9, 0))
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
        clock.set(local(9, 18, 0))
        journeys_run()
        job.refresh_from_db()
        clock.set(max(job.visit_start - timedelta(minutes=20), local(10, 7, 45)))
        planning.technician_on_the_way(
            job=job, technician=technician, actor=technician.user, latitude=52.09, longitude=5.12
        )
        journeys_run()
        clock.advance(timedelta(minutes=20))
        planning.job_arrive(job=job, technician=technician, actor=technician.user)
        journeys_run()
        clock.advance(timedelta(minutes=40))
        planning.job_complete(job=job, status=Job.Status.FIXED, actor=technician.user)
        completed_at = clock.now()
        journeys_run()
        clock.set(completed_at + timedelta(hours=2))
        journeys_run()
        clock.set(completed_at + timedelta(days=3))
        journeys_run()

        definition = JourneyDefinition.objects.get(key="repair", active=True)
        result = mining.conformance(definition=definition)
        graph = mining.directly_follows()

    # Received, confirmation, reminder, on the way and the survey all went as designed.
    assert len(smtp_server.messages) == 5
    assert (result.cases, result.fitting, result.deviations) == (1, 1, [])
    assert graph.start == {"request.reported": 1}
    assert graph.activities["message.sent"] == 5
    # The database's graph is pm4py's, counted from the same log.
    dfg, start, end = mining._pm4py().discover_dfg(
        mining.event_frame(),
        case_id_key=mining.CASE,
        activity_key=mining.ACTIVITY,
        timestamp_key=mining.TIMESTAMP,
    )
    assert graph.edges == dict(dfg)
    assert (graph.start, graph.end) == (dict(start), dict(end))
