"""The delivery-status webhooks, end to end: a message sent through
`messages_send` to a local fake provider, then the provider's own signed
webhook posted to our view, and what the database says afterwards."""

import json
import os
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from klantreis.core.clock import FixedClock
from klantreis.customers.models import Customer
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.events.models import Event
from klantreis.messaging.channels.sms_twilio.channel import REFERENCE_PARAMETER
from klantreis.messaging.models import Message
from klantreis.messaging.services import MessageDraft, messages_prepare, messages_send
from klantreis.messaging.tests.fake_providers import (
    FakeTwilio,
    FakeWhatsAppCloud,
    SignedWebhook,
    hub_signature,
    twilio_signature,
)
from klantreis.messaging.views import MAX_WEBHOOK_BYTES

pytestmark = pytest.mark.django_db

# The public address differs from the test client's own (http://testserver),
# as it does behind a proxy: signatures are over the public address.
SITE = "https://klantreis.example"
CASE = "case-webhooks"
VERIFY_TOKEN = "verify-me-7f3a"
TWILIO_HOOK = "/hooks/sms/twilio/"
WHATSAPP_HOOK = "/hooks/whatsapp/"


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def meta() -> Iterator[FakeWhatsAppCloud]:
    with FakeWhatsAppCloud() as fake:
        yield fake


def channels_for(twilio: FakeTwilio | None, meta: FakeWhatsAppCloud | None) -> dict[str, Any]:
    channels: dict[str, Any] = {
        "email": {"BACKEND": "klantreis.messaging.channels.email.EmailChannel", "OPTIONS": {}},
        "inapp": {"BACKEND": "klantreis.messaging.channels.inapp.InAppChannel", "OPTIONS": {}},
    }
    if twilio is not None:
        channels["sms"] = {
            "BACKEND": "klantreis.messaging.channels.sms_twilio.TwilioSmsChannel",
            "OPTIONS": {
                **twilio.credentials(),
                "sender": FakeTwilio.SENDER,
                "base_url": twilio.base_url,
                "timeout_seconds": 2,
            },
        }
    if meta is not None:
        channels["whatsapp"] = {
            "BACKEND": "klantreis.messaging.channels.whatsapp_cloud.WhatsAppCloudChannel",
            "OPTIONS": {
                **meta.credentials(),
                "base_url": meta.base_url,
                "verify_token": VERIFY_TOKEN,
                "timeout_seconds": 2,
            },
        }
    return channels


@pytest.fixture(autouse=True)
def configured(settings: Any, twilio: FakeTwilio, meta: FakeWhatsAppCloud, fixed_clock: FixedClock) -> None:
    settings.SITE_URL = SITE
    settings.MESSAGING_CHANNELS = channels_for(twilio, meta)


@pytest.fixture
def customer() -> Customer:
    return CustomerFactory(
        phone="+31612345678",
        preferred_channel=Customer.Channel.WHATSAPP,
        consent_sms=True,
        consent_whatsapp=True,
    )


def sent(customer: Customer, channel: str, key: str = "visit-1:reminder") -> Message:
    [message] = messages_prepare(
        drafts=[
            MessageDraft(
                idempotency_key=key,
                customer=customer,
                case_id=CASE,
                source="test",
                channels=[channel],
                language="nl",
                subject="Herinnering",
                text="De monteur komt morgen tussen 8:00 en 10:00.",
            )
        ]
    )
    messages_send(messages=[message])
    message.refresh_from_db()
    assert message.status == Message.Status.SENT, message.last_error
    return message


def post(client: Client, webhook: SignedWebhook, **extra: Any) -> Any:
    """POST a provider's webhook to the address it was signed for, as the provider would."""
    assert webhook.url.startswith(SITE + "/"), webhook.url
    headers = {name: value for name, value in webhook.headers.items() if name.lower() != "content-type"}
    return client.post(
        webhook.url.removeprefix(SITE),
        data=webhook.body,
        content_type=webhook.headers.get("Content-Type", "application/octet-stream"),
        headers=headers,
        **extra,
    )


def with_header(webhook: SignedWebhook, name: str, value: str | None) -> SignedWebhook:
    headers = {key: val for key, val in webhook.headers.items() if key.lower() != name.lower()}
    if value is not None:
        headers[name] = value
    return SignedWebhook(method=webhook.method, url=webhook.url, headers=headers, body=webhook.body)


