"""The one interface every messaging channel speaks.

A channel turns `OutgoingMessage`s into sends at a provider (an SMTP server,
an SMS provider's REST API, WhatsApp Cloud API, the portal's inbox) and
turns the provider's delivery-status webhooks into `DeliveryReport`s. It
knows nothing of journeys, customers or the database: the messaging services
decide what to send and record what happened.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

DeliveryStatus = Literal["sent", "delivered", "read", "failed"]


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str


@dataclass(frozen=True)
class OutgoingMessage:
    """What to send. `idempotency_key` is stable across retries of the same
    send: e-mail uses it for the Message-ID, HTTP providers get it in the
    header or field their API offers for deduplication."""

    idempotency_key: str
    to: str  # an e-mail address, an E.164 phone number or a portal inbox id
    language: str
    subject: str
    text: str
    html: str = ""
    attachments: tuple[Attachment, ...] = ()
    status_callback_url: str = ""


@dataclass(frozen=True)
class SendResult:
    """The provider took the message. `final` is True when the channel has no
    later delivery report to wait for (SMTP acceptance, the portal inbox)."""

    provider_message_id: str
    final: bool = False


class ChannelError(Exception):
    """A send was refused or could not be made. `permanent` errors (bad
    number, rejected content, no consent at the provider) are not retried;
    others (timeouts, 5xx, rate limits) are, with backoff."""

    def __init__(self, message: str, *, permanent: bool, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after_seconds = retry_after_seconds


class WebhookError(Exception):
    """A delivery-status webhook that is not signed by the provider or cannot be read."""


@dataclass(frozen=True)
class DeliveryReport:
    """`client_reference`: our idempotency key where the provider echoes it
    back, so a report that arrives before the send's outcome is stored (and
    with it the provider's id) still finds its message."""

    provider_message_id: str
    status: DeliveryStatus
    occurred_at: datetime
    error: str = ""
    client_reference: str = ""


@dataclass(frozen=True)
class WebhookRequest:
    """The parts of an HTTP request a webhook parser needs (framework-free)."""

    method: str
    url: str  # the full URL the provider called, as it signed it
    headers: Mapping[str, str]  # header names lower-case
    body: bytes
    query: Mapping[str, str] = field(default_factory=dict)


class Channel(Protocol):
    name: str

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[SendResult | ChannelError]:
        """Send each message; one result per message, in order. Never raises
        for a single message's failure: it is returned in its place."""
        ...

    def parse_webhook(self, request: WebhookRequest) -> list[DeliveryReport]:
        """Verify the provider's signature and read the delivery reports.
        Raises WebhookError when the signature or the payload is wrong."""
        ...
