import socket
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from klantreis.core.clock import FixedClock
from klantreis.messaging.channels.base import (
    ChannelError,
    DeliveryReport,
    OutgoingMessage,
    SendResult,
    WebhookError,
    WebhookRequest,
)
from klantreis.messaging.channels.sms_twilio import TwilioSmsChannel
from klantreis.messaging.channels.sms_twilio.channel import REFERENCE_PARAMETER
from klantreis.messaging.tests.fake_providers import FakeTwilio, SignedWebhook, twilio_signature

CALLBACK = "https://klantreis.example/webhooks/sms"


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def channel(twilio: FakeTwilio, fixed_clock: FixedClock) -> TwilioSmsChannel:
    return TwilioSmsChannel(
        base_url=twilio.base_url, sender=FakeTwilio.SENDER, timeout_seconds=2, **twilio.credentials()
    )


def sms(
    key: str = "msg-1", *, to: str = "+31612345678", text: str = "Uw afspraak is morgen om 10:00."
) -> Any:
    return OutgoingMessage(
        idempotency_key=key, to=to, language="nl", subject="", text=text, status_callback_url=CALLBACK
    )


def only_error(results: list[SendResult | ChannelError]) -> ChannelError:
    [result] = results
    assert isinstance(result, ChannelError), result
    return result


# Sending


def test_a_message_reaches_twilio_and_its_sid_comes_back(
    twilio: FakeTwilio, channel: TwilioSmsChannel
) -> None:
    results = channel.send_many([sms()])

    [accepted] = twilio.accepted
    assert results == [SendResult(provider_message_id=accepted.sid, final=False)]
    assert accepted.sid.startswith("SM")
    assert (accepted.to, accepted.body, accepted.sender) == (
        "+31612345678",
        "Uw afspraak is morgen om 10:00.",
        FakeTwilio.SENDER,
    )
    assert accepted.status_callback == f"{CALLBACK}?{REFERENCE_PARAMETER}=msg-1"


def test_the_key_joins_a_callback_url_that_has_a_query_of_its_own(
    twilio: FakeTwilio, channel: TwilioSmsChannel
) -> None:
    message = OutgoingMessage(
        idempotency_key="journey 7/step 2",
        to="+31612345678",
        language="nl",
        subject="",
        text="Hallo",
        status_callback_url=f"{CALLBACK}?tenant=vera",
    )

    channel.send_many([message])

    callback = twilio.accepted[0].status_callback
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(callback).query) == {
        "tenant": ["vera"],
        REFERENCE_PARAMETER: ["journey 7/step 2"],
    }


def test_without_a_callback_url_no_status_callback_is_asked_for(
    twilio: FakeTwilio, channel: TwilioSmsChannel
) -> None:
    message = OutgoingMessage(idempotency_key="k", to="+31612345678", language="nl", subject="", text="Hallo")

    channel.send_many([message])

    assert twilio.accepted[0].status_callback == ""
    assert b"StatusCallback" not in twilio.requests[0].body


def test_a_messaging_service_sends_instead_of_a_sender(twilio: FakeTwilio, fixed_clock: FixedClock) -> None:
    channel = TwilioSmsChannel(
        base_url=twilio.base_url,
        messaging_service_sid=FakeTwilio.MESSAGING_SERVICE_SID,
        **twilio.credentials(),
    )

    [result] = channel.send_many([sms()])

    assert isinstance(result, SendResult)
    assert twilio.accepted[0].messaging_service_sid == FakeTwilio.MESSAGING_SERVICE_SID
    assert b"From=" not in twilio.requests[0].body


def test_send_many_answers_each_message_in_order_and_sends_only_the_good_ones(
    twilio: FakeTwilio, channel: TwilioSmsChannel
) -> None:
    results = channel.send_many([sms("a"), sms("b", to="0612345678"), sms("c", text="Tot morgen")])

    assert [type(result) for result in results] == [SendResult, ChannelError, SendResult]
    assert [message.body for message in twilio.accepted] == ["Uw afspraak is morgen om 10:00.", "Tot morgen"]
    assert [result.provider_message_id for result in results if isinstance(result, SendResult)] == [
        message.sid for message in twilio.accepted
    ]


