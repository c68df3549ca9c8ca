"""E-mail over Django's mail framework (SMTP in production, the outbox in the demo).

The idempotency key becomes the Message-ID, so a message repeated after a
crash between the SMTP server's acceptance and our commit carries the same
Message-ID and can be recognised as a duplicate by whoever receives it.
SMTP acceptance is as far as delivery can be followed: a send is final.
"""

import email.policy
import smtplib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from email.headerregistry import BaseHeader, HeaderRegistry
from email.policy import EmailPolicy, Policy
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend

from klantreis.messaging.channels.base import (
    ChannelError,
    DeliveryReport,
    OutgoingMessage,
    SendResult,
    WebhookError,
    WebhookRequest,
)

# How many parsed headers a registry keeps before it starts afresh.
PARSED_KEPT = 1024


class _HeaderClasses(HeaderRegistry):
    """The standard header registry, remembering what it made: the class per
    header name (Python's makes a new class for every header of every
    message, which was a third of the cost of building one), and the parsed
    header per name and value, since most headers of a batch's messages are
    the same (From, MIME-Version, the parts' Content-Type and encoding, the
    Date within a second). Parsed headers are immutable strings that folding
    only reads, so messages can share them."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}
        self._parsed: dict[tuple[str, str], BaseHeader] = {}

    def __call__(self, name: str, value: Any) -> Any:
        if type(value) is not str:
            return super().__call__(name, value)
        key = (name, value)
        parsed = self._parsed.get(key)
        if parsed is None:
            if len(self._parsed) >= PARSED_KEPT:
                self._parsed.clear()
            parsed = self._parsed[key] = super().__call__(name, value)
        return parsed

    def __getitem__(self, name: str) -> Any:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


_POLICIES: dict[EmailPolicy, EmailPolicy] = {}


class _Email(EmailMultiAlternatives):
    """Django's message, built under the policy the backend asks for
    (SMTP's line endings and all) with the remembering header registry."""

    def message(self, *, policy: "Policy[Any] | None" = email.policy.default) -> Any:
        if isinstance(policy, EmailPolicy):
            fast = _POLICIES.get(policy)
            if fast is None:
                fast = _POLICIES[policy] = policy.clone(header_factory=_HeaderClasses())
            policy = fast
        return super().message(policy=policy)


class EmailChannel:
    name = "email"

    def __init__(
        self, *, mailer: str = "default", from_email: str | None = None, connections: int = 4
    ) -> None:
        self.mailer = mailer
        self.from_email = from_email
        self.connections = max(1, connections)

    def _email(self, message: OutgoingMessage) -> EmailMultiAlternatives:
        mail = _Email(
            subject=message.subject,
            body=message.text,
            from_email=self.from_email or settings.DEFAULT_FROM_EMAIL,
            to=[message.to],
            headers={"Message-ID": f"<{message.idempotency_key}@klantreis>"},
        )
        if message.html:
            mail.attach_alternative(message.html, "text/html")
        for attachment in message.attachments:
            mail.attach(attachment.filename, attachment.content, attachment.mimetype)
        return mail

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[SendResult | ChannelError]:
        """Over SMTP a batch goes out over a few connections at once (each one
        waits on the server's replies most of the time); other backends (the
        demo outbox writes to the database) send in this thread."""
        parts = min(self.connections, len(messages) // 10)
        if parts <= 1 or not isinstance(mailers[self.mailer], SmtpBackend):
            return self._send_sequentially(messages)
        chunks = [messages[index::parts] for index in range(parts)]
        with ThreadPoolExecutor(max_workers=parts) as pool:
            done = list(pool.map(self._send_sequentially, chunks))
        results: list[SendResult | ChannelError] = [ChannelError("not sent", permanent=False)] * len(messages)
        for index, chunk_results in enumerate(done):
            results[index::parts] = chunk_results
        return results

    def _send_sequentially(self, messages: Sequence[OutgoingMessage]) -> list[SendResult | ChannelError]:
        results: list[SendResult | ChannelError] = []
        backend = mailers[self.mailer]
        try:
            backend.open()
        except (OSError, smtplib.SMTPException) as error:
            return [ChannelError(f"cannot reach the mail server: {error}", permanent=False) for _ in messages]
        try:
            for message in messages:
                try:
                    backend.send_messages([self._email(message)])
                except smtplib.SMTPRecipientsRefused as error:
                    results.append(ChannelError(f"address refused: {error.recipients}", permanent=True))
                except smtplib.SMTPResponseException as error:
                    permanent = 500 <= error.smtp_code < 600
                    results.append(
                        ChannelError(f"{error.smtp_code} {error.smtp_error!r}", permanent=permanent)
                    )
                except (TimeoutError, OSError, smtplib.SMTPException) as error:
                    results.append(ChannelError(f"mail server: {error}", permanent=False))
                    # The connection is gone: reopen for the rest.
                    try:
                        backend.close()
                        backend.open()
                    except (OSError, smtplib.SMTPException):
                        results.extend(
                            ChannelError("cannot reach the mail server", permanent=False)
                            for _ in messages[len(results) :]
                        )
                        break
                else:
                    results.append(SendResult(provider_message_id=message.idempotency_key, final=True))
        finally:
            try:
                backend.close()
            except (OSError, smtplib.SMTPException):
                pass
        return results

    def parse_webhook(self, request: WebhookRequest) -> list[DeliveryReport]:
        raise WebhookError("e-mail has no delivery webhook")
