"""The customer's pages: sign in by one-time link, report, follow requests."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth import login
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format, time_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import capfirst
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_htmx.http import HTMX_STOP_POLLING, HttpResponseClientRedirect

from klantreis.accounts.access import Role, request_user, role_required
from klantreis.accounts.services import sign_in_link_check, sign_in_link_redeem
from klantreis.core import clock
from klantreis.core.errors import ApplicationError
from klantreis.core.http import HtmxHttpRequest
from klantreis.core.models import Organisation
from klantreis.customers.models import Customer
from klantreis.customers.selectors import customer_get_by_email, customer_homes
from klantreis.customers.tasks import customer_sign_in_link_send
from klantreis.events.models import Event
from klantreis.intake.forms import report_flow_for
from klantreis.intake.models import RepairRequest
from klantreis.intake.selectors import request_get_for, request_history, request_list_for
from klantreis.journeys.selectors import touchpoint_upcoming_list
from klantreis.messaging.selectors import inbox_message_list
from klantreis.planning.calendar import local
from klantreis.planning.forms import AppointmentForm, window_text
from klantreis.planning.models import Job, PlanningSettings
from klantreis.planning.plan import slot_offer_list
from klantreis.planning.selectors import BOOKABLE_STATUSES, appointment_for_request, job_open_for_request
from klantreis.planning.services import (
    MESSAGE_ALREADY_BOOKED,
    MESSAGE_NOT_BOOKABLE,
    appointment_book,
    appointment_cancel,
    appointment_reschedule,
)
from klantreis.portal.forms import AppointmentCancelForm, SignInLinkForm


def _customer(request: HttpRequest) -> Customer:
    user = request_user(request)
    customer = Customer.objects.filter(user=user).first()
    if customer is None:
        raise Http404
    return customer


@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    """Customers ask for a link by e-mail; staff follow the link to the password form."""
    next_url = request.POST.get("next") or request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    form = SignInLinkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        customer = customer_get_by_email(email=form.cleaned_data["email"])
        if customer is not None:
            transaction.on_commit(lambda: customer_sign_in_link_send.enqueue(customer.pk, next_url))
        # The same answer whether or not the address is known, so the form
        # cannot be used to find out who is a tenant.
        return redirect(reverse("portal:sign_in_sent") + "?email=" + form.cleaned_data["email"])
    return render(request, "portal/sign_in.html", {"form": form, "next": next_url})


def sign_in_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/sign_in_sent.html", {"email": request.GET.get("email", "")[:254]})


@require_http_methods(["GET", "POST"])
def sign_in_link(request: HttpRequest, token: str) -> HttpResponse:
    """GET only shows a button: mail scanners that open links must not use them up."""
    try:
        if request.method == "GET":
            sign_in_link_check(token=token)
            return render(request, "portal/sign_in_confirm.html", {"token": token})
        link = sign_in_link_redeem(token=token)
    except ApplicationError as error:
        return render(request, "portal/sign_in_failed.html", {"error": error.message}, status=410)
    login(request, link.user, backend="django.contrib.auth.backends.ModelBackend")
    target = link.next_url if url_has_allowed_host_and_scheme(link.next_url, {request.get_host()}) else ""
    return redirect(target or "portal:home")


INBOX_PAGE = 10


@role_required(Role.CUSTOMER)
def home(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    customer = _customer(request)
    requests = request_list_for(user=user)
    inbox = Paginator(inbox_message_list(customer=customer), INBOX_PAGE).get_page(request.GET.get("page"))
    return render(request, "portal/home.html", {"requests": requests, "customer": customer, "inbox": inbox})


@role_required(Role.CUSTOMER)
@require_http_methods(["GET", "POST"])
def report(request: HtmxHttpRequest) -> HttpResponse:
    customer = _customer(request)
    user = request_user(request)
    homes = customer_homes(customer=customer)
    flow = report_flow_for(request, homes=homes, agent=False)
    created = flow.submit(actor=user, customer=customer, channel=RepairRequest.Channel.PORTAL)
    if created is not None:
        messages.success(
            request,
            _("Thank you. We have received your report %(reference)s.") % {"reference": created.reference},
        )
        # Step 2 of the journey follows at once: choose a time. An emergency is
        # not planned online; its page tells the tenant to call.
        name = (
            "portal:request_detail"
            if created.urgency == RepairRequest.Urgency.EMERGENCY
            else "portal:appointment"
        )
        target = reverse(name, kwargs={"reference": created.reference})
        return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
    context: dict[str, Any] = {"flow": flow, "error": flow.error, "action": reverse("portal:report")}
    template = "portal/report.html#flow" if request.htmx else "portal/report.html"
    return render(request, template, context, status=422 if flow.failed else 200)


@dataclass(frozen=True)
class NextStep:
    """Something still to come on the request's timeline."""

    at: datetime
    title: str
    when: str


