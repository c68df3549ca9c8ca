"""WhatsApp through Meta's WhatsApp Cloud API (Graph API).

Sending
    POST {base_url}/{api_version}/{phone_number_id}/messages with
    `Authorization: Bearer {access_token}` and a JSON body
    (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages,
    https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates).
    klantreis writes to customers first, which WhatsApp only allows with an
    approved message template, so every message is a `template` message:

        {"messaging_product": "whatsapp", "recipient_type": "individual",
         "to": "+31612345678", "type": "template",
         "template": {"name": <template_name>, "language": {"code": <code>},
                      "components": [{"type": "body", "parameters": [
                          {"type": "text", "text": <the rendered text>}]}]},
         "biz_opaque_callback_data": <idempotency key>}

    The template configured as `template_name` must therefore have a body
    with exactly one variable, `{{1}}`, that carries the whole rendered text,
    approved in every language used. The message's language picks the
    template language code through `template_languages` (default
    nl → "nl", en → "en"); a language without a mapping falls back to
    `default_language`'s code. Meta answers 200 with
    `{"messaging_product", "contacts": [...], "messages": [{"id": "wamid…"}]}`;
    `messages[0].id` is the provider message id.

Limits
    A template parameter may not contain newlines, tabs or more than four
    consecutive spaces (error 132018), so whitespace runs in the text become
    one space. A body parameter may be 1024 characters when the template has
    any component besides the body (32768 for a body-only template); the
    adapter cannot see the template, so it refuses text over 1024,
    counted in UTF-16 code units as emoji count double. `to` must be E.164.

Errors
    Graph errors are `{"error": {"message", "type", "code", "error_data":
    {"details"}, "fbtrace_id"}}`
    (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
    Meta answers throttling and transient trouble with HTTP 400 as often as
    with 429/5xx, so the error code decides first: 1, 2, 4, 80007, 130429,
    131000, 131016 and 131056 are retried; otherwise 429 and 5xx are
    retried (Retry-After honoured) and other 4xx are permanent.

Idempotency
    The Cloud API has no idempotency key: a request Meta accepted whose
    answer was lost is sent twice when retried. The key goes in
    `biz_opaque_callback_data` (at most 512 characters), which Meta does not
    process but returns in every status webhook for the message.

Delivery status
    Meta POSTs JSON to the app's webhook, signed in `X-Hub-Signature-256`:
    "sha256=" + hex HMAC-SHA256 of the raw body, keyed with the app secret
    (https://developers.facebook.com/docs/graph-api/webhooks/getting-started#validate-payloads).
    Statuses are read from `entry[].changes[].value.statuses[]` where
    `field` is "messages"
    (https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components):
    sent, delivered, read and failed (with `errors[]`) map to themselves,
    other statuses and inbound messages are ignored; `timestamp` (Unix
    seconds) is the report's time. The subscription handshake (GET with
    hub.mode=subscribe, hub.verify_token, hub.challenge) is answered by
    `verify_subscription`.
"""

import hashlib
import hmac
import http.client
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
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

DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v23.0"
DEFAULT_TEMPLATE_LANGUAGES = {"nl": "nl", "en": "en"}
MAX_PARAMETER_LENGTH = 1024  # UTF-16 code units, see the module docstring
MAX_CALLBACK_DATA_LENGTH = 512
SIGNATURE_HEADER = "x-hub-signature-256"

SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
CHALLENGE = re.compile(r"[!-~]{1,512}")  # printable ASCII, no spaces; Meta sends digits

# Graph error codes that mean "not now" whatever the HTTP status: API unknown
# or service trouble (1, 2), call-rate limits (4, 80007), throughput
# (130429), "something went wrong" / service unavailable (131000, 131016) and
# the per-recipient pair rate limit (131056).
RETRYABLE_ERROR_CODES = frozenset({1, 2, 4, 80007, 130429, 131000, 131016, 131056})

STATUSES: dict[str, DeliveryStatus] = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "failed": "failed",
}