def test_twilio_does_not_deduplicate_so_a_repeated_key_is_sent_twice(
    twilio: FakeTwilio, channel: TwilioSmsChannel
) -> None:
    first, second = channel.send_many([sms("same-key"), sms("same-key")])

    assert FakeTwilio.DEDUPLICATES is False
    assert isinstance(first, SendResult)
    assert isinstance(second, SendResult)
    assert first.provider_message_id != second.provider_message_id
    assert len(twilio.accepted) == 2


# Refused before sending


@pytest.mark.parametrize(
    "number",
    [
        "0612345678",
        "31612345678",
        "+31 6 12345678",
        "+31-612345678",
        "+0612345678",
        "+3161234567890123",
        "",
        "+",
    ],
)
def test_a_number_that_is_not_e164_is_refused_without_calling_twilio(
    twilio: FakeTwilio, channel: TwilioSmsChannel, number: str
) -> None:
    error = only_error(channel.send_many([sms(to=number)]))

    assert error.permanent is True
    assert "E.164" in str(error)
    assert twilio.requests == []


def test_text_up_to_1600_characters_is_sent(twilio: FakeTwilio, channel: TwilioSmsChannel) -> None:
    [result] = channel.send_many([sms(text="a" * 1600)])

    assert isinstance(result, SendResult)
    assert len(twilio.accepted[0].body) == 1600


@pytest.mark.parametrize("text", ["a" * 1601, "😀" * 801, "a" * 100_000])
def test_text_over_twilios_1600_characters_is_refused(
    twilio: FakeTwilio, channel: TwilioSmsChannel, text: str
) -> None:
    error = only_error(channel.send_many([sms(text=text)]))

    assert error.permanent is True
    assert "at most 1600" in str(error)
    assert twilio.requests == []


def test_emoji_count_double_as_twilio_counts_them(twilio: FakeTwilio, channel: TwilioSmsChannel) -> None:
    [result] = channel.send_many([sms(text="😀" * 800)])

    assert isinstance(result, SendResult)


@pytest.mark.parametrize("text", ["", "broken \ud800 surrogate"])
def test_empty_or_unencodable_text_is_refused(
    twilio: FakeTwilio, channel: TwilioSmsChannel, text: str
) -> None:
    error = only_error(channel.send_many([sms(text=text)]))

    assert error.permanent is True
    assert twilio.requests == []


# Errors from Twilio


def test_a_wrong_auth_token_is_a_permanent_error_with_twilios_message(
    twilio: FakeTwilio, fixed_clock: FixedClock
) -> None:
    channel = TwilioSmsChannel(
        base_url=twilio.base_url, account_sid=twilio.account_sid, auth_token="wrong", sender=FakeTwilio.SENDER
    )

    error = only_error(channel.send_many([sms()]))

    assert error.permanent is True
    assert str(error) == "Twilio refused the message (HTTP 401): Authenticate (Twilio error 20003)"
    assert twilio.accepted == []


def test_a_sender_the_account_does_not_own_is_a_permanent_error(
    twilio: FakeTwilio, fixed_clock: FixedClock
) -> None:
    channel = TwilioSmsChannel(base_url=twilio.base_url, sender="+3197099999999", **twilio.credentials())

    error = only_error(channel.send_many([sms()]))

    assert error.permanent is True
    assert "21606" in str(error)
    assert error.retry_after_seconds is None


def test_too_many_requests_is_retried_after_the_seconds_twilio_asks(
    twilio: FakeTwilio, channel: TwilioSmsChannel
) -> None:
    twilio.fail_next(status=429, retry_after="7")

    error = only_error(channel.send_many([sms()]))

    assert (error.permanent, error.retry_after_seconds) == (False, 7.0)
    assert "Too Many Requests (Twilio error 20429)" in str(error)
    assert twilio.accepted == []


def test_a_retry_after_date_is_counted_from_the_clock(
    twilio: FakeTwilio, channel: TwilioSmsChannel, fixed_clock: FixedClock
) -> None:
    twilio.fail_next(
        status=429,
        retry_after=format_datetime((fixed_clock.now() + timedelta(seconds=90)).astimezone(UTC), usegmt=True),
    )

    error = only_error(channel.send_many([sms()]))

    assert (error.permanent, error.retry_after_seconds) == (False, 90.0)