def activities() -> list[str]:
    return list(Event.objects.filter(case_id=CASE).order_by("id").values_list("activity", flat=True))


def snapshot(message: Message) -> tuple[Any, ...]:
    message.refresh_from_db()
    return (message.status, message.delivered_at, message.read_at, message.last_error, Event.objects.count())


def whatsapp_webhook(meta: FakeWhatsAppCloud, message_id: str, status: str, **kwargs: Any) -> SignedWebhook:
    return meta.status_webhook(message_id, status, url=SITE + WHATSAPP_HOOK, **kwargs)


# Twilio: the status callback address travels with every SMS


def test_an_sms_asks_twilio_for_status_callbacks_at_our_public_address(
    twilio: FakeTwilio, customer: Customer
) -> None:
    sent(customer, "sms")

    [accepted] = twilio.accepted
    assert accepted.status_callback == (f"{SITE}/hooks/sms/twilio/?{REFERENCE_PARAMETER}=visit-1%3Areminder")
    assert reverse("messaging:twilio_status") == TWILIO_HOOK


def test_other_channels_are_sent_without_a_callback_address(
    meta: FakeWhatsAppCloud, customer: Customer
) -> None:
    sent(customer, "whatsapp")

    assert b"StatusCallback" not in meta.requests[0].body
    assert SITE.encode() not in meta.requests[0].body


# Twilio: reports


def test_twilio_delivered_marks_the_sms_delivered_and_records_it(
    client: Client, twilio: FakeTwilio, customer: Customer, fixed_clock: FixedClock
) -> None:
    message = sent(customer, "sms")
    fixed_clock.advance(timedelta(seconds=40))

    response = post(client, twilio.status_callback(message.provider_message_id, "delivered"))

    assert response.status_code == 200
    assert response.content == b""
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    assert message.delivered_at == fixed_clock.now()
    assert message.check_at is None
    assert activities() == ["message.sent", "message.delivered"]
    delivered = Event.objects.get(activity="message.delivered")
    assert (delivered.case_id, delivered.channel, delivered.occurred_at) == (CASE, "sms", fixed_clock.now())
    assert delivered.attributes["message"] == message.pk


def test_twilio_undelivered_marks_the_sms_failed_with_twilios_error(
    client: Client, twilio: FakeTwilio, customer: Customer
) -> None:
    message = sent(customer, "sms")

    response = post(
        client, twilio.status_callback(message.provider_message_id, "undelivered", error_code="30003")
    )

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.last_error == "Twilio undelivered, error 30003"
    assert message.delivered_at is None
    assert activities() == ["message.sent", "message.failed"]
    assert (
        Event.objects.get(activity="message.failed").attributes["error"] == "Twilio undelivered, error 30003"
    )
    # Nothing else to try: the policy had only SMS.
    assert Message.objects.count() == 1
    assert len(twilio.accepted) == 1


def test_twilio_in_between_statuses_change_nothing(
    client: Client, twilio: FakeTwilio, customer: Customer
) -> None:
    message = sent(customer, "sms")
    before = snapshot(message)

    response = post(client, twilio.status_callback(message.provider_message_id, "queued"))

    assert response.status_code == 200
    assert snapshot(message) == before


def test_a_replayed_twilio_callback_changes_nothing_the_second_time(
    client: Client, twilio: FakeTwilio, customer: Customer, fixed_clock: FixedClock
) -> None:
    message = sent(customer, "sms")
    webhook = twilio.status_callback(message.provider_message_id, "delivered")
    assert post(client, webhook).status_code == 200
    after_first = snapshot(message)
    fixed_clock.advance(timedelta(minutes=3))

    response = post(client, webhook)

    assert response.status_code == 200
    assert snapshot(message) == after_first
    assert activities() == ["message.sent", "message.delivered"]


def test_a_late_sent_never_undoes_delivered(client: Client, twilio: FakeTwilio, customer: Customer) -> None:
    message = sent(customer, "sms")
    post(client, twilio.status_callback(message.provider_message_id, "delivered"))
    after = snapshot(message)

    response = post(client, twilio.status_callback(message.provider_message_id, "sent"))

    assert response.status_code == 200
    assert snapshot(message) == after


