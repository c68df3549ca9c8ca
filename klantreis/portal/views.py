"""The customer's pages: sign in by one-time link, report, follow requests."""

from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth import login
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

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
from klantreis.messaging.selectors import inbox_message_list
from klantreis.planning.forms import AppointmentForm, window_text
from klantreis.planning.plan import slot_offer_list
from klantreis.planning.selectors import BOOKABLE_STATUSES, appointment_for_request, job_open_for_request
from klantreis.planning.services import MESSAGE_ALREADY_BOOKED, MESSAGE_NOT_BOOKABLE, appointment_book
from klantreis.portal.forms import SignInLinkForm


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


@role_required(Role.CUSTOMER)
def request_detail(request: HttpRequest, reference: str) -> HttpResponse:
    user = request_user(request)
    repair = request_get_for(user=user, reference=reference)
    return render(
        request,
        "portal/request_detail.html",
        {
            "repair": repair,
            "history": request_history(request=repair),
            "photo_url": "portal:request_photo",
            "appointment": appointment_for_request(request=repair),
            "can_book": _can_book(repair),
            "inbox": inbox_message_list(customer=_customer(request), case_id=repair.case_id)[:INBOX_PAGE],
        },
    )


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
        return context | {"job": job}
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


@role_required(Role.CUSTOMER)
def request_photo(request: HttpRequest, reference: str, photo_id: int) -> FileResponse:
    user = request_user(request)
    repair = request_get_for(user=user, reference=reference)
    photo = repair.photos.filter(pk=photo_id).first()
    if photo is None:
        raise Http404
    return FileResponse(photo.image.open("rb"), content_type=photo.content_type)
