import email.policy
import re
from dataclasses import replace
from typing import Any

from django.core.mail import EmailMultiAlternatives

from klantreis.messaging.channels.base import Attachment, OutgoingMessage, SendResult
from klantreis.messaging.channels.email import EmailChannel

MESSAGE = OutgoingMessage(
    idempotency_key="tp-42",
    to="Jan Jansen <jan@example.nl>",
    language="nl",
    subject="Uw afspraak: dinsdag 10:00–12:00, monteur komt naar Ĳsselstraat 3 " + "lang " * 20,
    text="Beste Jan,\n\nWe komen dinsdag.\n" + "régel\n" * 50,
    html="<p>Beste Jan,</p><p>We komen dinsdag.</p>",
    attachments=(Attachment("afspraak.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "text/calendar"),),
)


def _without_date(data: bytes) -> bytes:
    """The bytes less what differs from one build to the next: the date and the MIME boundaries."""
    data = re.sub(rb"^Date: .*\r?\n", b"", data, flags=re.MULTILINE)
    return re.sub(rb"=+\d+==", b"BOUNDARY", data)


def _plain(built: EmailMultiAlternatives) -> EmailMultiAlternatives:
    plain = EmailMultiAlternatives(
        subject=built.subject,
        body=built.body,
        from_email=built.from_email,
        to=built.to,
        headers=built.extra_headers,
    )
    plain.alternatives = built.alternatives
    plain.attachments = built.attachments
    return plain


def test_the_channel_builds_the_same_bytes_as_django_does(settings: Any) -> None:
    built = EmailChannel()._email(MESSAGE)
    for policy in (email.policy.SMTP, email.policy.default):
        ours = built.message(policy=policy).as_bytes()
        django = _plain(built).message(policy=policy).as_bytes()
        assert _without_date(ours) == _without_date(django)
        assert b"Message-ID: <tp-42@klantreis>" in ours


def test_messages_that_share_headers_are_each_built_as_django_builds_them(settings: Any) -> None:
    channel = EmailChannel()
    variants = [
        replace(MESSAGE, idempotency_key=f"tp-{n}", to=to, subject=subject, attachments=attachments)
        for n, (to, subject, attachments) in enumerate(
            [
                ("jan@example.nl", "Uw afspraak", ()),
                ("Ĳsbrand <ijs@example.nl>", "Uw afspraak", MESSAGE.attachments),
                ("jan@example.nl", "Herinnering: " + "lang " * 30, ()),
                ("jan@example.nl", "Uw afspraak", ()),  # the first again, after the others
            ]
        )
    ]
    for message in variants + variants:
        built = channel._email(message)
        ours = built.message(policy=email.policy.SMTP).as_bytes()
        django = _plain(built).message(policy=email.policy.SMTP).as_bytes()
        assert _without_date(ours) == _without_date(django)


def test_a_message_arrives_whole_at_the_smtp_server(smtp_server: Any) -> None:
    results = EmailChannel().send_many([MESSAGE])
    assert results == [SendResult(provider_message_id="tp-42", final=True)]
    [received] = smtp_server.messages
    assert received["Subject"] == MESSAGE.subject
    assert received["To"] == "Jan Jansen <jan@example.nl>"
    assert received.get_body(("plain",)).get_content().startswith("Beste Jan,")
    [attachment] = list(received.iter_attachments())
    assert attachment.get_filename() == "afspraak.ics"
