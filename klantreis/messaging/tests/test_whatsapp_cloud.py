import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
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
from klantreis.messaging.channels.whatsapp_cloud import WhatsAppCloudChannel, verify_subscription
from klantreis.messaging.tests.fake_providers import FakeTemplate, FakeWhatsAppCloud, hub_signature

SENT_AT = datetime(2026, 3, 10, 8, 31, 15, tzinfo=UTC)


@pytest.fixture
def meta() -> Iterator[FakeWhatsAppCloud]:
    with FakeWhatsAppCloud() as fake:
        yield fake


@pytest.fixture
def channel(meta: FakeWhatsAppCloud, fixed_clock: FixedClock) -> WhatsAppCloudChannel:
    return WhatsAppCloudChannel(
        base_url=meta.base_url, api_version="v23.0", timeout_seconds=2, **meta.credentials()
    )


def whatsapp(
    key: str = "msg-1",
    *,
    to: str = "+31612345678",
    text: str = "Uw afspraak is morgen om 10:00.",
    language: str = "nl",
) -> OutgoingMessage:
    return OutgoingMessage(idempotency_key=key, to=to, language=language, subject="", text=text)


def only_error(results: list[SendResult | ChannelError]) -> ChannelError:
    [result] = results
    assert isinstance(result, ChannelError), result
    return result


# Sending


def test_a_message_goes_out_as_the_configured_template_and_its_id_comes_back(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel
) -> None:
    results = channel.send_many([whatsapp()])

    [accepted] = meta.accepted
    assert results == [SendResult(provider_message_id=accepted.id, final=False)]
    assert accepted.id.startswith("wamid.")
    assert (
        accepted.to,
        accepted.template,
        accepted.language,
        accepted.parameters,
        accepted.callback_data,
    ) == (
        "+31612345678",
        FakeWhatsAppCloud.TEMPLATE,
        "nl",
        ("Uw afspraak is morgen om 10:00.",),
        "msg-1",
    )


def test_the_request_is_the_documented_template_message(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel
) -> None:
    channel.send_many([whatsapp(language="en")])

    [request] = meta.requests
    assert request.path == f"/v23.0/{FakeWhatsAppCloud.PHONE_NUMBER_ID}/messages"
    assert request.headers["authorization"] == f"Bearer {FakeWhatsAppCloud.ACCESS_TOKEN}"
    assert json.loads(request.body) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+31612345678",
        "type": "template",
        "template": {
            "name": FakeWhatsAppCloud.TEMPLATE,
            "language": {"code": "en"},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "Uw afspraak is morgen om 10:00."}]}
            ],
        },
        "biz_opaque_callback_data": "msg-1",
    }


@pytest.mark.parametrize(
    ("language", "code"), [("nl", "nl"), ("en", "en_GB"), ("en-GB", "en_GB"), ("nl_BE", "nl"), ("de", "nl")]
)
def test_the_message_language_picks_the_template_language(
    meta: FakeWhatsAppCloud, fixed_clock: FixedClock, language: str, code: str
) -> None:
    templates = [FakeTemplate(FakeWhatsAppCloud.TEMPLATE, languages=("nl", "en_GB"))]
    with FakeWhatsAppCloud(templates=templates) as fake:
        channel = WhatsAppCloudChannel(
            base_url=fake.base_url, template_languages={"nl": "nl", "en": "en_GB"}, **fake.credentials()
        )

        [result] = channel.send_many([whatsapp(language=language)])

        assert isinstance(result, SendResult)
        assert [message.language for message in fake.accepted] == [code]


def test_newlines_and_runs_of_spaces_become_single_spaces(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel
) -> None:
    [result] = channel.send_many([whatsapp(text="Beste Vera,\n\n\tUw afspraak     is morgen.\r\n")])

    assert isinstance(result, SendResult)
    assert meta.accepted[0].parameters == ("Beste Vera, Uw afspraak is morgen.",)


def test_send_many_answers_each_message_in_order_and_sends_only_the_good_ones(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel
) -> None:
    results = channel.send_many(
        [whatsapp("a"), whatsapp("b", to="0612345678"), whatsapp("c", text="Tot morgen")]
    )

    assert [type(result) for result in results] == [SendResult, ChannelError, SendResult]
    assert [message.callback_data for message in meta.accepted] == ["a", "c"]


