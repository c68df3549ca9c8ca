"""Which class serves each channel, from settings.MESSAGING_CHANNELS:

    MESSAGING_CHANNELS = {
        "email": {"BACKEND": "klantreis.messaging.channels.email.EmailChannel", "OPTIONS": {}},
        "sms": {"BACKEND": "...", "OPTIONS": {...}},
    }

A channel without an entry cannot be used; a message for it fails over to
the next channel of its policy.
"""

from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from klantreis.messaging.channels.base import (
    Channel,
    ChannelError,
    DeliveryReport,
    OutgoingMessage,
    SendResult,
    WebhookError,
    WebhookRequest,
)


class UnconfiguredChannel:
    def __init__(self, name: str) -> None:
        self.name = name

    def send_many(self, messages: Any) -> list[SendResult | ChannelError]:
        return [ChannelError(f"the {self.name} channel is not configured", permanent=True) for _ in messages]

    def parse_webhook(self, request: WebhookRequest) -> list[DeliveryReport]:
        raise WebhookError(f"the {self.name} channel is not configured")


def channel_get(name: str) -> Channel:
    config: dict[str, Any] | None = getattr(settings, "MESSAGING_CHANNELS", {}).get(name)
    if not config:
        return UnconfiguredChannel(name)
    backend = import_string(config["BACKEND"])
    options = config.get("OPTIONS", {})
    if hasattr(backend, "from_settings"):
        return backend.from_settings(options)  # type: ignore[no-any-return]
    return backend(**options)  # type: ignore[no-any-return]


__all__ = ["OutgoingMessage", "channel_get"]
