"""SMS through Twilio Programmable Messaging; see `channel` for the API it speaks."""

from klantreis.messaging.channels.sms_twilio.channel import TwilioSmsChannel

__all__ = ["TwilioSmsChannel"]