class WhatsAppCloudChannel:
    name = "whatsapp"

    def __init__(
        self,
        *,
        phone_number_id: str,
        access_token: str,
        app_secret: str,
        template_name: str,
        template_languages: Mapping[str, str] | None = None,
        default_language: str = "nl",
        base_url: str = DEFAULT_BASE_URL,
        api_version: str = DEFAULT_API_VERSION,
        timeout_seconds: float = 10.0,
        verify_token: str = "",
        now: Callable[[], datetime] = clock.now,
    ) -> None:
        if not phone_number_id or not access_token or not app_secret or not template_name:
            raise ValueError("WhatsApp needs a phone number id, access token, app secret and template name")
        languages = dict(DEFAULT_TEMPLATE_LANGUAGES if template_languages is None else template_languages)
        if default_language not in languages:
            raise ValueError(f"WhatsApp default language {default_language!r} has no template language")
        if urllib.parse.urlsplit(base_url).scheme not in ("http", "https"):
            raise ValueError(f"WhatsApp base URL must be http(s): {base_url!r}")
        if not re.fullmatch(r"v[0-9]+\.[0-9]+", api_version):
            raise ValueError(f"WhatsApp API version looks like v23.0, not {api_version!r}")
        if timeout_seconds <= 0:
            raise ValueError("WhatsApp timeout must be positive")
        self._app_secret = app_secret.encode()
        self._template_name = template_name
        self._languages = languages
        self._default_language = default_language
        self._timeout = timeout_seconds
        self._now = now
        # Kept for the webhook view, which answers the subscription handshake.
        self.verify_token = verify_token
        number = urllib.parse.quote(phone_number_id, safe="")
        self._messages_url = f"{base_url.rstrip('/')}/{api_version}/{number}/messages"
        self._headers = {
            "Authorization": f"Bearer {access_token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self._opener = opener()

    @classmethod
    def from_settings(cls, options: Mapping[str, Any]) -> "WhatsAppCloudChannel":
        """Keys: phone_number_id, access_token, app_secret, template_name
        (required); template_languages, default_language, base_url,
        api_version, timeout_seconds, verify_token (optional)."""
        required = {"phone_number_id", "access_token", "app_secret", "template_name"}
        optional = {
            "template_languages",
            "default_language",
            "base_url",
            "api_version",
            "timeout_seconds",
            "verify_token",
        }
        options_check(options, provider="WhatsApp", known=required | optional, required=required)
        languages = options.get("template_languages", DEFAULT_TEMPLATE_LANGUAGES)
        return cls(
            phone_number_id=str(options["phone_number_id"]),
            access_token=str(options["access_token"]),
            app_secret=str(options["app_secret"]),
            template_name=str(options["template_name"]),
            template_languages={str(key): str(value) for key, value in dict(languages).items()},
            default_language=str(options.get("default_language", "nl")),
            base_url=str(options.get("base_url", DEFAULT_BASE_URL)),
            api_version=str(options.get("api_version", DEFAULT_API_VERSION)),
            timeout_seconds=float(options.get("timeout_seconds", 10.0)),
            verify_token=str(options.get("verify_token", "")),
        )

    # Sending

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[SendResult | ChannelError]:
        return [self._send(message) for message in messages]

    def template_language(self, language: str) -> str:
        """The template language code for a message language ("nl", "en-GB", …)."""
        for candidate in (language, language.replace("_", "-").split("-")[0].lower()):
            if candidate in self._languages:
                return self._languages[candidate]
        return self._languages[self._default_language]

    def _send(self, message: OutgoingMessage) -> SendResult | ChannelError:
        text = " ".join(message.text.split())
        refusal = _refusal(message, text)
        if refusal:
            return ChannelError(refusal, permanent=True)
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": message.to,
            "type": "template",
            "template": {
                "name": self._template_name,
                "language": {"code": self.template_language(message.language)},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": text}]}],
            },
            "biz_opaque_callback_data": message.idempotency_key,
        }
        try:
            answer = post(
                self._opener,
                self._messages_url,
                data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
                headers=self._headers,
                timeout=self._timeout,
            )
        except (OSError, http.client.HTTPException) as error:
            # Timeouts, refused and reset connections, TLS failures. Meta may
            # have accepted the message already; a retry can send it twice.
            return ChannelError(f"WhatsApp Cloud API could not be reached: {error!r}", permanent=False)
        if not answer.ok:
            return self._error(answer.status, answer.headers, answer.body)
        message_id = _message_id(answer.body)
        if message_id is None:
            # Meta said yes, so the message may be on its way: a retry could
            # send it twice, which is worse than asking an admin to look.
            return ChannelError(
                f"WhatsApp answered HTTP {answer.status} without a readable message id; not retried",
                permanent=True,
            )
        return SendResult(provider_message_id=message_id)

    def _error(self, status: int, headers: Message, body: bytes) -> ChannelError:
        code, detail = _graph_error(body)
        message = f"WhatsApp refused the message (HTTP {status}): {detail}"
        if code in RETRYABLE_ERROR_CODES or status == 429 or status >= 500:
            retry_after = retry_after_seconds(headers, self._now())
            return ChannelError(message, permanent=False, retry_after_seconds=retry_after)
        return ChannelError(message, permanent=True)

    # Delivery status

    def parse_webhook(self, request: WebhookRequest) -> list[DeliveryReport]:
        if request.method.upper() != "POST":
            raise WebhookError(f"WhatsApp webhooks are POSTs, not {request.method} (see verify_subscription)")
        header = request.headers.get(SIGNATURE_HEADER, "")
        if not header:
            raise WebhookError("WhatsApp webhook without X-Hub-Signature-256")
        signature = SIGNATURE.fullmatch(header.strip())
        if signature is None:
            raise WebhookError("WhatsApp webhook signature is not sha256=<hex>")
        expected = hmac.new(self._app_secret, request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature.group(1).lower(), expected):
            raise WebhookError("WhatsApp webhook signature does not match")
        try:
            payload = json.loads(request.body)
        except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
            raise WebhookError(f"WhatsApp webhook is not JSON: {error}") from error
        return _reports(payload)