def test_a_429_without_retry_after_is_retried_with_the_callers_backoff(
    twilio: FakeTwilio, channel: TwilioSmsChannel
) -> None:
    twilio.fail_next(status=429, retry_after="soon")

    error = only_error(channel.send_many([sms()]))

    assert (error.permanent, error.retry_after_seconds) == (False, None)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried(twilio: FakeTwilio, channel: TwilioSmsChannel, status: int) -> None:
    twilio.fail_next(status=status)

    error = only_error(channel.send_many([sms()]))

    assert error.permanent is False
    assert f"HTTP {status}" in str(error)


def test_only_the_failed_call_fails_and_the_next_one_goes_through(
    twilio: FakeTwilio, channel: TwilioSmsChannel
) -> None:
    twilio.fail_next(status=503)

    results = channel.send_many([sms("a"), sms("b")])

    assert [type(result) for result in results] == [ChannelError, SendResult]
    assert len(twilio.accepted) == 1


def test_a_huge_error_body_is_cut_short(twilio: FakeTwilio, channel: TwilioSmsChannel) -> None:
    twilio.fail_next(status=502, body=b"<html>" + b"x" * 900_000)

    error = only_error(channel.send_many([sms()]))

    assert error.permanent is False
    assert len(str(error)) < 300


def test_a_timeout_is_retryable_although_twilio_may_have_sent_it(
    twilio: FakeTwilio, fixed_clock: FixedClock
) -> None:
    channel = TwilioSmsChannel(
        base_url=twilio.base_url, sender=FakeTwilio.SENDER, timeout_seconds=0.2, **twilio.credentials()
    )
    twilio.delay_next(1.0)

    first = only_error(channel.send_many([sms("late")]))
    second = channel.send_many([sms("late")])

    assert first.permanent is False
    assert "could not be reached" in str(first)
    # The duplicate the module docstring warns about: both went out.
    assert isinstance(second[0], SendResult)
    assert [message.status_callback for message in twilio.accepted] == [
        f"{CALLBACK}?{REFERENCE_PARAMETER}=late"
    ] * 2


def test_a_refused_connection_is_retryable(fixed_clock: FixedClock) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    channel = TwilioSmsChannel(
        base_url=f"http://127.0.0.1:{port}",
        account_sid=FakeTwilio.ACCOUNT_SID,
        auth_token="x",
        sender=FakeTwilio.SENDER,
    )

    error = only_error(channel.send_many([sms()]))

    assert error.permanent is False


@pytest.mark.parametrize("body", [b"not json", b"{}", b'{"sid": 12}', b"[]"])
def test_an_acceptance_without_a_sid_is_not_retried(
    twilio: FakeTwilio, channel: TwilioSmsChannel, body: bytes
) -> None:
    twilio.fail_next(status=201, body=body)

    error = only_error(channel.send_many([sms()]))

    assert error.permanent is True
    assert "not retried" in str(error)


# Status callbacks


def sent(twilio: FakeTwilio, channel: TwilioSmsChannel) -> str:
    [result] = channel.send_many([sms()])
    assert isinstance(result, SendResult)
    return result.provider_message_id


def test_a_delivered_callback_becomes_a_delivery_report(
    twilio: FakeTwilio, channel: TwilioSmsChannel, fixed_clock: FixedClock
) -> None:
    sid = sent(twilio, channel)

    reports = channel.parse_webhook(twilio.status_callback(sid, "delivered").as_request())

    assert reports == [
        DeliveryReport(
            provider_message_id=sid,
            status="delivered",
            occurred_at=fixed_clock.now(),
            # Our key, echoed in the StatusCallback URL we gave: a report that
            # comes before the sid is stored still finds its message.
            client_reference="msg-1",
        )
    ]