def test_the_cloud_api_does_not_deduplicate_so_a_repeated_key_is_sent_twice(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel
) -> None:
    first, second = channel.send_many([whatsapp("same-key"), whatsapp("same-key")])

    assert FakeWhatsAppCloud.DEDUPLICATES is False
    assert isinstance(first, SendResult)
    assert isinstance(second, SendResult)
    assert first.provider_message_id != second.provider_message_id
    assert [message.callback_data for message in meta.accepted] == ["same-key", "same-key"]


# Refused before sending


@pytest.mark.parametrize("number", ["0612345678", "31612345678", "+31 6 12345678", "+0612345678", "", "+"])
def test_a_number_that_is_not_e164_is_refused_without_calling_meta(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel, number: str
) -> None:
    error = only_error(channel.send_many([whatsapp(to=number)]))

    assert error.permanent is True
    assert "E.164" in str(error)
    assert meta.requests == []


def test_text_up_to_1024_characters_is_sent(meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel) -> None:
    [result] = channel.send_many([whatsapp(text="a" * 1024)])

    assert isinstance(result, SendResult)


@pytest.mark.parametrize("text", ["a" * 1025, "😀" * 513, "a " * 600, "a" * 100_000])
def test_text_over_a_template_parameters_1024_characters_is_refused(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel, text: str
) -> None:
    error = only_error(channel.send_many([whatsapp(text=text)]))

    assert error.permanent is True
    assert "takes 1024" in str(error)
    assert meta.requests == []


@pytest.mark.parametrize("text", ["", " \n\t ", "broken \ud800 surrogate"])
def test_empty_or_unencodable_text_is_refused(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel, text: str
) -> None:
    error = only_error(channel.send_many([whatsapp(text=text)]))

    assert error.permanent is True
    assert meta.requests == []


def test_a_key_longer_than_the_callback_data_meta_keeps_is_refused(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel
) -> None:
    error = only_error(channel.send_many([whatsapp("k" * 513)]))

    assert error.permanent is True
    assert meta.requests == []


# Errors from Meta


def test_a_wrong_access_token_is_a_permanent_error_with_metas_message(
    meta: FakeWhatsAppCloud, fixed_clock: FixedClock
) -> None:
    channel = WhatsAppCloudChannel(base_url=meta.base_url, **{**meta.credentials(), "access_token": "wrong"})

    error = only_error(channel.send_many([whatsapp()]))

    assert error.permanent is True
    assert str(error) == (
        "WhatsApp refused the message (HTTP 401): "
        "Invalid OAuth access token - Cannot parse access token [Graph error 190]"
    )
    assert meta.accepted == []


def test_an_unknown_template_is_a_permanent_error(meta: FakeWhatsAppCloud, fixed_clock: FixedClock) -> None:
    channel = WhatsAppCloudChannel(base_url=meta.base_url, **{**meta.credentials(), "template_name": "gone"})

    error = only_error(channel.send_many([whatsapp()]))

    assert error.permanent is True
    assert "132001" in str(error)
    assert "template name (gone) does not exist in nl" in str(error)


def test_a_template_with_another_parameter_count_is_a_permanent_error(fixed_clock: FixedClock) -> None:
    with FakeWhatsAppCloud(templates=[FakeTemplate(FakeWhatsAppCloud.TEMPLATE, body_parameters=2)]) as fake:
        channel = WhatsAppCloudChannel(base_url=fake.base_url, **fake.credentials())

        error = only_error(channel.send_many([whatsapp()]))

    assert error.permanent is True
    assert "132000" in str(error)


@pytest.mark.parametrize(
    ("status", "code"), [(400, 130429), (400, 131056), (400, 80007), (400, 4), (500, 131000)]
)
def test_throttling_and_transient_graph_errors_are_retried_whatever_the_status(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel, status: int, code: int
) -> None:
    meta.fail_next(status=status, code=code, message=f"(#{code}) try later")

    error = only_error(channel.send_many([whatsapp()]))

    assert error.permanent is False
    assert f"[Graph error {code}]" in str(error)


@pytest.mark.parametrize(("status", "code"), [(400, 131047), (400, 131026), (403, 10), (400, 100)])
def test_other_client_errors_are_permanent(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel, status: int, code: int
) -> None:
    meta.fail_next(status=status, code=code, message=f"(#{code}) no")

    error = only_error(channel.send_many([whatsapp()]))

    assert error.permanent is True


def test_too_many_requests_is_retried_after_the_seconds_meta_asks(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel
) -> None:
    meta.fail_next(status=429, retry_after="12")

    error = only_error(channel.send_many([whatsapp()]))

    assert (error.permanent, error.retry_after_seconds) == (False, 12.0)


