"""WhatsApp through Meta's WhatsApp Cloud API; see `channel` for the API it speaks."""

from klantreis.messaging.channels.whatsapp_cloud.channel import WhatsAppCloudChannel, verify_subscription

__all__ = ["WhatsAppCloudChannel", "verify_subscription"]