def test_an_undelivered_callback_is_a_failure_with_twilios_error_code(
    twilio: FakeTwilio, channel: TwilioSmsChannel, fixed_clock: FixedClock
) -> None:
    sid = sent(twilio, channel)
    webhook = twilio.status_callback(sid, "undelivered", error_code="30003")

    reports = channel.parse_webhook(webhook.as_request())

    assert reports == [
        DeliveryReport(
            provider_message_id=sid,
            status="failed",
            occurred_at=fixed_clock.now(),
            error="Twilio undelivered, error 30003",
            client_reference="msg-1",
        )
    ]


@pytest.mark.parametrize(
    ("twilio_status", "status"),
    [
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("read", "read"),
        ("failed", "failed"),
        ("canceled", "failed"),
    ],
)
def test_final_and_sent_statuses_are_mapped(
    twilio: FakeTwilio, channel: TwilioSmsChannel, twilio_status: str, status: str
) -> None:
    sid = sent(twilio, channel)

    [report] = channel.parse_webhook(twilio.status_callback(sid, twilio_status).as_request())

    assert (report.provider_message_id, report.status) == (sid, status)


@pytest.mark.parametrize(
    "twilio_status", ["queued", "accepted", "scheduled", "sending", "partially_delivered", "new"]
)
def test_in_between_and_unknown_statuses_are_ignored(
    twilio: FakeTwilio, channel: TwilioSmsChannel, twilio_status: str
) -> None:
    sid = sent(twilio, channel)

    assert channel.parse_webhook(twilio.status_callback(sid, twilio_status).as_request()) == []


def test_a_replayed_callback_parses_the_same(twilio: FakeTwilio, channel: TwilioSmsChannel) -> None:
    sid = sent(twilio, channel)
    request = twilio.status_callback(sid, "delivered").as_request()

    assert channel.parse_webhook(request) == channel.parse_webhook(request)


@pytest.mark.parametrize(
    ("signed_url", "called_url"),
    [
        ("https://klantreis.example:443/webhooks/sms", "https://klantreis.example/webhooks/sms"),
        ("https://klantreis.example/webhooks/sms", "https://klantreis.example:443/webhooks/sms"),
        ("http://klantreis.example:80/webhooks/sms?a=1", "http://klantreis.example/webhooks/sms?a=1"),
    ],
)
def test_the_signature_holds_with_or_without_the_default_port(
    twilio: FakeTwilio, channel: TwilioSmsChannel, signed_url: str, called_url: str
) -> None:
    sid = sent(twilio, channel)
    request = twilio.status_callback(sid, "delivered", url=signed_url).as_request()

    reports = channel.parse_webhook(
        WebhookRequest(method="POST", url=called_url, headers=request.headers, body=request.body)
    )

    assert [report.status for report in reports] == ["delivered"]


def test_another_port_is_another_url(twilio: FakeTwilio, channel: TwilioSmsChannel) -> None:
    sid = sent(twilio, channel)
    request = twilio.status_callback(
        sid, "delivered", url="https://klantreis.example:8443/webhooks/sms"
    ).as_request()

    with pytest.raises(WebhookError, match="does not match"):
        channel.parse_webhook(
            WebhookRequest(
                method="POST",
                url="https://klantreis.example/webhooks/sms",
                headers=request.headers,
                body=request.body,
            )
        )


def with_headers(webhook: SignedWebhook, **changes: str | None) -> WebhookRequest:
    request = webhook.as_request()
    headers = {name: value for name, value in request.headers.items() if changes.get(name, "") is not None}
    headers.update({name: value for name, value in changes.items() if value is not None})
    return WebhookRequest(method=request.method, url=request.url, headers=headers, body=request.body)


def test_a_callback_without_signature_is_refused(twilio: FakeTwilio, channel: TwilioSmsChannel) -> None:
    sid = sent(twilio, channel)

    with pytest.raises(WebhookError, match="without X-Twilio-Signature"):
        channel.parse_webhook(
            with_headers(twilio.status_callback(sid, "delivered"), **{"x-twilio-signature": None})
        )


def test_a_callback_signed_with_another_token_is_refused(
    twilio: FakeTwilio, channel: TwilioSmsChannel
) -> None:
    sid = sent(twilio, channel)
    webhook = twilio.status_callback(sid, "delivered")
    params = dict(urllib.parse.parse_qsl(webhook.body.decode()))
    forged = twilio_signature("someone-elses-token", webhook.url, params)

    with pytest.raises(WebhookError, match="does not match"):
        channel.parse_webhook(with_headers(webhook, **{"x-twilio-signature": forged}))