def test_a_retry_after_date_is_counted_from_the_clock(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel, fixed_clock: FixedClock
) -> None:
    later = (fixed_clock.now() + timedelta(minutes=2)).astimezone(UTC)
    meta.fail_next(status=503, retry_after=format_datetime(later, usegmt=True))

    error = only_error(channel.send_many([whatsapp()]))

    assert (error.permanent, error.retry_after_seconds) == (False, 120.0)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel, status: int
) -> None:
    meta.fail_next(status=status, body=b"<html>Bad Gateway</html>")

    error = only_error(channel.send_many([whatsapp()]))

    assert error.permanent is False
    assert "Bad Gateway" in str(error)


def test_a_timeout_is_retryable_although_meta_may_have_sent_it(
    meta: FakeWhatsAppCloud, fixed_clock: FixedClock
) -> None:
    channel = WhatsAppCloudChannel(base_url=meta.base_url, timeout_seconds=0.2, **meta.credentials())
    meta.delay_next(1.0)

    error = only_error(channel.send_many([whatsapp()]))

    assert error.permanent is False
    assert "could not be reached" in str(error)
    assert len(meta.accepted) == 1


def test_a_timeout_before_meta_took_it_sends_nothing(
    meta: FakeWhatsAppCloud, fixed_clock: FixedClock
) -> None:
    channel = WhatsAppCloudChannel(base_url=meta.base_url, timeout_seconds=0.2, **meta.credentials())
    meta.delay_next(1.0, before_processing=True)

    error = only_error(channel.send_many([whatsapp()]))

    assert error.permanent is False
    assert meta.accepted == []


def test_a_refused_connection_is_retryable(meta: FakeWhatsAppCloud, fixed_clock: FixedClock) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    channel = WhatsAppCloudChannel(base_url=f"http://127.0.0.1:{port}", **meta.credentials())

    error = only_error(channel.send_many([whatsapp()]))

    assert error.permanent is False


@pytest.mark.parametrize(
    "body", [b"not json", b"{}", b'{"messages": []}', b'{"messages": [{"id": 7}]}', b"[" * 100_000]
)
def test_an_acceptance_without_a_message_id_is_not_retried(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel, body: bytes
) -> None:
    meta.fail_next(status=200, body=body)

    error = only_error(channel.send_many([whatsapp()]))

    assert error.permanent is True
    assert "not retried" in str(error)


# Status webhooks


def sent(meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel) -> str:
    [result] = channel.send_many([whatsapp()])
    assert isinstance(result, SendResult)
    return result.provider_message_id


@pytest.mark.parametrize("status", ["sent", "delivered", "read"])
def test_a_status_webhook_becomes_a_delivery_report_at_metas_time(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel, status: str
) -> None:
    message_id = sent(meta, channel)

    reports = channel.parse_webhook(meta.status_webhook(message_id, status, timestamp=SENT_AT).as_request())

    # Meta echoes our key (biz_opaque_callback_data): a report that comes
    # before the message id is stored still finds its message.
    assert reports == [
        DeliveryReport(
            provider_message_id=message_id, status=status, occurred_at=SENT_AT, client_reference="msg-1"
        )
    ]


def test_a_failed_status_carries_metas_error(meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel) -> None:
    message_id = sent(meta, channel)
    webhook = meta.status_webhook(
        message_id,
        "failed",
        error_code=131047,
        error_title="Re-engagement message",
        error_details="More than 24 hours have passed since the recipient last replied to the sender number.",
        timestamp=SENT_AT,
    )

    reports = channel.parse_webhook(webhook.as_request())

    assert reports == [
        DeliveryReport(
            provider_message_id=message_id,
            status="failed",
            occurred_at=SENT_AT,
            error="WhatsApp error 131047: More than 24 hours have passed since the recipient last replied "
            "to the sender number.",
            client_reference="msg-1",
        )
    ]


def test_one_webhook_can_carry_several_statuses_in_order(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel
) -> None:
    first, second = (sent(meta, channel) for _ in range(2))
    statuses = [
        {"id": first, "status": "delivered", "timestamp": "1773131475", "recipient_id": "31612345678"},
        {"id": second, "status": "deleted", "timestamp": "1773131476", "recipient_id": "31612345678"},
        {"id": second, "status": "read", "timestamp": 1773131477, "recipient_id": "31612345678"},
    ]

    reports = channel.parse_webhook(meta.signed_webhook(meta.webhook_payload(statuses)).as_request())

    assert [(report.provider_message_id, report.status, report.occurred_at) for report in reports] == [
        (first, "delivered", datetime(2026, 3, 10, 8, 31, 15, tzinfo=UTC)),
        (second, "read", datetime(2026, 3, 10, 8, 31, 17, tzinfo=UTC)),
    ]


