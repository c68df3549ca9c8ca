"""Local stand-ins for the messaging providers' REST APIs.

Each fake is a real HTTP server (`ThreadingHTTPServer` in a thread on
127.0.0.1, on a free port) that answers as the provider's documented API
does: it checks the credentials and the request body, rejects what the real
API rejects with the real API's error shape, keeps the messages it accepted,
and builds correctly signed delivery-status webhooks for them, so tests can
post those to our webhook views.

Faults on demand, for retry tests:

- `fail_next(count, status=…)` answers the next calls with an error in the
  provider's shape (with Retry-After when asked);
- `delay_next(seconds)` holds the next answer. By default the message is
  accepted first and the answer comes late, which is the dangerous case: a
  client that timed out does not know its message went out.

Neither Twilio nor the WhatsApp Cloud API deduplicates sends by an
idempotency key or client reference, so neither fake does: the same message
sent twice is accepted twice, as it would be for real. `DEDUPLICATES` says so,
for tests that want to state what they rely on.

    with FakeTwilio() as twilio:
        channel = TwilioSmsChannel(base_url=twilio.base_url, **twilio.credentials())
        ...
        webhook = twilio.status_callback(twilio.accepted[0].sid, "delivered")
        channel.parse_webhook(webhook.as_request())
"""

import base64
import hashlib
import hmac
import json
import re
import secrets
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self

from klantreis.core import clock
from klantreis.messaging.channels.base import WebhookRequest

E164 = re.compile(r"\+[1-9][0-9]{1,14}")
MAX_REQUEST_BYTES = 1_000_000


@dataclass(frozen=True)
class RecordedRequest:
    """Every request a fake received, accepted or not."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-case
    body: bytes


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SignedWebhook:
    """A delivery-status webhook exactly as the provider would send it."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes

    def as_request(self) -> WebhookRequest:
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.url).query, keep_blank_values=True))
        return WebhookRequest(
            method=self.method,
            url=self.url,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self.body,
            query=query,
        )


@dataclass(frozen=True)
class _Failure:
    status: int
    code: int | None
    message: str | None
    retry_after: str | None
    body: bytes | None


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout tests) leaves a broken pipe behind:
        # that is the point of those tests, not an error worth printing.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    fake: "FakeProvider"

    def do_GET(self) -> None:  # noqa: N802
        self._answer("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._answer("POST")

    def _answer(self, method: str) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_REQUEST_BYTES:
            self._send(Response(413, b"Request Entity Too Large"))
            return
        body = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        self._send(self.fake.respond(method, self.path, headers, body))

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class FakeProvider:
    """The server, the request log and the fault switches every fake shares."""

    DEDUPLICATES: ClassVar[bool] = False

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self._failures: list[_Failure] = []
        self._delays: list[tuple[float, bool]] = []
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _QuietServer(("127.0.0.1", 0), handler)
        # A short poll interval keeps stop(), and so every test, quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name=type(self).__name__, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 503,
        code: int | None = None,
        message: str | None = None,
        retry_after: str | None = None,
        body: bytes | None = None,
    ) -> None:
        """Answer the next `count` requests with `status`, in the provider's
        error shape (`code`/`message` default to what the provider sends for
        that status), or with `body` as it is."""
        with self.lock:
            self._failures.extend(_Failure(status, code, message, retry_after, body) for _ in range(count))

    def delay_next(self, seconds: float, *, count: int = 1, before_processing: bool = False) -> None:
        """Hold the next `count` answers for `seconds`. The request is handled
        (and a message accepted) first, unless `before_processing`."""
        with self.lock:
            self._delays.extend((seconds, before_processing) for _ in range(count))

    def respond(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        with self.lock:
            self.requests.append(RecordedRequest(method, path, headers, body))
            failure = self._failures.pop(0) if self._failures else None
            delay = self._delays.pop(0) if self._delays else None
        if delay is not None and delay[1]:
            time.sleep(delay[0])
        if failure is None:
            response = self.handle(method, path, headers, body)
        elif failure.body is not None:
            response = Response(failure.status, failure.body, self._retry_after_header(failure))
        else:
            response = self.error(failure.status, failure.code, failure.message)
            response.headers.update(self._retry_after_header(failure))
        if delay is not None and not delay[1]:
            time.sleep(delay[0])
        return response

    @staticmethod
    def _retry_after_header(failure: _Failure) -> dict[str, str]:
        return {"Retry-After": failure.retry_after} if failure.retry_after is not None else {}

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        raise NotImplementedError

    def error(self, status: int, code: int | None = None, message: str | None = None) -> Response:
        raise NotImplementedError


def _json(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})}
    )


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2