def test_a_tampered_body_is_refused(twilio: FakeTwilio, channel: TwilioSmsChannel) -> None:
    sid = sent(twilio, channel)
    request = twilio.status_callback(sid, "undelivered", error_code="30003").as_request()
    tampered = request.body.replace(b"MessageStatus=undelivered", b"MessageStatus=delivered")
    assert tampered != request.body

    with pytest.raises(WebhookError, match="does not match"):
        channel.parse_webhook(
            WebhookRequest(method="POST", url=request.url, headers=request.headers, body=tampered)
        )


def test_a_callback_to_another_url_is_refused(twilio: FakeTwilio, channel: TwilioSmsChannel) -> None:
    sid = sent(twilio, channel)
    request = twilio.status_callback(sid, "delivered").as_request()

    with pytest.raises(WebhookError, match="does not match"):
        channel.parse_webhook(
            WebhookRequest(
                method="POST",
                url="https://evil.example/webhooks/sms",
                headers=request.headers,
                body=request.body,
            )
        )


@pytest.mark.parametrize("body", [b"%%%&&&", b"MessageSid", b"\xff\xfe=\x00", b"a=1&" * 2000])
def test_a_body_that_is_not_a_form_is_refused(
    twilio: FakeTwilio, channel: TwilioSmsChannel, body: bytes
) -> None:
    with pytest.raises(WebhookError, match="not a form"):
        channel.parse_webhook(
            WebhookRequest(method="POST", url=CALLBACK, headers={"x-twilio-signature": "abc="}, body=body)
        )


@pytest.mark.parametrize("missing", ["MessageSid", "MessageStatus"])
def test_a_signed_callback_without_sid_or_status_is_refused(
    twilio: FakeTwilio, channel: TwilioSmsChannel, missing: str
) -> None:
    sid = sent(twilio, channel)
    webhook = twilio.status_callback(sid, "delivered", overrides={missing: None})

    with pytest.raises(WebhookError, match="without MessageSid or MessageStatus"):
        channel.parse_webhook(webhook.as_request())


def test_a_signed_callback_for_another_account_is_refused(
    twilio: FakeTwilio, channel: TwilioSmsChannel
) -> None:
    sid = sent(twilio, channel)
    webhook = twilio.status_callback(sid, "delivered", overrides={"AccountSid": "AC" + "9" * 32})

    with pytest.raises(WebhookError, match="another account"):
        channel.parse_webhook(webhook.as_request())


def test_a_get_is_not_a_status_callback(twilio: FakeTwilio, channel: TwilioSmsChannel) -> None:
    sid = sent(twilio, channel)
    request = twilio.status_callback(sid, "delivered").as_request()

    with pytest.raises(WebhookError, match="POST"):
        channel.parse_webhook(
            WebhookRequest(method="GET", url=request.url, headers=request.headers, body=b"")
        )


# Configuration


def test_from_settings_reads_plain_options(twilio: FakeTwilio, fixed_clock: FixedClock) -> None:
    channel = TwilioSmsChannel.from_settings(
        {**twilio.credentials(), "sender": "Klantreis", "base_url": twilio.base_url, "timeout_seconds": "3"}
    )

    [result] = channel.send_many([sms()])

    assert isinstance(result, SendResult)
    assert twilio.accepted[0].sender == "Klantreis"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"account_sid": "AC1", "auth_token": "t", "sender": "x", "token": "t"}, "Unknown Twilio option"),
        ({"account_sid": "AC1", "sender": "x"}, "Missing Twilio option"),
        ({"account_sid": "AC1", "auth_token": "t"}, "sender"),
        ({"account_sid": "AC1", "auth_token": "t", "sender": "x", "base_url": "file:///etc"}, "http"),
        ({"account_sid": "AC1", "auth_token": "t", "sender": "x", "timeout_seconds": 0}, "positive"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TwilioSmsChannel.from_settings(options)
