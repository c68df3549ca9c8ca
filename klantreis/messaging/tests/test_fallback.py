"""Handing a message over to the next channel, driven by what the providers
report: a customer who prefers WhatsApp and allows WhatsApp, SMS and e-mail,
reached through local fake Twilio and WhatsApp Cloud API servers and a real
SMTP server, with the clock moved by hand."""

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from klantreis.core.clock import FixedClock
from klantreis.customers.models import Customer
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.events.models import Event
from klantreis.messaging.models import Message
from klantreis.messaging.services import (
    BACKOFF,
    MAX_ATTEMPTS,
    MessageDraft,
    messages_prepare,
    messages_retry_due,
    messages_send,
    messages_undelivered_hand_over,
)
from klantreis.messaging.tests.fake_providers import FakeTwilio, FakeWhatsAppCloud, SignedWebhook

SITE = "https://klantreis.example"
CASE = "case-fallback"
KEY = "tp-41"  # as the journey dispatcher makes them
TEXT = "De monteur is onderweg en is er rond 10:15."
POLICY = ["preferred", "whatsapp", "sms", "email"]
WAIT = timedelta(minutes=10)


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def meta() -> Iterator[FakeWhatsAppCloud]:
    with FakeWhatsAppCloud() as fake:
        yield fake


@pytest.fixture(autouse=True)
def configured(
    settings: Any, twilio: FakeTwilio, meta: FakeWhatsAppCloud, smtp_server: Any, fixed_clock: FixedClock
) -> None:
    settings.SITE_URL = SITE
    settings.MESSAGING_CHANNELS = {
        "email": {"BACKEND": "klantreis.messaging.channels.email.EmailChannel", "OPTIONS": {}},
        "inapp": {"BACKEND": "klantreis.messaging.channels.inapp.InAppChannel", "OPTIONS": {}},
        "sms": {
            "BACKEND": "klantreis.messaging.channels.sms_twilio.TwilioSmsChannel",
            "OPTIONS": {
                **twilio.credentials(),
                "sender": FakeTwilio.SENDER,
                "base_url": twilio.base_url,
                "timeout_seconds": 2,
            },
        },
        "whatsapp": {
            "BACKEND": "klantreis.messaging.channels.whatsapp_cloud.WhatsAppCloudChannel",
            "OPTIONS": {**meta.credentials(), "base_url": meta.base_url, "timeout_seconds": 2},
        },
    }


@pytest.fixture
def customer(db: None) -> Customer:
    return CustomerFactory(
        email="a.jansen@example.nl",
        phone="+31612345678",
        preferred_channel=Customer.Channel.WHATSAPP,
        consent_email=True,
        consent_sms=True,
        consent_whatsapp=True,
    )


def send(customer: Customer) -> Message:
    [message] = messages_prepare(
        drafts=[
            MessageDraft(
                idempotency_key=KEY,
                customer=customer,
                case_id=CASE,
                source="journey:repair:on-my-way",
                channels=POLICY,
                language="nl",
                subject="De monteur is onderweg",
                text=TEXT,
                fallback_after=WAIT,
            )
        ]
    )
    messages_send(messages=[message])
    message.refresh_from_db()
    return message


def post(client: Client, webhook: SignedWebhook) -> Any:
    assert webhook.url.startswith(SITE + "/"), webhook.url
    headers = {name: value for name, value in webhook.headers.items() if name.lower() != "content-type"}
    return client.post(
        webhook.url.removeprefix(SITE),
        data=webhook.body,
        content_type=webhook.headers["Content-Type"],
        headers=headers,
    )


def rows() -> list[tuple[str, str, str]]:
    """Every message of the case in the order written: key, channel, status."""
    return [
        (m.idempotency_key, m.channel, m.status)
        for m in Message.objects.filter(case_id=CASE).order_by("created_at", "pk")
    ]


def activities() -> list[tuple[str, str]]:
    return [(e.activity, e.attributes["channel"]) for e in Event.objects.filter(case_id=CASE).order_by("id")]


def callback_data(meta: FakeWhatsAppCloud) -> list[str]:
    return [json.loads(request.body)["biz_opaque_callback_data"] for request in meta.requests]