def test_a_twilio_callback_for_a_message_we_do_not_know_is_taken_and_ignored(
    client: Client, twilio: FakeTwilio, customer: Customer
) -> None:
    message = sent(customer, "sms")
    before = snapshot(message)
    params = {
        "AccountSid": FakeTwilio.ACCOUNT_SID,
        "MessageSid": "SM" + "0" * 32,
        "MessageStatus": "delivered",
    }

    response = post(client, twilio.signed_callback(SITE + TWILIO_HOOK, params))

    assert response.status_code == 200
    assert snapshot(message) == before


# Twilio: refusals


def test_a_twilio_callback_without_signature_is_forbidden(
    client: Client, twilio: FakeTwilio, customer: Customer
) -> None:
    message = sent(customer, "sms")
    before = snapshot(message)
    webhook = with_header(
        twilio.status_callback(message.provider_message_id, "delivered"), "X-Twilio-Signature", None
    )

    response = post(client, webhook)

    assert response.status_code == 403
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == "Handtekening ontbreekt of klopt niet."
    assert snapshot(message) == before
    english = post(client, webhook, HTTP_ACCEPT_LANGUAGE="en")
    assert (english.status_code, english.content) == (403, b"Signature missing or wrong.")


def test_a_twilio_callback_signed_with_another_token_is_forbidden(
    client: Client, twilio: FakeTwilio, customer: Customer
) -> None:
    message = sent(customer, "sms")
    before = snapshot(message)
    good = twilio.status_callback(message.provider_message_id, "delivered")
    params = dict(urllib.parse.parse_qsl(good.body.decode()))
    forged = with_header(good, "X-Twilio-Signature", twilio_signature("guessed-token", good.url, params))

    response = post(client, forged)

    assert response.status_code == 403
    assert snapshot(message) == before


def test_a_tampered_twilio_callback_is_forbidden(
    client: Client, twilio: FakeTwilio, customer: Customer
) -> None:
    message = sent(customer, "sms")
    before = snapshot(message)
    good = twilio.status_callback(message.provider_message_id, "delivered")
    tampered = SignedWebhook(
        method="POST",
        url=good.url,
        headers=good.headers,
        body=good.body.replace(b"MessageStatus=delivered", b"MessageStatus=failed"),
    )
    assert tampered.body != good.body

    response = post(client, tampered)

    assert response.status_code == 403
    assert snapshot(message) == before


def test_a_twilio_callback_signed_for_the_internal_address_is_forbidden(
    client: Client, twilio: FakeTwilio, customer: Customer
) -> None:
    """Twilio signs the public address; a signature over the address the
    request reached us on (behind the proxy) proves nothing."""
    message = sent(customer, "sms")
    before = snapshot(message)
    good = twilio.status_callback(message.provider_message_id, "delivered")
    internal = "http://testserver" + good.url.removeprefix(SITE)
    params = dict(urllib.parse.parse_qsl(good.body.decode()))
    webhook = with_header(good, "X-Twilio-Signature", twilio_signature(twilio.auth_token, internal, params))

    response = post(client, webhook)

    assert response.status_code == 403
    assert snapshot(message) == before


def test_a_signed_twilio_callback_for_another_account_is_forbidden(
    client: Client, twilio: FakeTwilio, customer: Customer
) -> None:
    message = sent(customer, "sms")
    before = snapshot(message)
    webhook = twilio.status_callback(
        message.provider_message_id, "failed", overrides={"AccountSid": "AC" + "f" * 32}
    )

    response = post(client, webhook)

    assert response.status_code == 403
    assert snapshot(message) == before


@pytest.mark.parametrize(
    "overrides",
    [{"MessageSid": None}, {"MessageStatus": None}, {"MessageStatus": ""}],
    ids=["no sid", "no status", "empty status"],
)
def test_a_signed_twilio_callback_missing_fields_is_a_bad_request(
    client: Client, twilio: FakeTwilio, customer: Customer, overrides: dict[str, str | None]
) -> None:
    message = sent(customer, "sms")
    before = snapshot(message)

    response = post(
        client, twilio.status_callback(message.provider_message_id, "failed", overrides=overrides)
    )

    assert response.status_code == 400
    assert snapshot(message) == before


@pytest.mark.parametrize(
    "body",
    [b"not a form", b"MessageStatus=%FF%FE&x", b"\xff\xfe\x00signature"],
    ids=["no pairs", "bad utf-8 escape", "binary"],
)
def test_a_twilio_callback_that_is_not_a_form_is_a_bad_request(
    client: Client, twilio: FakeTwilio, customer: Customer, body: bytes
) -> None:
    message = sent(customer, "sms")
    before = snapshot(message)
    webhook = SignedWebhook(
        method="POST",
        url=SITE + TWILIO_HOOK,
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "c2lnbmF0dXJl"},
        body=body,
    )

    response = post(client, webhook)

    assert response.status_code == 400
    assert snapshot(message) == before


