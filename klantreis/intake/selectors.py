"""Reads of the intake domain, scoped to who is asking."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from klantreis.accounts.access import ALL_REQUESTS_ROLES
from klantreis.accounts.models import User
from klantreis.events.selectors import event_list_for_case
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


ACTIVITY_TEXTS: dict[str, Any] = {
    "request.reported": _("Reported via %(channel)s"),
    "request.photo_added": _("Photo added"),
    "job.assigned": _("Given to a technician"),
    "appointment.booked": _("Appointment made via %(channel)s"),
    "visit.fixed": _("Technician visit: fixed"),
    "visit.not_fixed": _("Technician visit: not fixed yet"),
    "visit.not_home": _("Technician visit: nobody home"),
    "visit.cancelled": _("Visit cancelled"),
}


def request_history(*, request: RepairRequest) -> list[HistoryItem]:
    """The request's events as sentences for the person reading them."""
    items = []
    channels = dict(RepairRequest.Channel.choices)
    statuses = dict(RepairRequest.Status.choices)
    for event in event_list_for_case(case_id=request.case_id):
        if event.activity == "request.status_changed":
            text = _("Status: %(status)s") % {"status": statuses.get(event.attributes.get("to"), "?")}
        elif event.activity in ACTIVITY_TEXTS:
            text = ACTIVITY_TEXTS[event.activity] % {"channel": channels.get(event.channel, event.channel)}
        else:
            text = event.activity
        items.append(
            HistoryItem(occurred_at=event.occurred_at, description=str(text), activity=event.activity)
        )
    return items