@pytest.mark.django_db(transaction=True)
def test_whatsapp_then_sms_when_not_delivered_in_time_then_email_when_the_sms_fails(
    client: Client,
    customer: Customer,
    meta: FakeWhatsAppCloud,
    twilio: FakeTwilio,
    smtp_server: Any,
    fixed_clock: FixedClock,
    run_tasks: Any,
) -> None:
    # Given the message goes out on the customer's preferred channel
    whatsapp = send(customer)
    assert [(m.to, m.parameters) for m in meta.accepted] == [("+31612345678", (TEXT,))]
    assert (whatsapp.channel, whatsapp.status) == ("whatsapp", "sent")
    assert whatsapp.check_at == fixed_clock.now() + WAIT
    assert whatsapp.fallback_channels == ["sms", "email"]

    # When nothing is heard for a minute less than the policy waits, nothing happens
    fixed_clock.advance(WAIT - timedelta(minutes=1))
    assert messages_undelivered_hand_over() == 0
    assert twilio.accepted == []

    # When the wait is over without a delivery report, the SMS goes out
    fixed_clock.advance(timedelta(minutes=1))
    assert messages_undelivered_hand_over() == 1

    [sms] = twilio.accepted
    assert (sms.to, sms.body) == ("+31612345678", TEXT)
    sms_row = Message.objects.get(channel="sms")
    assert sms_row.fallback_of == whatsapp
    assert sms_row.provider_message_id == sms.sid
    assert sms_row.check_at == fixed_clock.now() + WAIT
    assert smtp_server.messages == []
    assert messages_undelivered_hand_over() == 0  # handed over once

    # When Twilio reports the SMS failed, the e-mail goes out at once: the
    # webhook answers, a worker sends
    fixed_clock.advance(timedelta(minutes=2))
    response = post(client, twilio.status_callback(sms.sid, "failed", error_code="30006"))

    assert response.status_code == 200
    assert smtp_server.messages == []
    assert rows()[-1] == (f"{KEY}.sms.email", "email", "queued")
    run_tasks()
    [mail] = smtp_server.messages
    assert mail["To"] == "a.jansen@example.nl"
    assert mail["Subject"] == "De monteur is onderweg"
    assert mail["Message-ID"] == f"<{KEY}.sms.email@klantreis>"
    assert TEXT in mail.get_body(preferencelist=("plain",)).get_content()
    assert rows() == [
        (KEY, "whatsapp", "sent"),
        (f"{KEY}.sms", "sms", "failed"),
        (f"{KEY}.sms.email", "email", "delivered"),
    ]
    assert activities() == [
        ("message.sent", "whatsapp"),
        ("message.not_delivered_in_time", "whatsapp"),
        ("message.sent", "sms"),
        ("message.failed", "sms"),
        ("message.sent", "email"),
        ("message.delivered", "email"),
    ]
    # Then nothing further is waiting
    fixed_clock.advance(timedelta(hours=2))
    assert messages_undelivered_hand_over() == 0
    assert messages_retry_due() == 0
    assert (len(meta.accepted), len(twilio.accepted), len(smtp_server.messages)) == (1, 1, 1)


def test_a_delivery_report_in_time_means_no_fallback(
    client: Client,
    customer: Customer,
    meta: FakeWhatsAppCloud,
    twilio: FakeTwilio,
    smtp_server: Any,
    fixed_clock: FixedClock,
) -> None:
    whatsapp = send(customer)
    fixed_clock.advance(WAIT - timedelta(seconds=1))
    webhook = meta.status_webhook(whatsapp.provider_message_id, "delivered", url=SITE + "/hooks/whatsapp/")
    assert post(client, webhook).status_code == 200

    fixed_clock.advance(timedelta(hours=1))

    assert messages_undelivered_hand_over() == 0
    assert messages_retry_due() == 0
    assert rows() == [(KEY, "whatsapp", "delivered")]
    assert (twilio.accepted, smtp_server.messages) == ([], [])
    assert [activity for activity, _ in activities()] == ["message.sent", "message.delivered"]


def test_a_report_of_sent_is_no_delivery_and_the_fallback_still_comes(
    client: Client, customer: Customer, meta: FakeWhatsAppCloud, twilio: FakeTwilio, fixed_clock: FixedClock
) -> None:
    whatsapp = send(customer)
    webhook = meta.status_webhook(whatsapp.provider_message_id, "sent", url=SITE + "/hooks/whatsapp/")
    assert post(client, webhook).status_code == 200

    fixed_clock.advance(WAIT)

    assert messages_undelivered_hand_over() == 1
    assert len(twilio.accepted) == 1


