"""Turning a due touchpoint into the words a customer reads (and its calendar file)."""

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import formats, translation
from django.utils.html import urlize

from klantreis.accounts.services import EntryTarget, entry_link_token
from klantreis.core.models import Organisation
from klantreis.customers.models import Customer
from klantreis.journeys.definition import LANGUAGES
from klantreis.journeys.timing import moment_read
from klantreis.messaging.channels.base import Attachment


def _url(name: str, **kwargs: Any) -> str:
    try:
        return settings.SITE_URL + reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return settings.SITE_URL + "/"


def entry_url(*, customer: Customer | None, reference: str, target: str) -> str:
    """The signed link that signs the customer in and opens the page; the
    portal's home when there is no request (or no customer) to open."""
    if customer is None or not reference:
        return _url("portal:home")
    token = entry_link_token(user_id=customer.user_id, reference=reference, target=target)
    return _url("portal:entry", token=token)


def request_page_url(reference: str) -> str:
    """The request's page, behind the sign-in: for places a link may be
    shared from (a calendar entry), where a signed entry link must not go."""
    return _url("portal:request_detail", reference=reference) if reference else _url("portal:home")


def window_text(start: datetime | None, end: datetime | None, zone: ZoneInfo, language: str) -> str:
    """'on Tuesday 10 March between 10:00 and 12:00' in the reader's language."""
    if start is None or end is None:
        return ""
    start, end = start.astimezone(zone), end.astimezone(zone)
    with translation.override(language):
        day = formats.date_format(start, "l j F")
        if language == "nl":
            return f"op {day} tussen {start:%H:%M} en {end:%H:%M}"
        return f"on {day} between {start:%H:%M} and {end:%H:%M}"


def language_for(customer: Customer | None) -> str:
    language = customer.language if customer is not None else settings.LANGUAGE_CODE
    return language if language in LANGUAGES else "nl"


def template_values(
    *,
    customer: Customer | None,
    attributes: dict[str, Any],
    anchors: dict[str, Any],
    context: dict[str, Any],
    zone: ZoneInfo,
    language: str,
    organisation: Organisation,
    survey_link: str = "",
) -> dict[str, str]:
    reference = str(context.get("request") or attributes.get("request") or "")
    eta = moment_read(context.get("eta"))
    return {
        "name": customer.name if customer is not None else "",
        "reference": reference,
        "organisation": organisation.name,
        "phone": organisation.service_phone,
        "window": window_text(
            moment_read(anchors.get("appointment.start")),
            moment_read(anchors.get("appointment.end")),
            zone,
            language,
        ),
        "eta": f"{eta.astimezone(zone):%H:%M}" if eta is not None else "",
        "link": entry_url(customer=customer, reference=reference, target=EntryTarget.REQUEST),
        "rebook_link": entry_url(customer=customer, reference=reference, target=EntryTarget.APPOINTMENT),
        "survey_link": survey_link,
    }


def html_for(text: str, *, subject: str, language: str) -> str:
    """The HTML part of an e-mail: the same words, paragraphs and links kept."""
    paragraphs = [
        urlize(part.strip(), autoescape=True).replace("\n", "<br>")
        for part in text.split("\n\n")
        if part.strip()
    ]
    with translation.override(language):
        return render_to_string(
            "journeys/email/message.html",
            {"subject": subject, "paragraphs": paragraphs, "language": language},
        )


def appointment_ics(
    *,
    uid: str,
    start: datetime,
    end: datetime,
    summary: str,
    description: str,
    location: str,
    organisation: Organisation,
    sequence: int,
    stamp: datetime,
) -> Attachment:
    """An iCalendar (RFC 5545) REQUEST for the appointment window. The UID stays
    the same for a case's appointment, SEQUENCE grows with each change, so a
    calendar moves the entry instead of adding one."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//klantreis//journeys//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    # In UTC: a calendar shows it in its reader's zone, with no zone table needed.
    event.add("dtstart", start.astimezone(UTC))
    event.add("dtend", end.astimezone(UTC))
    event.add("sequence", sequence)
    event.add("summary", summary)
    event.add("description", description)
    event.add("location", location)
    event.add("organizer", f"mailto:{settings.DEFAULT_FROM_EMAIL.split('<')[-1].rstrip('>')}")
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    calendar.add_component(event)
    return Attachment(filename="afspraak.ics", content=calendar.to_ical(), mimetype="text/calendar")