def test_an_oversized_twilio_callback_is_refused(
    client: Client, twilio: FakeTwilio, customer: Customer
) -> None:
    message = sent(customer, "sms")
    before = snapshot(message)
    good = twilio.status_callback(message.provider_message_id, "delivered")
    padded = SignedWebhook(
        method="POST",
        url=good.url,
        headers=good.headers,
        body=good.body + b"&Padding=" + b"x" * MAX_WEBHOOK_BYTES,
    )

    response = post(client, padded)

    assert response.status_code == 413
    assert snapshot(message) == before


def test_an_announced_oversized_body_is_refused_before_it_is_read(
    client: Client, twilio: FakeTwilio, customer: Customer
) -> None:
    """The test client's payload raises when read past its end: the view must
    answer from Content-Length alone."""
    message = sent(customer, "sms")
    webhook = twilio.status_callback(message.provider_message_id, "delivered")

    response = post(client, webhook, CONTENT_LENGTH=str(MAX_WEBHOOK_BYTES + 1))

    assert response.status_code == 413


def test_a_body_of_exactly_the_limit_is_read(client: Client, twilio: FakeTwilio, customer: Customer) -> None:
    message = sent(customer, "sms")
    good = twilio.status_callback(message.provider_message_id, "delivered")
    params = dict(urllib.parse.parse_qsl(good.body.decode()))
    filler = "Padding"
    params[filler] = ""
    base = len(urllib.parse.urlencode(params))
    params[filler] = "x" * (MAX_WEBHOOK_BYTES - base)
    body = urllib.parse.urlencode(params).encode()
    assert len(body) == MAX_WEBHOOK_BYTES
    webhook = twilio.signed_callback(good.url, params)

    response = post(client, webhook)

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED


def test_an_unreadable_content_length_is_a_bad_request(
    client: Client, twilio: FakeTwilio, customer: Customer
) -> None:
    message = sent(customer, "sms")

    response = post(
        client, twilio.status_callback(message.provider_message_id, "delivered"), CONTENT_LENGTH="1e3"
    )

    assert response.status_code == 400


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_the_twilio_hook_takes_only_posts(client: Client, method: str) -> None:
    response = getattr(client, method)(TWILIO_HOOK)

    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_the_twilio_hook_is_not_there_without_twilio(
    client: Client, settings: Any, twilio: FakeTwilio, customer: Customer
) -> None:
    message = sent(customer, "sms")
    before = snapshot(message)
    webhook = twilio.status_callback(message.provider_message_id, "delivered")
    settings.MESSAGING_CHANNELS = channels_for(None, None)

    response = post(client, webhook)

    assert response.status_code == 404
    assert snapshot(message) == before


def test_the_twilio_hook_is_not_there_when_another_class_serves_sms(
    client: Client, settings: Any, twilio: FakeTwilio, customer: Customer
) -> None:
    message = sent(customer, "sms")
    before = snapshot(message)
    webhook = twilio.status_callback(message.provider_message_id, "delivered")
    settings.MESSAGING_CHANNELS = {
        **channels_for(None, None),
        "sms": {"BACKEND": "klantreis.messaging.channels.inapp.InAppChannel", "OPTIONS": {}},
    }

    response = post(client, webhook)

    assert response.status_code == 404
    assert snapshot(message) == before


def test_the_hooks_need_no_csrf_token(twilio: FakeTwilio, customer: Customer) -> None:
    message = sent(customer, "sms")
    strict = Client(enforce_csrf_checks=True)

    response = post(strict, twilio.status_callback(message.provider_message_id, "delivered"))

    assert response.status_code == 200


# WhatsApp: reports


def test_whatsapp_delivered_then_read_at_metas_times(
    client: Client, meta: FakeWhatsAppCloud, customer: Customer, fixed_clock: FixedClock
) -> None:
    message = sent(customer, "whatsapp")
    delivered_at = fixed_clock.now() + timedelta(seconds=5)
    read_at = fixed_clock.now() + timedelta(minutes=7)

    first = post(
        client, whatsapp_webhook(meta, message.provider_message_id, "delivered", timestamp=delivered_at)
    )
    second = post(client, whatsapp_webhook(meta, message.provider_message_id, "read", timestamp=read_at))

    assert (first.status_code, second.status_code) == (200, 200)
    message.refresh_from_db()
    assert message.status == Message.Status.READ
    assert (message.delivered_at, message.read_at) == (delivered_at, read_at)
    assert activities() == ["message.sent", "message.delivered", "message.read"]
    read = Event.objects.get(activity="message.read")
    assert (read.case_id, read.channel, read.occurred_at) == (CASE, "whatsapp", read_at)