def test_a_failure_reported_after_the_hand_over_hands_over_nothing_more(
    client: Client,
    customer: Customer,
    meta: FakeWhatsAppCloud,
    twilio: FakeTwilio,
    smtp_server: Any,
    fixed_clock: FixedClock,
) -> None:
    whatsapp = send(customer)
    fixed_clock.advance(WAIT)
    messages_undelivered_hand_over()
    assert len(twilio.accepted) == 1

    webhook = meta.status_webhook(whatsapp.provider_message_id, "failed", url=SITE + "/hooks/whatsapp/")
    response = post(client, webhook)

    assert response.status_code == 200
    assert rows() == [(KEY, "whatsapp", "failed"), (f"{KEY}.sms", "sms", "sent")]
    assert (len(twilio.accepted), smtp_server.messages) == (1, [])


def test_sms_is_skipped_when_its_consent_was_withdrawn_after_the_first_send(
    customer: Customer, meta: FakeWhatsAppCloud, twilio: FakeTwilio, smtp_server: Any, fixed_clock: FixedClock
) -> None:
    send(customer)
    Customer.objects.filter(pk=customer.pk).update(consent_sms=False)

    fixed_clock.advance(WAIT)
    assert messages_undelivered_hand_over() == 1

    assert twilio.accepted == []
    [mail] = smtp_server.messages
    assert mail["Message-ID"] == f"<{KEY}.email@klantreis>"
    assert rows() == [(KEY, "whatsapp", "sent"), (f"{KEY}.email", "email", "delivered")]


def test_sms_is_not_in_the_policy_when_consent_was_withdrawn_before(
    customer: Customer, meta: FakeWhatsAppCloud, twilio: FakeTwilio, smtp_server: Any, fixed_clock: FixedClock
) -> None:
    customer.consent_sms = False
    customer.save()

    whatsapp = send(customer)
    fixed_clock.advance(WAIT)
    messages_undelivered_hand_over()

    assert whatsapp.fallback_channels == ["email"]
    assert twilio.accepted == []
    assert len(smtp_server.messages) == 1
    assert [channel for _, channel, _ in rows()] == ["whatsapp", "email"]


def test_without_whatsapp_consent_the_preference_is_passed_over(
    customer: Customer, meta: FakeWhatsAppCloud, twilio: FakeTwilio, smtp_server: Any
) -> None:
    customer.consent_whatsapp = False
    customer.save()

    message = send(customer)

    assert (message.channel, message.fallback_channels) == ("sms", ["email"])
    assert meta.requests == []
    assert len(twilio.accepted) == 1


def test_a_permanent_error_fails_over_at_once(
    customer: Customer, meta: FakeWhatsAppCloud, twilio: FakeTwilio, smtp_server: Any
) -> None:
    meta.fail_next(status=400, code=131026, message="(#131026) Message undeliverable")

    whatsapp = send(customer)

    assert whatsapp.status == Message.Status.FAILED
    assert whatsapp.attempts == 1
    assert whatsapp.next_attempt_at is None
    assert "131026" in whatsapp.last_error
    assert len(meta.requests) == 1
    [sms] = twilio.accepted
    assert sms.body == TEXT
    assert rows() == [(KEY, "whatsapp", "failed"), (f"{KEY}.sms", "sms", "sent")]
    assert activities() == [("message.failed", "whatsapp"), ("message.sent", "sms")]
    assert smtp_server.messages == []
    assert messages_retry_due() == 0


def test_a_permanent_error_on_every_provider_ends_in_email(
    customer: Customer, meta: FakeWhatsAppCloud, twilio: FakeTwilio, smtp_server: Any
) -> None:
    meta.fail_next(status=400, code=100)
    twilio.fail_next(status=400, code=21610, message="Attempt to send to unsubscribed recipient")

    send(customer)

    assert rows() == [
        (KEY, "whatsapp", "failed"),
        (f"{KEY}.sms", "sms", "failed"),
        (f"{KEY}.sms.email", "email", "delivered"),
    ]
    assert len(smtp_server.messages) == 1


