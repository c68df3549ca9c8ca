from django.tasks import task

from klantreis.messaging.models import Message
from klantreis.messaging.services import messages_send


@task()
def messages_send_task(message_ids: list[int]) -> int:
    """Send queued messages outside the request that created them (a webhook
    answers the provider at once; the next channel is tried here). Messages
    already sent by then are skipped, so running it twice sends nothing twice."""
    messages = list(Message.objects.filter(pk__in=message_ids, status=Message.Status.QUEUED))
    messages_send(messages=messages)
    return len(messages)
