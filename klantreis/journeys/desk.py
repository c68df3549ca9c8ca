"""The service desk in the portal: a customer's message about a case becomes a
task in the "desk" queue; a staff member's answer goes to the customer's
portal inbox, in their language, and closes the case's open desk tasks.

Both carry the key of the form they came from: a form sent twice (a double
click, a browser that resends) is carried out once, and the second time
gets the first one's outcome."""

from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from klantreis.accounts.models import User
from klantreis.core import clock
from klantreis.core.errors import ApplicationError
from klantreis.core.models import Organisation
from klantreis.customers.models import Customer
from klantreis.events.models import Event
from klantreis.events.services import event_record
from klantreis.journeys.models import JourneyInstance, StaffTask
from klantreis.journeys.services import staff_task_complete
from klantreis.journeys.timing import timing_compute, timing_parse
from klantreis.messaging.models import Message
from klantreis.messaging.services import MessageDraft, messages_prepare, messages_send

DESK_QUEUE = "desk"
DESK_DEADLINE = "event + 1wd"
DESK_MESSAGE_MAX = 2000

MESSAGE_DESK_EMPTY = _("Please write your message.")
MESSAGE_DESK_TOO_LONG = _("Please keep your message under %(max)d characters.")
MESSAGE_DESK_NUL = _("The message contains a character that cannot be stored.")


def _clean(text: str) -> str:
    text = text.strip()
    if not text:
        raise ApplicationError(MESSAGE_DESK_EMPTY, field="text")
    if len(text) > DESK_MESSAGE_MAX:
        raise ApplicationError(MESSAGE_DESK_TOO_LONG % {"max": DESK_MESSAGE_MAX}, field="text")
    if "\x00" in text:
        raise ApplicationError(MESSAGE_DESK_NUL, field="text")
    return text


def _serialised(customer: Customer) -> None:
    """One submission at a time per customer, so a repeat finds the first one."""
    Customer.objects.select_for_update().filter(pk=customer.pk).exists()


@transaction.atomic
def customer_message_send(
    *, customer: Customer, actor: User, case_id: str, reference: str, text: str, key: str
) -> StaffTask:
    """The customer's message to the desk: an event on the case and a task
    for a person, due one working day later."""
    text = _clean(text)
    _serialised(customer)
    sent = Event.objects.filter(
        case_id=case_id, activity="customer.message_sent", attributes__key=key
    ).values_list("pk", flat=True)
    repeat = StaffTask.objects.filter(
        case_id=case_id, queue=DESK_QUEUE, details__event__in=list(sent)
    ).first()
    if repeat is not None:
        return repeat
    now = clock.now()
    event = event_record(
        case_id=case_id,
        activity="customer.message_sent",
        actor=actor,
        channel=Event.Channel.PORTAL,
        layer=Event.Layer.DIGITAL,
        occurred_at=now,
        attributes={"request": reference, "text": text, "key": key},
    )
    zone = ZoneInfo(Organisation.current().time_zone)
    # The phone number of the task list comes from the case's journey, when it runs one.
    instance = JourneyInstance.objects.filter(case_id=case_id).order_by("-started_at", "-pk").first()
    return StaffTask.objects.create(
        instance=instance,
        queue=DESK_QUEUE,
        title_nl=f"Bericht van klant over {reference}",
        title_en=f"Message from the customer about {reference}",
        case_id=case_id,
        details={"request": reference, "message": text, "event": event.pk, "customer": customer.pk},
        deadline=timing_compute(timing_parse(DESK_DEADLINE), anchor=now, zone=zone),
        created_at=now,
    )


@transaction.atomic
def desk_message_answer(
    *, customer: Customer, actor: User, case_id: str, reference: str, text: str, key: str
) -> Message:
    """A staff member's answer to the customer, in the customer's portal
    inbox; the case's open desk tasks are done with it."""
    text = _clean(text)
    _serialised(customer)
    repeat = Message.objects.filter(idempotency_key=f"desk-{case_id}-{key}").first()
    if repeat is not None:
        return repeat
    with translation.override(customer.language):
        subject = gettext("Answer from the service desk about %(reference)s") % {"reference": reference}
    [message] = messages_prepare(
        drafts=[
            MessageDraft(
                idempotency_key=f"desk-{case_id}-{key}",
                customer=customer,
                case_id=case_id,
                source="desk",
                channels=[Message.Channel.INAPP],
                language=customer.language,
                subject=subject,
                text=text,
                essential=True,
            )
        ]
    )
    messages_send(messages=[message])
    message.refresh_from_db()
    event_record(
        case_id=case_id,
        activity="desk.message_sent",
        actor=actor,
        channel=Event.Channel.PORTAL,
        layer=Event.Layer.HUMAN,
        attributes={"request": reference, "text": text, "message": message.pk},
    )
    open_tasks = StaffTask.objects.filter(case_id=case_id, queue=DESK_QUEUE, state=StaffTask.State.OPEN)
    for task in open_tasks:
        staff_task_complete(task=task, actor=actor, note=text[:2000])
    return message