@pytest.mark.parametrize("status", ["deleted", "warning", "pending", "held_for_quality_assessment"])
def test_unknown_statuses_are_ignored(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel, status: str
) -> None:
    message_id = sent(meta, channel)

    assert channel.parse_webhook(meta.status_webhook(message_id, status).as_request()) == []


def test_inbound_messages_and_other_fields_are_ignored(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel
) -> None:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": FakeWhatsAppCloud.BUSINESS_ACCOUNT_ID,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "contacts": [{"profile": {"name": "Vera"}, "wa_id": "31612345678"}],
                            "messages": [{"from": "31612345678", "id": "wamid.IN", "type": "text"}],
                        },
                    },
                    {"field": "message_template_status_update", "value": {"event": "APPROVED"}},
                ],
            }
        ],
    }

    assert channel.parse_webhook(meta.signed_webhook(payload).as_request()) == []


def test_a_replayed_webhook_parses_the_same(meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel) -> None:
    message_id = sent(meta, channel)
    request = meta.status_webhook(message_id, "delivered").as_request()

    first = channel.parse_webhook(request)

    assert channel.parse_webhook(request) == first
    assert [report.status for report in first] == ["delivered"]


def with_signature(
    request: WebhookRequest, signature: str | None, body: bytes | None = None
) -> WebhookRequest:
    headers = {name: value for name, value in request.headers.items() if name != "x-hub-signature-256"}
    if signature is not None:
        headers["x-hub-signature-256"] = signature
    return WebhookRequest(
        method="POST", url=request.url, headers=headers, body=request.body if body is None else body
    )


def test_a_webhook_without_signature_is_refused(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel
) -> None:
    request = meta.status_webhook(sent(meta, channel), "delivered").as_request()

    with pytest.raises(WebhookError, match="without X-Hub-Signature-256"):
        channel.parse_webhook(with_signature(request, None))


@pytest.mark.parametrize(
    "make", [lambda body: hub_signature("another-secret", body), lambda body: "sha256=" + "0" * 64]
)
def test_a_webhook_signed_with_another_secret_is_refused(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel, make: Any
) -> None:
    request = meta.status_webhook(sent(meta, channel), "delivered").as_request()

    with pytest.raises(WebhookError, match="does not match"):
        channel.parse_webhook(with_signature(request, make(request.body)))


@pytest.mark.parametrize(
    "mangle", [lambda s: s.removeprefix("sha256="), lambda s: "sha1=" + s[7:], lambda s: s[:-2]]
)
def test_a_signature_not_in_metas_format_is_refused(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel, mangle: Any
) -> None:
    request = meta.status_webhook(sent(meta, channel), "delivered").as_request()

    with pytest.raises(WebhookError, match="not sha256=<hex>"):
        channel.parse_webhook(with_signature(request, mangle(request.headers["x-hub-signature-256"])))


def test_a_tampered_body_is_refused(meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel) -> None:
    request = meta.status_webhook(sent(meta, channel), "failed").as_request()
    tampered = request.body.replace(b'"failed"', b'"delivered"')
    assert tampered != request.body

    with pytest.raises(WebhookError, match="does not match"):
        channel.parse_webhook(with_signature(request, request.headers["x-hub-signature-256"], tampered))


def test_an_uppercase_hex_signature_is_accepted(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel
) -> None:
    request = meta.status_webhook(sent(meta, channel), "delivered").as_request()
    upper = "sha256=" + request.headers["x-hub-signature-256"][7:].upper()

    assert [report.status for report in channel.parse_webhook(with_signature(request, upper))] == [
        "delivered"
    ]


