"""SMS through Twilio Programmable Messaging (REST API 2010-04-01).

Why Twilio. Of the providers looked at (Twilio, MessageBird/Bird, Vonage,
CM.com, Infobip, Sinch, Plivo, Telnyx, Messente), none documents send-side
deduplication on its SMS send endpoint together with webhook signatures the
standard library can check. Telnyx documents a general `Idempotency-Key`
header, but signs its webhooks with Ed25519, which needs a crypto
dependency. So, as decided beforehand for this case, Twilio.

Sending
    POST {base_url}/2010-04-01/Accounts/{AccountSid}/Messages.json
    https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource
    HTTP Basic auth (Account SID : Auth Token), form-encoded fields `To`
    (E.164), `Body`, `From` or `MessagingServiceSid`, and `StatusCallback`
    when the message has a status callback URL. Twilio answers 201 with the
    Message resource as JSON; its `sid` ("SM…") is the provider message id.
    Errors are JSON `{"code", "message", "more_info", "status"}`
    (https://www.twilio.com/docs/usage/twilios-response); 4xx other than 429
    are permanent, 429 and 5xx are retried (Retry-After honoured when sent).

Limits
    `Body` is at most 1600 characters (error 21617,
    https://www.twilio.com/docs/api/errors/21617). Twilio counts emoji and
    other characters outside the Basic Multilingual Plane as more than one,
    so the adapter counts UTF-16 code units, the stricter reading. `To` must
    be E.164: "+", a country code not starting with 0, 15 digits at most.
    SMS carries `text` only: subject, html and attachments are not sent.

Idempotency: retries can duplicate
    The Message resource has no idempotency key and no client-reference
    field. A POST that Twilio accepted but whose answer never arrived
    (timeout, connection reset, a 5xx from a proxy after acceptance) is sent
    again when the messaging services retry it, and the customer gets the SMS
    twice; Twilio does not deduplicate. The one field Twilio echoes back is
    the status callback URL, so the idempotency key travels there, as the
    query parameter `klantreis-ref`, which makes such duplicates visible in
    the delivery reports afterwards (the webhook view can read it from the
    URL; `DeliveryReport` has no field for it).

Delivery status
    Twilio POSTs form fields (`MessageSid`, `MessageStatus`, `ErrorCode`,
    `AccountSid`, …) to the StatusCallback URL
    (https://www.twilio.com/docs/messaging/guides/track-outbound-message-status),
    signed in `X-Twilio-Signature`: base64 of HMAC-SHA1, keyed with the Auth
    Token, over the full URL followed by every POST parameter's name and
    value, sorted by name
    (https://www.twilio.com/docs/usage/webhooks/webhooks-security). Like
    Twilio's own helper library, the signature is accepted for the URL with
    and without its default port, since Twilio may sign either. Statuses
    sent/delivered/read map to themselves, undelivered/failed/canceled to
    failed; queued, accepted, scheduled, sending and other in-between
    statuses are ignored. Twilio's status callbacks carry no event time:
    `occurred_at` is the time the callback is read (the klantreis clock).
"""

import base64
import hashlib
import hmac
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from email.message import Message
from typing import Any

from klantreis.core import clock
from klantreis.messaging.channels.base import (
    ChannelError,
    DeliveryReport,
    DeliveryStatus,
    OutgoingMessage,
    SendResult,
    WebhookError,
    WebhookRequest,
)
from klantreis.messaging.channels.http import E164, MAX_RESPONSE_BYTES, opener, options_check, post
from klantreis.messaging.channels.http import retry_after as retry_after_seconds

DEFAULT_BASE_URL = "https://api.twilio.com"
MAX_BODY_LENGTH = 1600  # UTF-16 code units, see the module docstring
REFERENCE_PARAMETER = "klantreis-ref"
SIGNATURE_HEADER = "x-twilio-signature"

STATUSES: dict[str, DeliveryStatus] = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "failed",
    "failed": "failed",
    "canceled": "failed",
}

# Twilio's callbacks have about a dozen fields; a thousand is not a status callback.
MAX_WEBHOOK_FIELDS = 1000


