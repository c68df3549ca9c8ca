"""What the HTTP provider adapters share: one bounded POST without
redirects, Retry-After reading, option checking and the E.164 pattern."""

import http.client
import re
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any

E164 = re.compile(r"\+[1-9][0-9]{1,14}")
# A hostile or broken peer must not make us hold an unbounded answer in memory.
MAX_RESPONSE_BYTES = 1_000_000


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect from the API is a misconfigured base URL, not something to follow
    with a POST carrying credentials: it surfaces as the HTTPError it is."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(
        _RefuseRedirects(), urllib.request.HTTPSHandler(context=ssl.create_default_context())
    )


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes  # at most MAX_RESPONSE_BYTES + 1, so "too long" can be told
    headers: Message
    ok: bool


def post(
    client: urllib.request.OpenerDirector,
    url: str,
    *,
    data: bytes,
    headers: Mapping[str, str],
    timeout: float,
) -> Answer:
    """POST and read the answer, errors included. Raises OSError or
    HTTPException when the provider could not be reached (it may still have
    taken the message)."""
    # Callers only let http(s) base URLs through.
    request = urllib.request.Request(url, data=data, headers=dict(headers), method="POST")  # noqa: S310
    try:
        with client.open(request, timeout=timeout) as response:
            return Answer(response.status, response.read(MAX_RESPONSE_BYTES + 1), response.headers, True)
    except urllib.error.HTTPError as error:
        with error:
            try:
                body = error.read(MAX_RESPONSE_BYTES)
            except (OSError, http.client.HTTPException):
                body = b""
            return Answer(error.code, body, error.headers, False)


def retry_after(headers: Message, now: datetime) -> float | None:
    """Retry-After as seconds or as an HTTP date (RFC 9110 §10.2.3)."""
    value = (headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, (moment - now).total_seconds())


def options_check(options: Mapping[str, Any], *, provider: str, known: set[str], required: set[str]) -> None:
    unknown = set(options) - known
    if unknown:
        raise ValueError(f"Unknown {provider} option(s): {', '.join(sorted(unknown))}")
    missing = {key for key in required if not options.get(key)}
    if missing:
        raise ValueError(f"Missing {provider} option(s): {', '.join(sorted(missing))}")