@pytest.mark.parametrize("body", [b"not json", b'{"object": ', b"\xff\xfe\x00", b"[" * 100_000])
def test_a_signed_body_that_is_not_json_is_refused(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel, body: bytes
) -> None:
    with pytest.raises(WebhookError, match="not JSON"):
        channel.parse_webhook(meta.signed_webhook(body).as_request())


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"object": "page", "entry": []},
        {"object": "whatsapp_business_account"},
        {"object": "whatsapp_business_account", "entry": {}},
        {"object": "whatsapp_business_account", "entry": ["x"]},
        {"object": "whatsapp_business_account", "entry": [{"changes": "x"}]},
        {"object": "whatsapp_business_account", "entry": [{"changes": [7]}]},
        {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": []}]}]},
        {
            "object": "whatsapp_business_account",
            "entry": [{"changes": [{"field": "messages", "value": {"statuses": {}}}]}],
        },
        {
            "object": "whatsapp_business_account",
            "entry": [{"changes": [{"field": "messages", "value": {"statuses": [1]}}]}],
        },
    ],
)
def test_a_signed_payload_in_the_wrong_shape_is_refused(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel, payload: Any
) -> None:
    with pytest.raises(WebhookError):
        channel.parse_webhook(meta.signed_webhook(payload).as_request())


@pytest.mark.parametrize(
    "status",
    [
        {"id": "wamid.X", "status": ["delivered"], "timestamp": "1"},
        {"status": "delivered", "timestamp": "1773131475"},
        {"id": "", "status": "delivered", "timestamp": "1773131475"},
        {"id": "wamid.X", "status": "delivered"},
        {"id": "wamid.X", "status": "delivered", "timestamp": "yesterday"},
        {"id": "wamid.X", "status": "delivered", "timestamp": "9" * 400},
        {"id": "wamid.X", "status": "delivered", "timestamp": True},
    ],
)
def test_a_signed_status_with_missing_or_odd_fields_is_refused(
    meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel, status: dict[str, Any]
) -> None:
    with pytest.raises(WebhookError):
        channel.parse_webhook(meta.signed_webhook(meta.webhook_payload([status])).as_request())


def test_a_get_is_not_a_status_webhook(meta: FakeWhatsAppCloud, channel: WhatsAppCloudChannel) -> None:
    request = meta.status_webhook(sent(meta, channel), "delivered").as_request()

    with pytest.raises(WebhookError, match="verify_subscription"):
        channel.parse_webhook(
            WebhookRequest(method="GET", url=request.url, headers=request.headers, body=b"")
        )


# Subscription handshake


def test_the_subscription_handshake_echoes_the_challenge() -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": "geheim", "hub.challenge": "1158201444"}

    assert verify_subscription(query, "geheim") == "1158201444"


@pytest.mark.parametrize(
    ("query", "token"),
    [
        ({"hub.mode": "subscribe", "hub.verify_token": "fout", "hub.challenge": "1"}, "geheim"),
        ({"hub.mode": "unsubscribe", "hub.verify_token": "geheim", "hub.challenge": "1"}, "geheim"),
        ({"hub.verify_token": "geheim", "hub.challenge": "1"}, "geheim"),
        ({"hub.mode": "subscribe", "hub.challenge": "1"}, "geheim"),
        ({"hub.mode": "subscribe", "hub.verify_token": "geheim"}, "geheim"),
        (
            {"hub.mode": "subscribe", "hub.verify_token": "geheim", "hub.challenge": "<script>x</script> 1"},
            "geheim",
        ),
        ({"hub.mode": "subscribe", "hub.verify_token": "geheim", "hub.challenge": "9" * 513}, "geheim"),
        ({"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}, ""),
    ],
)
def test_a_wrong_subscription_handshake_is_refused(query: dict[str, str], token: str) -> None:
    with pytest.raises(WebhookError):
        verify_subscription(query, token)


# Configuration


def test_from_settings_reads_plain_options(meta: FakeWhatsAppCloud, fixed_clock: FixedClock) -> None:
    channel = WhatsAppCloudChannel.from_settings(
        {
            **meta.credentials(),
            "base_url": meta.base_url,
            "api_version": "v23.0",
            "template_languages": {"nl": "nl", "en": "en"},
            "default_language": "en",
            "timeout_seconds": "3",
            "verify_token": "geheim",
        }
    )

    [result] = channel.send_many([whatsapp(language="fr")])

    assert isinstance(result, SendResult)
    assert meta.accepted[0].language == "en"
    assert channel.verify_token == "geheim"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"token": "t"}, "Unknown WhatsApp option"),
        ({"app_secret": ""}, "Missing WhatsApp option"),
        ({"default_language": "fr"}, "no template language"),
        ({"api_version": "23"}, "v23.0"),
        ({"base_url": "file:///etc"}, "http"),
        ({"timeout_seconds": -1}, "positive"),
    ],
)
def test_bad_options_are_refused(meta: FakeWhatsAppCloud, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WhatsAppCloudChannel.from_settings({**meta.credentials(), **changes})
