"""Reads of the intake domain, scoped to who is asking."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.formats import date_format, time_format
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from klantreis.accounts.access import ALL_REQUESTS_ROLES
from klantreis.accounts.models import User
from klantreis.core.models import Organisation
from klantreis.events.models import Event
from klantreis.events.selectors import event_list_for_case
from klantreis.feedback.selectors import survey_keys_for_case
from klantreis.intake.models import RepairRequest, TriageTree, VeraCode


def request_list_for(*, user: User) -> QuerySet[RepairRequest]:
    """The requests `user` may see: a customer their own, a subcontractor
    their firm's, a technician the ones given to them, office roles all."""
    requests = RepairRequest.objects.select_related(
        "home", "customer", "defect_type", "defect_location", "specialism"
    )
    if not user.is_authenticated or not user.is_active:
        return requests.none()
    if user.role == User.Role.CUSTOMER:
        return requests.filter(customer__user=user)
    if user.role in ALL_REQUESTS_ROLES:
        return requests
    if user.role == User.Role.SUBCONTRACTOR:
        return requests.filter(jobs__firm__members=user).distinct()
    if user.role == User.Role.TECHNICIAN:
        return requests.filter(jobs__technician__user=user).distinct()
    return requests.none()


def request_get_for(*, user: User, reference: str) -> RepairRequest:
    """One request by reference, or 404 when it does not exist *or* is not
    the user's to see (so ids of others cannot be probed)."""
    request = request_list_for(user=user).filter(reference=reference).first()
    if request is None:
        raise Http404
    return request


def triage_tree_list() -> QuerySet[TriageTree]:
    return TriageTree.objects.filter(active=True).select_related("defect_type")


def vera_code_list(*, kind: str, search: str = "") -> QuerySet[VeraCode]:
    codes = VeraCode.objects.filter(kind=kind, valid_until__isnull=True)
    if search:
        codes = codes.filter(
            Q(code__iexact=search) | Q(name__icontains=search) | Q(name_en__icontains=search)
        )
    return codes


@dataclass(frozen=True)
class HistoryItem:
    occurred_at: datetime
    description: str
    activity: str
    detail: str = ""  # e.g. the window of an appointment, in the organisation's time


ACTIVITY_TEXTS: dict[str, Any] = {
    "request.reported": _("Reported via %(channel)s"),
    "request.photo_added": _("Photo added"),
    "job.assigned": _("Given to a technician"),
    "appointment.booked": _("Appointment made via %(channel)s"),
    "appointment.rescheduled": _("Appointment moved via %(channel)s"),
    "appointment.cancelled": _("Appointment cancelled via %(channel)s"),
    "technician.on_the_way": _("The technician is on the way"),
    "eta.updated": _("Expected arrival updated"),
    "visit.arrived": _("The technician has arrived"),
    "visit.fixed": _("Technician visit: fixed"),
    "visit.not_fixed": _("Technician visit: not fixed yet"),
    "visit.not_home": _("Technician visit: nobody home"),
    "visit.cancelled": _("Visit cancelled"),
    "survey.sent": _("Survey sent: how did it go? (%(channel)s)"),
    "survey.answered": _("Survey answered"),
    "message.sent": _("Message sent (%(channel)s)"),
    "request.information_added": _("Information added"),
    "customer.message_sent": _("Message to the service desk"),
    "desk.message_sent": _("Answer from the service desk"),
}
# What the person wrote travels with these events; the history shows it.
WRITTEN_ACTIVITIES = frozenset({"request.information_added", "customer.message_sent", "desk.message_sent"})


# What only the office reads: the machinery behind the customer's journey.
STAFF_ACTIVITY_TEXTS: dict[str, Any] = {
    "appointment.replanned": _("Given to another technician by the day's planning"),
    "job.pinned": _("Pinned to a technician by the planner"),
    "message.delivered": _("Message delivered (%(channel)s)"),
    "message.read": _("Message read (%(channel)s)"),
    "message.failed": _("Message could not be delivered (%(channel)s)"),
    "message.not_delivered_in_time": _("Message not delivered in time (%(channel)s)"),
    "message.retried": _("Message sent again (%(channel)s)"),
    "journey.started": _("Journey started"),
    "journey.ended": _("Journey ended"),
    "touchpoint.skipped": _("Journey step skipped"),
    "touchpoint.cancelled": _("Journey step cancelled"),
    "touchpoint.deferred": _("Journey step postponed"),
    "touchpoint.rescheduled": _("Journey step moved"),
    "touchpoint.done": _("Journey step done"),
    "task.created": _("Task created for the office"),
    "task.completed": _("Office task done"),
}


def _moment(value: Any, zone: ZoneInfo) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(zone) if moment.tzinfo is not None else None


def _detail(activity: str, attributes: dict[str, Any], zone: ZoneInfo) -> str:
    """The when of an appointment or an arrival estimate, as the reader's
    wall clock shows it."""
    if activity in ("appointment.booked", "appointment.rescheduled", "appointment.cancelled"):
        start = _moment(attributes.get("window_start"), zone)
        end = _moment(attributes.get("window_end"), zone)
        if start is None or end is None:
            return ""
        return gettext("%(day)s between %(start)s and %(end)s") % {
            "day": capfirst(date_format(start, "l j F")),
            "start": time_format(start, "H:i"),
            "end": time_format(end, "H:i"),
        }
    if activity == "eta.updated" and (eta := _moment(attributes.get("eta"), zone)) is not None:
        return gettext("Around %(time)s") % {"time": time_format(eta, "H:i")}
    if activity in WRITTEN_ACTIVITIES:
        photos = attributes.get("photos")
        text = str(attributes.get("text", ""))
        if isinstance(photos, int) and photos:
            added = ngettext("%(count)d photo", "%(count)d photos", photos) % {"count": photos}
            return f"{text} ({added})" if text else added
        return text
    if activity == "survey.answered" and isinstance(attributes.get("score"), int):
        return gettext("Score: %(score)s") % {"score": attributes["score"]}
    return ""


def _activity(event: Event, survey_keys: set[str]) -> str:
    """Which text an event gets: a message that carried a survey link reads
    as the survey (its fallback copies have keys "<key>.<channel>")."""
    if event.activity == "message.sent":
        key = str(event.attributes.get("key", "")).split(".", 1)[0]
        if key in survey_keys:
            return "survey.sent"
    return event.activity


def request_history(*, request: RepairRequest, for_customer: bool = False) -> list[HistoryItem]:
    """The request's events as sentences for the person reading them. The
    customer reads only what happened for them; the office reads the
    journey's machinery too."""
    items = []
    channels = dict(Event.Channel.choices) | dict(RepairRequest.Channel.choices)
    statuses = dict(RepairRequest.Status.choices)
    zone = ZoneInfo(Organisation.current().time_zone)
    survey_keys = survey_keys_for_case(case_id=request.case_id)
    texts = ACTIVITY_TEXTS if for_customer else ACTIVITY_TEXTS | STAFF_ACTIVITY_TEXTS
    for event in event_list_for_case(case_id=request.case_id):
        activity = _activity(event, survey_keys)
        if activity == "request.status_changed":
            text = _("Status: %(status)s") % {"status": statuses.get(event.attributes.get("to"), "?")}
        elif activity in texts:
            text = texts[activity] % {"channel": channels.get(event.channel, event.channel)}
        elif for_customer:
            continue
        else:
            text = event.activity
        items.append(
            HistoryItem(
                occurred_at=event.occurred_at,
                description=str(text),
                activity=activity,
                detail=_detail(activity, event.attributes, zone),
            )
        )
    return items
