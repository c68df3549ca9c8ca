from collections.abc import Sequence

from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend

from klantreis.core import clock


class OutboxBackend(BaseEmailBackend):
    """Stores mail in the database instead of sending it (the demo's outbox)."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        from klantreis.core.models import OutboxMail

        for message in email_messages:
            html = ""
            if isinstance(message, EmailMultiAlternatives):
                html = next(
                    (str(content) for content, mimetype in message.alternatives if mimetype == "text/html"),
                    "",
                )
            OutboxMail.objects.create(
                sent_at=clock.now(),
                from_email=message.from_email,
                to=", ".join(message.to),
                subject=str(message.subject),
                body=str(message.body),
                html_body=html,
            )
        return len(email_messages)
