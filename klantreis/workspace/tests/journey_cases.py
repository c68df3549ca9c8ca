"""Cases travelling through the shipped repair journey, made the way the
product makes them: a report through intake, events in the log, the journey
loop following the log and carrying out what is due (inline)."""

from django.db import transaction

from klantreis.customers.tests.factories import CustomerFactory
from klantreis.events.services import event_record
from klantreis.intake.models import RepairRequest
from klantreis.intake.services import request_create
from klantreis.journeys.dispatch import dispatch, touchpoints_run
from klantreis.journeys.models import JourneyDefinition, StaffTask
from klantreis.journeys.services import definitions_install_defaults, events_consume


def journeys_install() -> list[JourneyDefinition]:
    """Install the shipped journeys on a log that already has an event.

    The engine reads the log in id order and waits for a missing id (an event
    still being committed). On PostgreSQL the id sequence is not reset when a
    test's transaction rolls back, so a first event would look like one after
    a gap; installing after an event starts the cursor at that event's id."""
    with transaction.atomic():
        event_record(
            case_id="test:start", activity="test.started", actor=None, channel="system", layer="digital"
        )
    return definitions_install_defaults()


def journey_run() -> None:
    events_consume()
    dispatch(batch_size=50, run=lambda claim: touchpoints_run(claim=claim))


def reported(tree, customer=None) -> RepairRequest:
    customer = customer or CustomerFactory()
    return request_create(
        actor=customer.user,
        customer=customer,
        home=customer.homes.get(),
        channel="portal",
        tree=tree,
        answers={"flooding": "no", "where": "ceiling"},
        defect_location_code="BAD",
        description="Lek",
    )


def survey_answered(request: RepairRequest, score: int) -> None:
    with transaction.atomic():
        event_record(
            case_id=request.case_id,
            activity="survey.answered",
            actor=None,
            channel="portal",
            layer="digital",
            attributes={
                "request": request.reference,
                "score": score,
                "kind": "csat",
                "csat": score,
                "comment_given": True,
            },
        )


def callback_task(tree, *, customer=None, score: int = 1) -> StaffTask:
    """A report whose customer gave a low score: the journey makes a call-back task."""
    request = reported(tree, customer)
    survey_answered(request, score)
    journey_run()
    return StaffTask.objects.get(case_id=request.case_id)