def _next_steps(repair: RepairRequest, appointment: Job | None, zone: ZoneInfo) -> list[NextStep]:
    """The booked visit and the messages the journey will still send, by time."""
    steps = []
    if appointment is not None and appointment.visit_start and appointment.visit_end:
        steps.append(
            NextStep(
                at=appointment.visit_start,
                title=_("Technician visit"),
                when=capfirst(
                    window_text(start=appointment.visit_start, end=appointment.visit_end, zone=zone)
                ),
            )
        )
    for touchpoint in touchpoint_upcoming_list(case_id=repair.case_id, language=get_language() or "nl"):
        # Already in the customer's own time zone.
        due = touchpoint.due_at
        steps.append(
            NextStep(
                at=due,
                title=touchpoint.name,
                when=f"{capfirst(date_format(due, 'l j F'))} {time_format(due, 'H:i')}",
            )
        )
    return sorted(steps, key=lambda step: step.at)


@dataclass(frozen=True)
class Arrival:
    """What the request page says about the technician's arrival on the day."""

    job: Job
    expected: datetime | None
    on_the_way: bool
    arrived: bool

    @property
    def live(self) -> bool:
        """Still worth asking again: the estimate can move until arrival."""
        return not self.arrived

    @property
    def late(self) -> bool:
        return (
            self.expected is not None
            and self.job.visit_end is not None
            and self.expected > self.job.visit_end
        )


def _arrival(appointment: Job | None, *, now: datetime, zone: ZoneInfo) -> Arrival | None:
    """The arrival when the technician is on the way or the visit is today."""
    if appointment is None or appointment.visit_start is None:
        return None
    today = appointment.visit_start.astimezone(zone).date() == now.astimezone(zone).date()
    if appointment.on_the_way_at is None and appointment.arrived_at is None and not today:
        return None
    return Arrival(
        job=appointment,
        expected=appointment.expected_arrival or appointment.planned_start,
        on_the_way=appointment.on_the_way_at is not None,
        arrived=appointment.arrived_at is not None,
    )


@role_required(Role.CUSTOMER)
def request_detail(request: HttpRequest, reference: str) -> HttpResponse:
    user = request_user(request)
    repair = request_get_for(user=user, reference=reference)
    zone = ZoneInfo(Organisation.current().time_zone)
    appointment = appointment_for_request(request=repair)
    return render(
        request,
        "portal/request_detail.html",
        {
            "repair": repair,
            "history": request_history(request=repair, for_customer=True),
            "next_steps": _next_steps(repair, appointment, zone),
            "arrival": _arrival(appointment, now=clock.now(), zone=zone),
            "photo_url": "portal:request_photo",
            "appointment": appointment,
            "can_book": _can_book(repair),
            "inbox": inbox_message_list(customer=_customer(request), case_id=repair.case_id)[:INBOX_PAGE],
        },
    )


@role_required(Role.CUSTOMER)
def request_eta(request: HttpRequest, reference: str) -> HttpResponse:
    """The arrival fragment the request page asks for every 30 seconds."""
    user = request_user(request)
    repair = request_get_for(user=user, reference=reference)
    zone = ZoneInfo(Organisation.current().time_zone)
    arrival = _arrival(appointment_for_request(request=repair), now=clock.now(), zone=zone)
    # htmx stops polling on 286: nothing will change any more (arrived, or no visit today).
    status = (
        HTMX_STOP_POLLING if request.headers.get("HX-Request") and not (arrival and arrival.live) else 200
    )
    return render(request, "portal/_eta.html", {"repair": repair, "arrival": arrival}, status=status)