class TwilioSmsChannel:
    name = "sms"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        sender: str = "",
        messaging_service_sid: str = "",
        base_url: str = DEFAULT_BASE_URL,
        timeout_seconds: float = 10.0,
        now: Callable[[], datetime] = clock.now,
    ) -> None:
        if not account_sid or not auth_token:
            raise ValueError("Twilio needs an account SID and an auth token")
        if not sender and not messaging_service_sid:
            raise ValueError("Twilio needs a sender (From) or a messaging service SID")
        if urllib.parse.urlsplit(base_url).scheme not in ("http", "https"):
            raise ValueError(f"Twilio base URL must be http(s): {base_url!r}")
        if timeout_seconds <= 0:
            raise ValueError("Twilio timeout must be positive")
        self.account_sid = account_sid
        self._auth_token = auth_token
        self._sender = sender
        self._messaging_service_sid = messaging_service_sid
        self._timeout = timeout_seconds
        self._now = now
        account = urllib.parse.quote(account_sid, safe="")
        self._messages_url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account}/Messages.json"
        credentials = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode("ascii")
        self._headers = {
            "Authorization": f"Basic {credentials}",
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "Accept": "application/json",
        }
        self._opener = opener()

    @classmethod
    def from_settings(cls, options: Mapping[str, Any]) -> "TwilioSmsChannel":
        """Keys: account_sid, auth_token (required); sender and/or
        messaging_service_sid; base_url, timeout_seconds (optional)."""
        required = {"account_sid", "auth_token"}
        known = required | {"sender", "messaging_service_sid", "base_url", "timeout_seconds"}
        options_check(options, provider="Twilio", known=known, required=required)
        return cls(
            account_sid=str(options["account_sid"]),
            auth_token=str(options["auth_token"]),
            sender=str(options.get("sender", "")),
            messaging_service_sid=str(options.get("messaging_service_sid", "")),
            base_url=str(options.get("base_url", DEFAULT_BASE_URL)),
            timeout_seconds=float(options.get("timeout_seconds", 10.0)),
        )

    # Sending

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[SendResult | ChannelError]:
        return [self._send(message) for message in messages]

    def _send(self, message: OutgoingMessage) -> SendResult | ChannelError:
        refusal = _refusal(message)
        if refusal:
            return ChannelError(refusal, permanent=True)
        fields = {"To": message.to, "Body": message.text}
        if self._messaging_service_sid:
            fields["MessagingServiceSid"] = self._messaging_service_sid
        if self._sender:
            fields["From"] = self._sender
        if message.status_callback_url:
            fields["StatusCallback"] = _with_reference(message.status_callback_url, message.idempotency_key)
        try:
            answer = post(
                self._opener,
                self._messages_url,
                data=urllib.parse.urlencode(fields).encode("ascii"),
                headers=self._headers,
                timeout=self._timeout,
            )
        except (OSError, http.client.HTTPException) as error:
            # Timeouts, refused and reset connections, TLS failures. Twilio may
            # have accepted the message already; see "retries can duplicate".
            return ChannelError(f"Twilio could not be reached: {error!r}", permanent=False)
        if not answer.ok:
            return self._error(answer.status, answer.headers, answer.body)
        sid = _message_sid(answer.body)
        if sid is None:
            # Twilio said yes, so the SMS may be on its way: a retry could send
            # it twice, which is worse than asking an admin to look.
            return ChannelError(
                f"Twilio answered HTTP {answer.status} without a readable message sid; not retried",
                permanent=True,
            )
        return SendResult(provider_message_id=sid)

    def _error(self, status: int, headers: Message, body: bytes) -> ChannelError:
        detail = _twilio_error(body)
        message = f"Twilio refused the message (HTTP {status}): {detail}"
        if status == 429 or status >= 500:
            retry_after = retry_after_seconds(headers, self._now())
            return ChannelError(message, permanent=False, retry_after_seconds=retry_after)
        return ChannelError(message, permanent=True)

    # Delivery status

    def parse_webhook(self, request: WebhookRequest) -> list[DeliveryReport]:
        if request.method.upper() != "POST":
            raise WebhookError(f"Twilio status callbacks are POSTs, not {request.method}")
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not signature:
            raise WebhookError("Twilio status callback without X-Twilio-Signature")
        try:
            fields = urllib.parse.parse_qsl(
                request.body.decode("utf-8"),
                keep_blank_values=True,
                strict_parsing=True,
                max_num_fields=MAX_WEBHOOK_FIELDS,
            )
        except ValueError as error:  # also UnicodeDecodeError
            raise WebhookError(f"Twilio status callback is not a form: {error}") from error
        if not any(
            hmac.compare_digest(signature.encode(), expected.encode())
            for expected in (self._signature(url, fields) for url in _signed_url_variants(request.url))
        ):
            raise WebhookError("Twilio status callback signature does not match")
        values = dict(fields)
        if values.get("AccountSid") != self.account_sid:
            raise WebhookError("Twilio status callback for another account")
        sid, status = values.get("MessageSid", ""), values.get("MessageStatus", "")
        if not sid or not status:
            raise WebhookError("Twilio status callback without MessageSid or MessageStatus")
        mapped = STATUSES.get(status)
        if mapped is None:
            return []
        failure = ""
        if mapped == "failed":
            code, text = values.get("ErrorCode", ""), values.get("ErrorMessage", "")
            failure = f"Twilio {status}" + (f", error {code}" if code else "") + (f": {text}" if text else "")
        return [
            DeliveryReport(
                provider_message_id=sid,
                status=mapped,
                occurred_at=self._now(),
                error=failure,
                client_reference=request.query.get(REFERENCE_PARAMETER, "")[:80],
            )
        ]

    def _signature(self, url: str, fields: Sequence[tuple[str, str]]) -> str:
        signed = url + "".join(name + value for name, value in sorted(set(fields)))
        digest = hmac.new(self._auth_token.encode(), signed.encode("utf-8"), hashlib.sha1).digest()
        return base64.b64encode(digest).decode("ascii")