def test_whatsapp_read_without_delivered_counts_as_both(
    client: Client, meta: FakeWhatsAppCloud, customer: Customer, fixed_clock: FixedClock
) -> None:
    message = sent(customer, "whatsapp")

    response = post(client, whatsapp_webhook(meta, message.provider_message_id, "read"))

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == Message.Status.READ
    assert message.delivered_at == message.read_at == fixed_clock.now()
    assert activities() == ["message.sent", "message.delivered", "message.read"]


def test_whatsapp_failed_marks_the_message_failed_with_metas_error(
    client: Client, meta: FakeWhatsAppCloud, customer: Customer
) -> None:
    message = sent(customer, "whatsapp")

    response = post(client, whatsapp_webhook(meta, message.provider_message_id, "failed"))

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.last_error == "WhatsApp error 131026: Message Undeliverable."
    assert activities() == ["message.sent", "message.failed"]
    assert Event.objects.get(activity="message.failed").case_id == CASE


def test_one_whatsapp_webhook_can_report_on_several_messages(
    client: Client, meta: FakeWhatsAppCloud, customer: Customer, fixed_clock: FixedClock
) -> None:
    first, second = sent(customer, "whatsapp", key="a"), sent(customer, "whatsapp", key="b")
    moment = str(int(fixed_clock.now().timestamp()))
    payload = meta.webhook_payload(
        [
            {"id": first.provider_message_id, "status": "delivered", "timestamp": moment},
            {"id": second.provider_message_id, "status": "failed", "timestamp": moment},
        ]
    )

    response = post(client, meta.signed_webhook(payload, url=SITE + WHATSAPP_HOOK))

    assert response.status_code == 200
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (Message.Status.DELIVERED, Message.Status.FAILED)
    assert second.last_error == "WhatsApp reported failed"


def test_a_replayed_whatsapp_webhook_changes_nothing_the_second_time(
    client: Client, meta: FakeWhatsAppCloud, customer: Customer
) -> None:
    message = sent(customer, "whatsapp")
    webhook = whatsapp_webhook(meta, message.provider_message_id, "failed")
    assert post(client, webhook).status_code == 200
    after_first = snapshot(message)

    response = post(client, webhook)

    assert response.status_code == 200
    assert snapshot(message) == after_first
    assert activities() == ["message.sent", "message.failed"]


def test_a_whatsapp_status_for_a_message_we_do_not_know_is_taken_and_ignored(
    client: Client, meta: FakeWhatsAppCloud, customer: Customer
) -> None:
    message = sent(customer, "whatsapp")
    before = snapshot(message)
    payload = meta.webhook_payload(
        [{"id": "wamid.unknown", "status": "delivered", "timestamp": "1773131400"}]
    )

    response = post(client, meta.signed_webhook(payload, url=SITE + WHATSAPP_HOOK))

    assert response.status_code == 200
    assert snapshot(message) == before


def test_a_whatsapp_status_for_an_sms_with_the_same_id_changes_nothing(
    client: Client, meta: FakeWhatsAppCloud, twilio: FakeTwilio, customer: Customer
) -> None:
    """Reports apply to the channel whose webhook brought them."""
    message = sent(customer, "sms")
    before = snapshot(message)
    payload = meta.webhook_payload(
        [{"id": message.provider_message_id, "status": "delivered", "timestamp": "1773131400"}]
    )

    response = post(client, meta.signed_webhook(payload, url=SITE + WHATSAPP_HOOK))

    assert response.status_code == 200
    assert snapshot(message) == before


# WhatsApp: refusals


def test_a_whatsapp_webhook_without_signature_is_forbidden(
    client: Client, meta: FakeWhatsAppCloud, customer: Customer
) -> None:
    message = sent(customer, "whatsapp")
    before = snapshot(message)
    webhook = with_header(
        whatsapp_webhook(meta, message.provider_message_id, "delivered"), "X-Hub-Signature-256", None
    )

    response = post(client, webhook)

    assert response.status_code == 403
    assert snapshot(message) == before