def test_retryable_errors_are_retried_with_backoff_under_the_same_key_then_fail_over(
    customer: Customer, meta: FakeWhatsAppCloud, twilio: FakeTwilio, fixed_clock: FixedClock
) -> None:
    meta.fail_next(MAX_ATTEMPTS, status=500)
    whatsapp = send(customer)
    assert (whatsapp.status, whatsapp.attempts) == (Message.Status.QUEUED, 1)

    for attempt in range(2, MAX_ATTEMPTS + 1):
        wait = BACKOFF[attempt - 2]
        assert whatsapp.next_attempt_at == fixed_clock.now() + wait
        # Not a second early
        fixed_clock.advance(wait - timedelta(seconds=1))
        assert messages_retry_due() == 0
        assert len(meta.requests) == attempt - 1
        fixed_clock.advance(timedelta(seconds=1))
        assert messages_retry_due() == 1
        assert len(meta.requests) == attempt
        whatsapp.refresh_from_db()
        assert whatsapp.attempts == attempt

    assert whatsapp.status == Message.Status.FAILED
    assert "131000" in whatsapp.last_error
    assert callback_data(meta) == [KEY] * MAX_ATTEMPTS
    assert meta.accepted == []
    [sms] = twilio.accepted
    assert rows() == [(KEY, "whatsapp", "failed"), (f"{KEY}.sms", "sms", "sent")]
    assert activities() == [("message.failed", "whatsapp"), ("message.sent", "sms")]
    fixed_clock.advance(timedelta(days=1))
    assert messages_retry_due() == 0
    assert len(meta.requests) == MAX_ATTEMPTS


def test_a_retry_that_succeeds_stays_on_the_channel(
    customer: Customer, meta: FakeWhatsAppCloud, twilio: FakeTwilio, fixed_clock: FixedClock
) -> None:
    meta.fail_next(2, status=503)
    send(customer)

    fixed_clock.advance(BACKOFF[0])
    messages_retry_due()
    fixed_clock.advance(BACKOFF[1])
    messages_retry_due()

    whatsapp = Message.objects.get(idempotency_key=KEY)
    assert (whatsapp.status, whatsapp.attempts, whatsapp.last_error) == (Message.Status.SENT, 3, "")
    assert whatsapp.provider_message_id == meta.accepted[0].id
    # The fallback clock starts with the send that went through.
    assert whatsapp.check_at == fixed_clock.now() + WAIT
    assert callback_data(meta) == [KEY] * 3
    assert twilio.accepted == []
    assert activities() == [("message.sent", "whatsapp")]


def test_an_sms_retried_after_a_server_error_carries_the_same_reference(
    customer: Customer, meta: FakeWhatsAppCloud, twilio: FakeTwilio, fixed_clock: FixedClock
) -> None:
    """Twilio has no idempotency key; the reference in the callback address is
    how a duplicate would be recognised, so it must not change between tries."""
    customer.consent_whatsapp = False
    customer.save()
    twilio.fail_next(status=500)
    send(customer)

    fixed_clock.advance(BACKOFF[0])
    assert messages_retry_due() == 1

    [sms] = twilio.accepted
    bodies = [request.body for request in twilio.requests]
    assert len(bodies) == 2
    assert bodies[0] == bodies[1]
    assert sms.status_callback == f"{SITE}/hooks/sms/twilio/?klantreis-ref={KEY}"


def test_a_retry_after_longer_than_the_backoff_is_honoured(
    customer: Customer, meta: FakeWhatsAppCloud, fixed_clock: FixedClock
) -> None:
    meta.fail_next(status=429, retry_after="300")

    whatsapp = send(customer)

    assert whatsapp.next_attempt_at == fixed_clock.now() + timedelta(seconds=300)
    fixed_clock.advance(BACKOFF[0])
    assert messages_retry_due() == 0
    assert len(meta.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_a_report_that_comes_before_the_send_outcome_is_stored_is_kept(
    client: Client, customer: Customer, meta: FakeWhatsAppCloud
) -> None:
    """Meta may call the webhook before its answer to the send reached us: the
    report finds the message by the key Meta echoes, and the send's outcome,
    written afterwards, does not turn 'delivered' back into 'sent'."""
    meta.delay_next(1.0)  # accepted at once, answered a second later
    sender = threading.Thread(target=send, args=(customer,))
    sender.start()
    deadline = time.monotonic() + 5
    while not meta.accepted and time.monotonic() < deadline:
        time.sleep(0.01)
    [accepted] = meta.accepted
    assert Message.objects.get(idempotency_key=KEY).provider_message_id == ""

    response = post(client, meta.status_webhook(accepted.id, "delivered", url=f"{SITE}/hooks/whatsapp/"))
    sender.join(timeout=10)

    assert response.status_code == 200
    message = Message.objects.get(idempotency_key=KEY)
    assert (message.status, message.provider_message_id) == (Message.Status.DELIVERED, accepted.id)
    assert message.sent_at is not None
    assert message.delivered_at is not None
    assert message.check_at is None  # nothing left to hand over
    assert sorted(activities()) == [("message.delivered", "whatsapp"), ("message.sent", "whatsapp")]
    assert rows() == [(KEY, "whatsapp", "delivered")]