def _refusal(message: OutgoingMessage) -> str:
    if not E164.fullmatch(message.to):
        return f"SMS needs an E.164 phone number (like +31612345678), not {message.to!r}"
    if not message.text:
        return "SMS text is empty"
    try:
        length = len(message.text.encode("utf-16-le")) // 2
        message.idempotency_key.encode("utf-8")
        message.status_callback_url.encode("utf-8")
    except UnicodeEncodeError:
        return "SMS text, key or callback URL is not valid Unicode"
    if length > MAX_BODY_LENGTH:
        return f"SMS text is {length} characters; Twilio takes at most {MAX_BODY_LENGTH}"
    return ""


def _with_reference(url: str, key: str) -> str:
    parts = urllib.parse.urlsplit(url)
    reference = urllib.parse.urlencode({REFERENCE_PARAMETER: key})
    query = f"{parts.query}&{reference}" if parts.query else reference
    return urllib.parse.urlunsplit(parts._replace(query=query))


def _signed_url_variants(url: str) -> list[str]:
    """The URL as given, and with its default port added or removed."""
    parts = urllib.parse.urlsplit(url)
    default_port = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    try:
        port = parts.port
    except ValueError:
        return [url]
    if port is None and default_port is not None:
        return [url, urllib.parse.urlunsplit(parts._replace(netloc=f"{prefix}{host}:{default_port}"))]
    if port is not None and port == default_port:
        return [url, urllib.parse.urlunsplit(parts._replace(netloc=f"{prefix}{host}"))]
    return [url]


def _message_sid(body: bytes) -> str | None:
    if len(body) > MAX_RESPONSE_BYTES:
        return None
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    sid = payload.get("sid") if isinstance(payload, dict) else None
    return sid if isinstance(sid, str) and sid else None


def _twilio_error(body: bytes) -> str:
    try:
        payload = json.loads(body[:MAX_RESPONSE_BYTES])
    except ValueError:
        payload = None
    if isinstance(payload, dict) and "message" in payload:
        code = payload.get("code")
        return f"{payload['message']}" + (f" (Twilio error {code})" if code else "")
    return body[:200].decode("utf-8", errors="replace") or "no details"