def _can_book(repair: RepairRequest) -> bool:
    return (
        repair.status in BOOKABLE_STATUSES
        and repair.urgency != RepairRequest.Urgency.EMERGENCY
        and job_open_for_request(request=repair) is None
    )


def _appointment_context(request: HttpRequest, repair: RepairRequest, *, data: Any = None) -> dict[str, Any]:
    """What the appointment page shows: the call box for an emergency, the
    appointment once there is one, or the offered blocks."""
    context: dict[str, Any] = {
        "repair": repair,
        "action": reverse("portal:appointment", kwargs={"reference": repair.reference}),
    }
    if repair.urgency == RepairRequest.Urgency.EMERGENCY:
        return context | {"emergency": True}
    if (job := job_open_for_request(request=repair)) is not None:
        return context | {"job": job, "change": _change_rule(job, now=clock.now())}
    if repair.status not in BOOKABLE_STATUSES:
        return context | {"closed": True}
    now = clock.now()
    form = AppointmentForm(
        data,
        slots=slot_offer_list(request=repair, now=now),
        zone=ZoneInfo(Organisation.current().time_zone),
        now=now,
        selected=request.GET.get("slot", ""),
        show_all=request.GET.get("all") == "1",
    )
    return context | {"form": form}


@role_required(Role.CUSTOMER)
@require_http_methods(["GET", "POST"])
def appointment(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """Step 2 of the journey: the tenant chooses one of the offered time blocks."""
    user = request_user(request)
    repair = request_get_for(user=user, reference=reference)
    template = "portal/appointment.html#booking" if request.htmx else "portal/appointment.html"
    if request.method == "GET":
        return render(request, template, _appointment_context(request, repair))

    context = _appointment_context(request, repair, data=request.POST)
    form = context.get("form")
    if form is None:  # nothing to book: an emergency, already booked or closed
        if "job" in context:
            context["error"] = MESSAGE_ALREADY_BOOKED
        elif "closed" in context:
            context["error"] = MESSAGE_NOT_BOOKABLE
        return render(request, template, context, status=422)
    if not form.is_valid():
        return render(request, template, context, status=422)
    slot = form.cleaned_data["slot"]
    try:
        appointment_book(
            request=repair,
            window_start=slot.start,
            window_end=slot.end,
            actor=user,
            channel=Event.Channel.PORTAL,
        )
    except ApplicationError as error:
        # Taken by someone else since the page was shown (or the request
        # changed): the page again, with what is offered now.
        context = _appointment_context(request, repair) | {"error": error.message}
        return render(request, template, context, status=422)
    messages.success(
        request,
        _("Your appointment is booked: %(window)s.")
        % {"window": window_text(start=slot.start, end=slot.end, zone=form.zone)},
    )
    target = reverse("portal:request_detail", kwargs={"reference": repair.reference})
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@dataclass(frozen=True)
class ChangeRule:
    """Whether the tenant may still move or cancel the appointment, and until when."""

    allowed: bool
    until: datetime | None  # None: until the technician arrives


def _change_rule(job: Job, *, now: datetime) -> ChangeRule:
    """The organisation's rule as the page tells it in advance; the services
    enforce the same rule under lock (appointment_reschedule, appointment_cancel)."""
    if job.status != Job.Status.OPEN or job.visit_start is None or job.arrived_at is not None:
        return ChangeRule(allowed=False, until=None)
    cutoff = PlanningSettings.current().change_cutoff
    if cutoff is None:
        return ChangeRule(allowed=True, until=None)
    zone = ZoneInfo(Organisation.current().time_zone)
    day_before = job.visit_start.astimezone(zone).date() - timedelta(days=1)
    until = local(day_before, cutoff, zone)
    return ChangeRule(allowed=now <= until, until=until)


def _booked_job(repair: RepairRequest) -> Job | None:
    """The appointment that can be moved or cancelled: open, with a window."""
    return appointment_for_request(request=repair)


def _change_context(
    request: HttpRequest, repair: RepairRequest, job: Job, *, data: Any = None
) -> dict[str, Any]:
    """The blocks the booked job can move to (it keeps its place until the
    new one is held)."""
    now = clock.now()
    form = AppointmentForm(
        data,
        slots=slot_offer_list(request=repair, now=now, moving=job),
        zone=ZoneInfo(Organisation.current().time_zone),
        now=now,
        selected=request.GET.get("slot", ""),
        show_all=request.GET.get("all") == "1",
    )
    return {
        "repair": repair,
        "job": job,
        "change": _change_rule(job, now=now),
        "form": form,
        "action": reverse("portal:appointment_reschedule", kwargs={"reference": repair.reference}),
    }


def _part(request: HtmxHttpRequest) -> bool:
    """Only the swapped part: the links push these pages' addresses, and htmx
    asks a pushed address again for the whole page when it restores history."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def _done(request: HtmxHttpRequest, repair: RepairRequest) -> HttpResponse:
    target = reverse("portal:request_detail", kwargs={"reference": repair.reference})
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


def _no_change(request: HtmxHttpRequest, repair: RepairRequest) -> HttpResponse:
    """Nothing booked to change (cancelled meanwhile, or never booked): the
    appointment page says what can be done instead."""
    target = reverse("portal:appointment", kwargs={"reference": repair.reference})
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@role_required(Role.CUSTOMER)
@require_http_methods(["GET", "POST"])
def appointment_change(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """Move the booked appointment to another offered block, any hour."""
    user = request_user(request)
    repair = request_get_for(user=user, reference=reference)
    job = _booked_job(repair)
    if job is None:
        return _no_change(request, repair)
    template = "portal/appointment_change.html#change" if _part(request) else "portal/appointment_change.html"
    if request.method == "GET":
        return render(request, template, _change_context(request, repair, job))
    context = _change_context(request, repair, job, data=request.POST)
    form = context["form"]
    if not form.is_valid():
        return render(request, template, context, status=422)
    slot = form.cleaned_data["slot"]
    try:
        moved = appointment_reschedule(
            job=job, window_start=slot.start, window_end=slot.end, actor=user, channel=Event.Channel.PORTAL
        )
    except ApplicationError as error:
        # Taken meanwhile, or past the cut-off now: the page again with what
        # is offered now; the old appointment still stands.
        context = _change_context(request, repair, job) | {"error": error.message}
        return render(request, template, context, status=422)
    messages.success(
        request,
        _("Your appointment has moved to %(window)s.")
        % {
            "window": window_text(
                start=moved.visit_start or slot.start, end=moved.visit_end or slot.end, zone=form.zone
            )
        },
    )
    return _done(request, repair)


@role_required(Role.CUSTOMER)
@require_http_methods(["GET", "POST"])
def appointment_cancel_confirm(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """Cancelling asks once more, with room for an optional reason."""
    user = request_user(request)
    repair = request_get_for(user=user, reference=reference)
    job = _booked_job(repair)
    if job is None:
        return _no_change(request, repair)
    template = "portal/appointment_cancel.html#cancel" if _part(request) else "portal/appointment_cancel.html"
    form = AppointmentCancelForm(request.POST if request.method == "POST" else None)
    context: dict[str, Any] = {
        "repair": repair,
        "job": job,
        "change": _change_rule(job, now=clock.now()),
        "form": form,
        "action": reverse("portal:appointment_cancel", kwargs={"reference": repair.reference}),
    }
    if request.method == "GET":
        return render(request, template, context)
    if not form.is_valid():
        return render(request, template, context, status=422)
    try:
        appointment_cancel(
            job=job, actor=user, channel=Event.Channel.PORTAL, reason=form.cleaned_data["reason"]
        )
    except ApplicationError as error:
        context["error"] = error.message
        context["change"] = _change_rule(job, now=clock.now())
        return render(request, template, context, status=422)
    messages.success(
        request,
        _("Your appointment is cancelled. You can choose a new time whenever it suits you."),
    )
    return _done(request, repair)


@role_required(Role.CUSTOMER)
def request_photo(request: HttpRequest, reference: str, photo_id: int) -> FileResponse:
    user = request_user(request)
    repair = request_get_for(user=user, reference=reference)
    photo = repair.photos.filter(pk=photo_id).first()
    if photo is None:
        raise Http404
    return FileResponse(photo.image.open("rb"), content_type=photo.content_type)