@pytest.mark.parametrize(
    "signature",
    ["sha256=" + "0" * 64, "sha1=abc", "sha256=", "not-a-signature"],
    ids=["wrong digest", "other algorithm", "empty digest", "garbage"],
)
def test_a_whatsapp_webhook_with_a_wrong_signature_is_forbidden(
    client: Client, meta: FakeWhatsAppCloud, customer: Customer, signature: str
) -> None:
    message = sent(customer, "whatsapp")
    before = snapshot(message)
    webhook = with_header(
        whatsapp_webhook(meta, message.provider_message_id, "delivered"), "X-Hub-Signature-256", signature
    )

    response = post(client, webhook)

    assert response.status_code == 403
    assert snapshot(message) == before


def test_a_whatsapp_webhook_signed_with_another_secret_is_forbidden(
    client: Client, meta: FakeWhatsAppCloud, customer: Customer
) -> None:
    message = sent(customer, "whatsapp")
    before = snapshot(message)
    good = whatsapp_webhook(meta, message.provider_message_id, "delivered")
    forged = with_header(good, "X-Hub-Signature-256", hub_signature("guessed-secret", good.body))

    response = post(client, forged)

    assert response.status_code == 403
    assert snapshot(message) == before


def test_a_tampered_whatsapp_webhook_is_forbidden(
    client: Client, meta: FakeWhatsAppCloud, customer: Customer
) -> None:
    message = sent(customer, "whatsapp")
    before = snapshot(message)
    good = whatsapp_webhook(meta, message.provider_message_id, "delivered")
    tampered = SignedWebhook(
        method="POST", url=good.url, headers=good.headers, body=good.body.replace(b'"delivered"', b'"failed"')
    )
    assert tampered.body != good.body

    response = post(client, tampered)

    assert response.status_code == 403
    assert snapshot(message) == before


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b"\xff\xfe",
        b"[" * 100_000,
        json.dumps({"object": "page", "entry": []}).encode(),
        json.dumps({"object": "whatsapp_business_account", "entry": "nope"}).encode(),
    ],
    ids=["broken json", "binary", "deep nesting", "another object", "entry not a list"],
)
def test_a_signed_whatsapp_webhook_we_cannot_read_is_a_bad_request(
    client: Client, meta: FakeWhatsAppCloud, customer: Customer, payload: bytes
) -> None:
    message = sent(customer, "whatsapp")
    before = snapshot(message)

    response = post(client, meta.signed_webhook(payload, url=SITE + WHATSAPP_HOOK))

    assert response.status_code == 400
    assert snapshot(message) == before


def test_a_signed_whatsapp_status_without_an_id_is_a_bad_request(
    client: Client, meta: FakeWhatsAppCloud, customer: Customer
) -> None:
    message = sent(customer, "whatsapp")
    before = snapshot(message)
    payload = meta.webhook_payload(
        [
            {"id": message.provider_message_id, "status": "delivered", "timestamp": "1773131400"},
            {"status": "failed", "timestamp": "1773131400"},
        ]
    )

    response = post(client, meta.signed_webhook(payload, url=SITE + WHATSAPP_HOOK))

    # Nothing of a webhook that is partly unreadable is applied.
    assert response.status_code == 400
    assert snapshot(message) == before


def test_an_oversized_whatsapp_webhook_is_refused(
    client: Client, meta: FakeWhatsAppCloud, customer: Customer
) -> None:
    message = sent(customer, "whatsapp")
    before = snapshot(message)
    payload = meta.webhook_payload(
        [{"id": message.provider_message_id, "status": "delivered", "timestamp": "1773131400"}]
    )
    payload["padding"] = "x" * MAX_WEBHOOK_BYTES

    response = post(client, meta.signed_webhook(payload, url=SITE + WHATSAPP_HOOK))

    assert response.status_code == 413
    assert snapshot(message) == before


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_the_whatsapp_hook_takes_only_gets_and_posts(client: Client, method: str) -> None:
    response = getattr(client, method)(WHATSAPP_HOOK)

    assert response.status_code == 405
    assert response["Allow"] == "GET, POST"


