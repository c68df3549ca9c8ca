"""In-app messages: the message row itself is the inbox the portal shows."""

from collections.abc import Sequence

from klantreis.messaging.channels.base import (
    ChannelError,
    DeliveryReport,
    OutgoingMessage,
    SendResult,
    WebhookError,
    WebhookRequest,
)


class InAppChannel:
    name = "inapp"

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[SendResult | ChannelError]:
        return [SendResult(provider_message_id=message.idempotency_key, final=True) for message in messages]

    def parse_webhook(self, request: WebhookRequest) -> list[DeliveryReport]:
        raise WebhookError("the portal inbox has no webhook")