def verify_subscription(query: Mapping[str, str], verify_token: str) -> str:
    """Answer Meta's webhook subscription handshake: the challenge to echo back
    as the response body, when mode and token are right.
    https://developers.facebook.com/docs/graph-api/webhooks/getting-started#verification-requests"""
    if not verify_token:
        raise WebhookError("No WhatsApp verify token is configured")
    if query.get("hub.mode") != "subscribe":
        raise WebhookError("WhatsApp subscription request without hub.mode=subscribe")
    if not hmac.compare_digest(query.get("hub.verify_token", "").encode(), verify_token.encode()):
        raise WebhookError("WhatsApp subscription request with the wrong verify token")
    challenge = query.get("hub.challenge", "")
    if not CHALLENGE.fullmatch(challenge):
        raise WebhookError("WhatsApp subscription request without a usable hub.challenge")
    return challenge


def _refusal(message: OutgoingMessage, text: str) -> str:
    if not E164.fullmatch(message.to):
        return f"WhatsApp needs an E.164 phone number (like +31612345678), not {message.to!r}"
    if not text:
        return "WhatsApp text is empty"
    try:
        length = len(text.encode("utf-16-le")) // 2
        message.idempotency_key.encode("utf-8")
    except UnicodeEncodeError:
        return "WhatsApp text or key is not valid Unicode"
    if length > MAX_PARAMETER_LENGTH:
        return f"WhatsApp text is {length} characters; a template parameter takes {MAX_PARAMETER_LENGTH}"
    if len(message.idempotency_key) > MAX_CALLBACK_DATA_LENGTH:
        return f"Idempotency key is over the {MAX_CALLBACK_DATA_LENGTH} characters WhatsApp keeps for it"
    return ""


def _reports(payload: Any) -> list[DeliveryReport]:
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        raise WebhookError("Not a WhatsApp Business Account webhook")
    reports = []
    for entry in _list(payload, "entry"):
        for change in _list(entry, "changes"):
            if not isinstance(change, dict):
                raise WebhookError("WhatsApp webhook change is not an object")
            if change.get("field") != "messages":
                continue
            value = change.get("value")
            if not isinstance(value, dict):
                raise WebhookError("WhatsApp webhook change without a value object")
            for status in _list(value, "statuses", required=False):
                report = _report(status)
                if report is not None:
                    reports.append(report)
    return reports


def _report(status: Any) -> DeliveryReport | None:
    if not isinstance(status, dict):
        raise WebhookError("WhatsApp status is not an object")
    name = status.get("status")
    if not isinstance(name, str):
        raise WebhookError("WhatsApp status without a status name")
    mapped = STATUSES.get(name)
    if mapped is None:
        return None
    message_id, timestamp = status.get("id"), status.get("timestamp")
    if not isinstance(message_id, str) or not message_id:
        raise WebhookError("WhatsApp status without a message id")
    # Meta sends Unix seconds as a string; a bare number is read the same way.
    if isinstance(timestamp, int) and not isinstance(timestamp, bool):
        timestamp = str(timestamp)
    if not isinstance(timestamp, str) or not timestamp.isdigit() or len(timestamp) > 12:
        raise WebhookError(f"WhatsApp status with an unreadable timestamp: {timestamp!r}")
    error = ""
    if mapped == "failed":
        errors = status.get("errors")
        error = _status_error(errors[0] if isinstance(errors, list) and errors else None)
    reference = status.get("biz_opaque_callback_data")
    return DeliveryReport(
        provider_message_id=message_id,
        status=mapped,
        occurred_at=datetime.fromtimestamp(int(timestamp), tz=UTC),
        error=error,
        client_reference=reference[:80] if isinstance(reference, str) else "",
    )


def _status_error(error: Any) -> str:
    if not isinstance(error, dict):
        return "WhatsApp reported failed"
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else None
    text = details or error.get("message") or error.get("title") or ""
    return f"WhatsApp error {error.get('code', '?')}" + (f": {text}" if text else "")


def _list(container: dict[str, Any], key: str, *, required: bool = True) -> list[Any]:
    if not isinstance(container, dict):
        raise WebhookError(f"WhatsApp webhook: expected an object holding {key!r}")
    value = container.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise WebhookError(f"WhatsApp webhook: {key!r} is not a list")
    return value


def _message_id(body: bytes) -> str | None:
    if len(body) > MAX_RESPONSE_BYTES:
        return None
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return None
    messages = payload.get("messages") if isinstance(payload, dict) else None
    first = messages[0] if isinstance(messages, list) and messages else None
    message_id = first.get("id") if isinstance(first, dict) else None
    return message_id if isinstance(message_id, str) and message_id else None


def _graph_error(body: bytes) -> tuple[int | None, str]:
    try:
        payload = json.loads(body[:MAX_RESPONSE_BYTES])
    except (ValueError, RecursionError):
        payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return None, body[:200].decode("utf-8", errors="replace") or "no details"
    code = error.get("code") if isinstance(error.get("code"), int) else None
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else None
    text = str(error.get("message") or "no message") + (f" ({details})" if details else "")
    return code, text + (f" [Graph error {code}]" if code is not None else "")
