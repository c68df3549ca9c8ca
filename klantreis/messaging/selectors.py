"""Reads of sent messages: a customer's portal inbox and the demo's list of
everything sent."""

from django.db.models import Q, QuerySet

from klantreis.customers.models import Customer
from klantreis.messaging.models import Message

# What reached the inbox; queued rows are not there yet and failed ones never were.
INBOX_STATUSES = (Message.Status.SENT, Message.Status.DELIVERED, Message.Status.READ)


def inbox_message_list(*, customer: Customer, case_id: str = "") -> QuerySet[Message]:
    """The customer's own portal-inbox messages, newest first; `case_id`
    narrows them to one case."""
    messages = Message.objects.filter(
        customer=customer, channel=Message.Channel.INAPP, status__in=INBOX_STATUSES
    )
    if case_id:
        messages = messages.filter(case_id=case_id)
    return messages.order_by("-created_at", "-pk")


def message_list(*, to: str = "") -> QuerySet[Message]:
    """Every message of every channel, newest first; `to` narrows it to a
    recipient (an address, a number or, for the portal inbox, the customer's name)."""
    messages = Message.objects.select_related("customer").order_by("-created_at", "-pk")
    if to:
        messages = messages.filter(Q(recipient__icontains=to) | Q(customer__name__icontains=to))
    return messages