# Twilio


@dataclass(frozen=True)
class AcceptedSms:
    sid: str
    account_sid: str
    to: str
    body: str
    sender: str  # From, or the pool number Twilio picks for a messaging service
    messaging_service_sid: str
    status_callback: str


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """X-Twilio-Signature as documented: base64(HMAC-SHA1(token, URL + sorted name+value pairs))."""
    data = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


class FakeTwilio(FakeProvider):
    """Twilio's Message resource: POST /2010-04-01/Accounts/{AccountSid}/Messages.json.

    https://www.twilio.com/docs/messaging/api/message-resource; error codes
    from https://www.twilio.com/docs/api/errors. HTTP Basic auth with the
    Account SID and Auth Token; form fields To (E.164), Body (at most 1600
    characters, emoji counting double), From (a sender the account owns) or
    MessagingServiceSid, optional StatusCallback (http(s) URL). Answers 201
    with the Message resource (status "queued", or "accepted" for a
    messaging service). No deduplication: Twilio has no idempotency key.
    """

    ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
    AUTH_TOKEN = "fake-twilio-auth-token"
    SENDER = "+3197010000001"
    MESSAGING_SERVICE_SID = "MG" + "fedcba9876543210" * 2

    def __init__(
        self,
        *,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        senders: Iterable[str] = (SENDER, "Klantreis"),
        messaging_service_sids: Iterable[str] = (MESSAGING_SERVICE_SID,),
    ) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.senders = tuple(senders)
        self.messaging_service_sids = tuple(messaging_service_sids)
        self.accepted: list[AcceptedSms] = []

    def credentials(self) -> dict[str, str]:
        return {"account_sid": self.account_sid, "auth_token": self.auth_token}

    def error(self, status: int, code: int | None = None, message: str | None = None) -> Response:
        defaults = {
            401: (20003, "Authenticate"),
            404: (20404, "The requested resource was not found"),
            429: (20429, "Too Many Requests"),
            500: (20500, "Internal Server Error"),
            503: (20503, "Service Unavailable"),
        }
        default_code, default_message = defaults.get(status, (status, "Error"))
        code = default_code if code is None else code
        return _json(
            status,
            {
                "code": code,
                "message": message or default_message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
        )

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        match = re.fullmatch(r"/2010-04-01/Accounts/([^/]+)/Messages\.json", urllib.parse.urlsplit(path).path)
        if match is None:
            return self.error(404)
        if method != "POST":
            return self.error(405, 20004, "Method not allowed")
        if not self._authenticated(headers.get("authorization", ""), urllib.parse.unquote(match[1])):
            return self.error(401)
        fields: dict[str, str] = {}
        if headers.get("content-type", "").split(";")[0].strip() == "application/x-www-form-urlencoded":
            try:
                fields = dict(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            except (UnicodeDecodeError, ValueError):
                return self.error(400, 21604, "Unreadable request body")
        to, text = fields.get("To", ""), fields.get("Body", "")
        sender, service = fields.get("From", ""), fields.get("MessagingServiceSid", "")
        callback = fields.get("StatusCallback", "")
        if not to:
            return self.error(400, 21604, "A 'To' phone number is required.")
        if not E164.fullmatch(to):
            return self.error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not sender and not service:
            return self.error(
                400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message."
            )
        if service and service not in self.messaging_service_sids:
            return self.error(400, 21705, f"The Messaging Service Sid {service} is invalid.")
        if sender and sender not in self.senders:
            return self.error(
                400,
                21606,
                f"The From phone number {sender} is not a valid, SMS-capable phone number for your account.",
            )
        if not text:
            return self.error(400, 21602, "Message body is required.")
        if _utf16_length(text) > 1600:
            return self.error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if callback and not _is_http_url(callback):
            return self.error(400, 21609, f"Invalid StatusCallback url: {callback}")
        message = AcceptedSms(
            sid="SM" + secrets.token_hex(16),
            account_sid=self.account_sid,
            to=to,
            body=text,
            sender=sender or self.senders[0],
            messaging_service_sid=service,
            status_callback=callback,
        )
        with self.lock:
            self.accepted.append(message)
        created = format_datetime(clock.now().astimezone(UTC), usegmt=True)
        return _json(
            201,
            {
                "account_sid": self.account_sid,
                "api_version": "2010-04-01",
                "body": text,
                "date_created": created,
                "date_sent": None,
                "date_updated": created,
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": sender or None,
                "messaging_service_sid": service or None,
                "num_media": "0",
                "num_segments": "1",
                "price": None,
                "price_unit": "USD",
                "sid": message.sid,
                "status": "accepted" if service else "queued",
                "subresource_uris": {
                    "media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{message.sid}/Media.json"
                },
                "to": to,
                "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{message.sid}.json",
            },
        )

    def _authenticated(self, authorization: str, path_account: str) -> bool:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except ValueError:
            return False
        return (
            hmac.compare_digest(user, self.account_sid)
            and hmac.compare_digest(password, self.auth_token)
            and path_account == self.account_sid
        )

    def message(self, sid: str) -> AcceptedSms:
        with self.lock:
            for message in self.accepted:
                if message.sid == sid:
                    return message
        raise LookupError(f"FakeTwilio did not accept a message {sid}")

    def status_callback(
        self,
        sid: str,
        status: str,
        *,
        error_code: str = "",
        url: str | None = None,
        overrides: Mapping[str, str | None] | None = None,
    ) -> SignedWebhook:
        """The status callback Twilio POSTs for an accepted message: form
        fields as documented, signed with the auth token over the message's
        StatusCallback URL (or `url`). `overrides` sets (or, with None,
        removes) fields before signing."""
        message = self.message(sid)
        url = url or message.status_callback
        if not url:
            raise ValueError(f"{sid} was sent without a StatusCallback; pass url=")
        params = {
            "AccountSid": message.account_sid,
            "ApiVersion": "2010-04-01",
            "From": message.sender,
            "MessageSid": sid,
            "MessageStatus": status,
            "SmsSid": sid,
            "SmsStatus": status,
            "To": message.to,
        }
        if message.messaging_service_sid:
            params["MessagingServiceSid"] = message.messaging_service_sid
        if error_code:
            params["ErrorCode"] = error_code
        for name, value in (overrides or {}).items():
            if value is None:
                params.pop(name, None)
            else:
                params[name] = value
        return self.signed_callback(url, params)

    def signed_callback(self, url: str, params: Mapping[str, str]) -> SignedWebhook:
        return SignedWebhook(
            method="POST",
            url=url,
            headers={
                "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                "X-Twilio-Signature": twilio_signature(self.auth_token, url, params),
                "I-Twilio-Idempotency-Token": secrets.token_hex(16),
                "User-Agent": "TwilioProxy/1.1",
            },
            body=urllib.parse.urlencode(params).encode(),
        )


def _is_http_url(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


# WhatsApp Cloud API


@dataclass(frozen=True)
class FakeTemplate:
    """An approved message template. A body parameter may hold 32768
    characters when the body is the only component, else 1024."""

    name: str
    languages: tuple[str, ...] = ("nl", "en")
    body_parameters: int = 1
    body_only: bool = True


@dataclass(frozen=True)
class AcceptedWhatsApp:
    id: str
    phone_number_id: str
    to: str
    template: str
    language: str
    parameters: tuple[str, ...]
    callback_data: str


WHITESPACE_DETAILS = "Param text cannot have new-line/tab characters or more than 4 consecutive spaces"


def hub_signature(app_secret: str, body: bytes) -> str:
    """X-Hub-Signature-256 as documented: "sha256=" + hex HMAC-SHA256(app secret, raw body)."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


class FakeWhatsAppCloud(FakeProvider):
    """Meta's Cloud API: POST /{version}/{phone_number_id}/messages.

    https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages;
    errors as https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes.
    Bearer token; JSON body with messaging_product "whatsapp", `to` (digits,
    optional +), and a `template` message naming an approved template and
    language, with as many body parameters as the template has (no newlines,
    tabs or more than four spaces in a row), and optional
    biz_opaque_callback_data (at most 512 characters). Only template
    messages are modelled: this fake answers other types with an error.
    Answers 200 with contacts[] and messages[0].id ("wamid."…). No
    deduplication: the Cloud API has no idempotency key.
    """

    PHONE_NUMBER_ID = "106540352242922"
    BUSINESS_ACCOUNT_ID = "102290129340398"
    DISPLAY_PHONE_NUMBER = "31970100000002"
    ACCESS_TOKEN = "fake-whatsapp-access-token"
    APP_SECRET = "fake-whatsapp-app-secret"
    TEMPLATE = "klantreis_bericht"

    def __init__(
        self,
        *,
        phone_number_id: str = PHONE_NUMBER_ID,
        access_token: str = ACCESS_TOKEN,
        app_secret: str = APP_SECRET,
        templates: Iterable[FakeTemplate] = (FakeTemplate(TEMPLATE),),
    ) -> None:
        super().__init__()
        self.phone_number_id = phone_number_id
        self.access_token = access_token
        self.app_secret = app_secret
        self.templates = {template.name: template for template in templates}
        self.accepted: list[AcceptedWhatsApp] = []

    def credentials(self) -> dict[str, str]:
        return {
            "phone_number_id": self.phone_number_id,
            "access_token": self.access_token,
            "app_secret": self.app_secret,
            "template_name": self.TEMPLATE,
        }

    def error(
        self, status: int, code: int | None = None, message: str | None = None, details: str = ""
    ) -> Response:
        defaults = {
            401: (190, "Invalid OAuth access token - Cannot parse access token"),
            429: (130429, "(#130429) Rate limit hit"),
            500: (131000, "(#131000) Something went wrong"),
            503: (2, "Service temporarily unavailable"),
        }
        default_code, default_message = defaults.get(status, (100, "(#100) Invalid parameter"))
        error: dict[str, Any] = {
            "message": message or default_message,
            "type": "OAuthException",
            "code": default_code if code is None else code,
            "fbtrace_id": "A" + secrets.token_urlsafe(16),
        }
        if details:
            error["error_data"] = {"messaging_product": "whatsapp", "details": details}
        return _json(status, {"error": error})

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        match = re.fullmatch(r"/(v[0-9]+\.[0-9]+)/([^/]+)/messages", urllib.parse.urlsplit(path).path)
        if match is None:
            return self.error(400, 2500, f"Unknown path components: {path}")
        if method != "POST":
            return self.error(400, 100, f"Unsupported {method.lower()} request.")
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token, self.access_token):
            return self.error(401)
        if urllib.parse.unquote(match[2]) != self.phone_number_id:
            return self.error(
                400,
                100,
                f"Unsupported post request. Object with ID '{match[2]}' does not exist, cannot be loaded due "
                "to missing permissions, or does not support this operation.",
            )
        try:
            payload = (
                json.loads(body) if headers.get("content-type", "").startswith("application/json") else {}
            )
        except (ValueError, RecursionError):
            payload = {}
        if not isinstance(payload, dict) or payload.get("messaging_product") != "whatsapp":
            return self.error(400, 100, "(#100) The parameter messaging_product is required.")
        to = payload.get("to")
        if not isinstance(to, str) or not re.fullmatch(r"\+?[1-9][0-9]{6,14}", to):
            return self.error(400, 100, "(#100) Invalid parameter", details=f"Invalid to: {to!r}")
        if payload.get("recipient_type", "individual") != "individual":
            return self.error(
                400, 100, "(#100) Invalid parameter", details="recipient_type must be individual"
            )
        if payload.get("type") != "template":
            return self.error(
                400, 100, "(#100) Invalid parameter", details="this fake models template messages"
            )
        callback_data = payload.get("biz_opaque_callback_data", "")
        if not isinstance(callback_data, str) or len(callback_data) > 512:
            return self.error(
                400, 100, "(#100) Param biz_opaque_callback_data must be at most 512 characters long."
            )
        return self._template(to, payload.get("template"), callback_data)

    def _template(self, to: str, template: Any, callback_data: str) -> Response:
        name = template.get("name") if isinstance(template, dict) else None
        language = template.get("language") if isinstance(template, dict) else None
        code = language.get("code") if isinstance(language, dict) else None
        if not isinstance(name, str) or not isinstance(code, str):
            return self.error(
                400, 131008, "(#131008) Required parameter is missing", details="template name/language"
            )
        known = self.templates.get(name)
        if known is None or code not in known.languages:
            return self.error(
                404,
                132001,
                "(#132001) Template name does not exist in the translation",
                details=f"template name ({name}) does not exist in {code}",
            )
        components = template.get("components", [])
        bodies = (
            [c for c in components if isinstance(c, dict) and c.get("type") == "body"]
            if isinstance(components, list)
            else []
        )
        parameters = bodies[0].get("parameters", []) if bodies else []
        if not isinstance(parameters, list) or len(parameters) != known.body_parameters:
            return self.error(
                400, 132000, "(#132000) Number of parameters does not match the expected number of params"
            )
        texts = []
        for parameter in parameters:
            text = (
                parameter.get("text")
                if isinstance(parameter, dict) and parameter.get("type") == "text"
                else None
            )
            if not isinstance(text, str) or not text:
                return self.error(
                    400, 131008, "(#131008) Required parameter is missing", details="parameter text"
                )
            if re.search(r"[\n\t]| {5,}", text):
                return self.error(
                    400,
                    132018,
                    "(#132018) There was an issue with the parameters in your template.",
                    details=WHITESPACE_DETAILS,
                )
            if _utf16_length(text) > (32768 if known.body_only else 1024):
                return self.error(400, 132005, "(#132005) Translated text too long")
            texts.append(text)
        message = AcceptedWhatsApp(
            id="wamid." + base64.b64encode(secrets.token_bytes(30)).decode(),
            phone_number_id=self.phone_number_id,
            to=to,
            template=name,
            language=code,
            parameters=tuple(texts),
            callback_data=callback_data,
        )
        with self.lock:
            self.accepted.append(message)
        return _json(
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
                "messages": [{"id": message.id, "message_status": "accepted"}],
            },
        )

    def message(self, message_id: str) -> AcceptedWhatsApp:
        with self.lock:
            for message in self.accepted:
                if message.id == message_id:
                    return message
        raise LookupError(f"FakeWhatsAppCloud did not accept a message {message_id}")

    def status_webhook(
        self,
        message_id: str,
        status: str,
        *,
        error_code: int = 131026,
        error_title: str = "Message undeliverable",
        error_details: str = "Message Undeliverable.",
        timestamp: datetime | None = None,
        url: str = "https://klantreis.example/webhooks/whatsapp",
    ) -> SignedWebhook:
        """The status webhook Meta POSTs for an accepted message, signed with the
        app secret; `failed` carries one error (code/title/details)."""
        message = self.message(message_id)
        moment = timestamp or clock.now()
        entry: dict[str, Any] = {
            "id": message_id,
            "status": status,
            "timestamp": str(int(moment.timestamp())),
            "recipient_id": message.to.lstrip("+"),
        }
        if message.callback_data:
            entry["biz_opaque_callback_data"] = message.callback_data
        if status in ("sent", "delivered", "read"):
            entry["pricing"] = {
                "billable": True,
                "pricing_model": "PMP",
                "category": "utility",
                "type": "regular",
            }
        if status == "failed":
            entry["errors"] = [
                {
                    "code": error_code,
                    "title": error_title,
                    "message": error_title,
                    "error_data": {"details": error_details},
                    "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
                }
            ]
        return self.signed_webhook(self.webhook_payload([entry]), url=url)

    def webhook_payload(self, statuses: list[Any]) -> dict[str, Any]:
        return {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": self.BUSINESS_ACCOUNT_ID,
                    "changes": [
                        {
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": self.DISPLAY_PHONE_NUMBER,
                                    "phone_number_id": self.phone_number_id,
                                },
                                "statuses": statuses,
                            },
                            "field": "messages",
                        }
                    ],
                }
            ],
        }

    def signed_webhook(
        self, payload: Any, *, url: str = "https://klantreis.example/webhooks/whatsapp"
    ) -> SignedWebhook:
        """Any payload (an object, or raw bytes as they are) signed as Meta signs."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return SignedWebhook(
            method="POST",
            url=url,
            headers={
                "Content-Type": "application/json",
                "X-Hub-Signature-256": hub_signature(self.app_secret, body),
                "User-Agent": "facebookexternalua",
            },
            body=body,
        )
