"""Delivery-status webhooks from the messaging providers.

The provider calls these, not a person: no session, no CSRF token; the
provider's signature over the request is the only proof of who sent it, so
it is checked (by the channel) before anything is read into the database.
Answers are short and plain: 2xx once the reports are applied (replays
included, so the provider stops sending them), 403 for a missing or wrong
signature, 400 for a signed request we cannot read, 404 when the channel is
not configured, 413 for a body larger than any status webhook.
"""

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from klantreis.messaging.channels.base import Channel, WebhookError, WebhookRequest
from klantreis.messaging.channels.registry import channel_get
from klantreis.messaging.channels.sms_twilio import TwilioSmsChannel
from klantreis.messaging.channels.sms_twilio.channel import SIGNATURE_HEADER as TWILIO_SIGNATURE_HEADER
from klantreis.messaging.channels.whatsapp_cloud import WhatsAppCloudChannel, verify_subscription
from klantreis.messaging.channels.whatsapp_cloud.channel import SIGNATURE_HEADER as WHATSAPP_SIGNATURE_HEADER
from klantreis.messaging.models import Message
from klantreis.messaging.services import delivery_reports_apply

logger = logging.getLogger(__name__)

# A status webhook is a few hundred bytes (Meta batches, still far below this).
MAX_WEBHOOK_BYTES = 1_000_000


def _plain(text: str, *, status: int) -> HttpResponse:
    response = HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    return response


def _configured[C](name: str, kind: type[C]) -> C | None:
    """The channel configured as `name`, if it is served by this provider's class
    (an SMS channel served by another provider has no Twilio webhook)."""
    channel: Channel = channel_get(name)
    return channel if isinstance(channel, kind) else None


def _is_signature_refusal(error: WebhookError) -> bool:
    """Whether a channel refused the request's signature or sender rather than its content.

    Channels raise one error type for both. Their messages start with a fixed
    description, and only what follows a colon may echo the request (a parse
    error), so the fixed part alone decides and a body cannot steer it.
    """
    head = str(error).split(":", 1)[0].lower()
    return "signature" in head or "another account" in head


def _status_webhook(
    request: HttpRequest, *, name: str, channel: Channel, signature_header: str
) -> HttpResponse:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _plain(_("Unreadable Content-Length."), status=400)
    # Refused before a byte of the body is read.
    if length > MAX_WEBHOOK_BYTES:
        return _plain(_("Request too large."), status=413)
    if not request.headers.get(signature_header):
        return _plain(_("Signature missing or wrong."), status=403)
    body = request.read(MAX_WEBHOOK_BYTES + 1)
    if len(body) > MAX_WEBHOOK_BYTES:
        return _plain(_("Request too large."), status=413)
    webhook = WebhookRequest(
        method=request.method or "",
        # Behind a proxy the request's own host and scheme are not what the
        # provider called and signed: the public address is.
        url=settings.SITE_URL + request.get_full_path(),
        headers={header.lower(): value for header, value in request.headers.items()},
        body=body,
        query=request.GET.dict(),
    )
    try:
        reports = channel.parse_webhook(webhook)
    except WebhookError as error:
        if _is_signature_refusal(error):
            logger.warning("%s webhook refused: %s", name, error)
            return _plain(_("Signature missing or wrong."), status=403)
        logger.warning("%s webhook unreadable: %s", name, error)
        return _plain(_("Unreadable webhook."), status=400)
    delivery_reports_apply(channel=name, reports=reports)
    return _plain("", status=200)


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    """Twilio's status callback for an SMS (the StatusCallback of each send)."""
    channel = _configured(Message.Channel.SMS, TwilioSmsChannel)
    if channel is None:
        return _plain(_("Not found."), status=404)
    return _status_webhook(
        request, name=Message.Channel.SMS, channel=channel, signature_header=TWILIO_SIGNATURE_HEADER
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def whatsapp(request: HttpRequest) -> HttpResponse:
    """Meta's webhook for the WhatsApp Business Account: status updates (POST),
    and the subscription handshake (GET) when the webhook is set up in the app."""
    channel = _configured(Message.Channel.WHATSAPP, WhatsAppCloudChannel)
    if channel is None:
        return _plain(_("Not found."), status=404)
    if request.method == "GET":
        try:
            challenge = verify_subscription(request.GET.dict(), channel.verify_token)
        except WebhookError as error:
            logger.warning("WhatsApp subscription refused: %s", error)
            return _plain(_("Verification failed."), status=403)
        return _plain(challenge, status=200)
    return _status_webhook(
        request, name=Message.Channel.WHATSAPP, channel=channel, signature_header=WHATSAPP_SIGNATURE_HEADER
    )