def test_the_whatsapp_hook_is_not_there_without_whatsapp(
    client: Client, settings: Any, meta: FakeWhatsAppCloud, customer: Customer
) -> None:
    message = sent(customer, "whatsapp")
    before = snapshot(message)
    webhook = whatsapp_webhook(meta, message.provider_message_id, "delivered")
    settings.MESSAGING_CHANNELS = channels_for(None, None)

    posted = post(client, webhook)
    handshake = client.get(
        WHATSAPP_HOOK,
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
    )

    assert (posted.status_code, handshake.status_code) == (404, 404)
    assert b"1158201444" not in handshake.content
    assert snapshot(message) == before


# WhatsApp: the subscription handshake


def test_the_subscription_handshake_echoes_the_challenge(client: Client) -> None:
    response = client.get(
        WHATSAPP_HOOK,
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
    )

    assert response.status_code == 200
    assert response.content == b"1158201444"
    assert response["Content-Type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"},
        {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1158201444"},
        {"hub.mode": "subscribe", "hub.challenge": "1158201444"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "<script>1</script> x"},
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN},
        {},
    ],
    ids=[
        "wrong token",
        "empty token",
        "no token",
        "other mode",
        "hostile challenge",
        "no challenge",
        "nothing",
    ],
)
def test_a_wrong_subscription_handshake_is_forbidden(client: Client, query: dict[str, str]) -> None:
    response = client.get(WHATSAPP_HOOK, query)

    assert response.status_code == 403
    assert b"1158201444" not in response.content
    assert b"<script>" not in response.content


def test_without_a_verify_token_no_handshake_succeeds(
    client: Client, settings: Any, twilio: FakeTwilio, meta: FakeWhatsAppCloud
) -> None:
    channels = channels_for(twilio, meta)
    channels["whatsapp"]["OPTIONS"]["verify_token"] = ""
    settings.MESSAGING_CHANNELS = channels

    response = client.get(
        WHATSAPP_HOOK, {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}
    )

    assert response.status_code == 403


# The settings module: channels from the environment

SETTINGS_PROBE = """
import json
from django.conf import settings
from klantreis.messaging.channels.registry import channel_get
print(json.dumps({
    name: type(channel_get(name)).__name__ for name in settings.MESSAGING_CHANNELS
}))
"""

PROVIDER_ENVIRONMENT = {
    "TWILIO_ACCOUNT_SID": FakeTwilio.ACCOUNT_SID,
    "TWILIO_AUTH_TOKEN": FakeTwilio.AUTH_TOKEN,
    "TWILIO_FROM": FakeTwilio.SENDER,
    "WHATSAPP_PHONE_NUMBER_ID": FakeWhatsAppCloud.PHONE_NUMBER_ID,
    "WHATSAPP_ACCESS_TOKEN": FakeWhatsAppCloud.ACCESS_TOKEN,
    "WHATSAPP_APP_SECRET": FakeWhatsAppCloud.APP_SECRET,
    "WHATSAPP_TEMPLATE": FakeWhatsAppCloud.TEMPLATE,
}


def settings_with(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Start Django afresh in a child process with these provider variables (and no others)."""
    clean = {
        name: value for name, value in os.environ.items() if not name.startswith(("TWILIO_", "WHATSAPP_"))
    }
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", "import django; django.setup()\n" + SETTINGS_PROBE],
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "klantreis.config.settings",
            "KLANTREIS_TESTING": "1",
            **environment,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_providers_are_configured_from_the_environment() -> None:
    result = settings_with(PROVIDER_ENVIRONMENT)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "email": "EmailChannel",
        "inapp": "InAppChannel",
        "sms": "TwilioSmsChannel",
        "whatsapp": "WhatsAppCloudChannel",
    }


def test_without_provider_variables_only_email_and_the_inbox_exist() -> None:
    result = settings_with({})

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"email": "EmailChannel", "inapp": "InAppChannel"}


@pytest.mark.parametrize(
    ("left_out", "named"),
    [
        ("TWILIO_AUTH_TOKEN", "TWILIO_AUTH_TOKEN must be set too"),
        ("TWILIO_FROM", "TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID must be set"),
        ("WHATSAPP_APP_SECRET", "WHATSAPP_APP_SECRET must be set too"),
        ("WHATSAPP_TEMPLATE", "WHATSAPP_TEMPLATE must be set too"),
    ],
)
def test_a_provider_half_configured_stops_the_process(left_out: str, named: str) -> None:
    environment = {name: value for name, value in PROVIDER_ENVIRONMENT.items() if name != left_out}

    result = settings_with(environment)

    assert result.returncode != 0
    assert named in result.stderr
