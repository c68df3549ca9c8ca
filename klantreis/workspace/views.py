"""Staff screens: the request list, a request, and the agent's phone intake."""

from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from klantreis.accounts.access import (
    ALL_REQUESTS_ROLES,
    INTAKE_ROLES,
    STAFF_ROLES,
    Role,
    request_user,
    role_required,
)
from klantreis.core import clock
from klantreis.core.errors import ApplicationError
from klantreis.core.http import HtmxHttpRequest
from klantreis.core.models import Organisation
from klantreis.customers.models import Customer
from klantreis.customers.selectors import customer_homes, home_search, postcode_normalise
from klantreis.events.models import Event
from klantreis.intake.forms import report_flow_for
from klantreis.intake.models import RepairRequest
from klantreis.intake.selectors import request_get_for, request_history, request_list_for
from klantreis.planning.forms import AppointmentForm, window_text
from klantreis.planning.plan import slot_offer_list
from klantreis.planning.selectors import (
    BOOKABLE_STATUSES,
    appointment_for_request,
    job_open_for_request,
    technician_names,
)
from klantreis.planning.services import MESSAGE_ALREADY_BOOKED, MESSAGE_NOT_BOOKABLE, appointment_book
from klantreis.workspace.desk import DESK_ROLES
from klantreis.workspace.forms import CustomerSearchForm, RequestFilterForm

# Who books a time block for a customer: the agent on the phone, and planners.
BOOKING_ROLES = frozenset({Role.AGENT, Role.PLANNER, Role.ADMIN})


@role_required(*STAFF_ROLES)
def home(request: HttpRequest) -> HttpResponse:
    requests = request_list_for(user=request_user(request))
    form = RequestFilterForm(request.GET or None)
    if form.is_valid():
        if form.cleaned_data["status"]:
            requests = requests.filter(status=form.cleaned_data["status"])
        if form.cleaned_data["urgency"]:
            requests = requests.filter(urgency=form.cleaned_data["urgency"])
        if query := form.cleaned_data["q"].strip():
            postcode = postcode_normalise(query)
            requests = requests.filter(
                Q(reference__iexact=query) | Q(home__postcode=postcode or query.upper())
            )
    page = Paginator(requests, 50).get_page(request.GET.get("page"))
    return render(request, "workspace/home.html", {"page": page, "form": form})


@role_required(*STAFF_ROLES)
def request_detail(request: HttpRequest, reference: str) -> HttpResponse:
    user = request_user(request)
    repair = request_get_for(user=user, reference=reference)
    return render(
        request,
        "workspace/request_detail.html",
        {
            "repair": repair,
            "history": request_history(request=repair),
            "photo_url": "workspace:request_photo",
            # Notes are the organisation's own; subcontractors do not see them.
            "show_notes": user.role in ALL_REQUESTS_ROLES,
            "appointment": appointment_for_request(request=repair),
            "can_book": user.role in BOOKING_ROLES
            and repair.status in BOOKABLE_STATUSES
            and job_open_for_request(request=repair) is None,
            "can_answer": user.role in DESK_ROLES,
        },
    )


def _appointment_context(request: HttpRequest, repair: RepairRequest, *, data: Any = None) -> dict[str, Any]:
    """The booking screen: the appointment once there is one, else the offered
    blocks with the technician behind each (emergencies too: today only)."""
    context: dict[str, Any] = {
        "repair": repair,
        "action": reverse("workspace:appointment", kwargs={"reference": repair.reference}),
    }
    if (job := job_open_for_request(request=repair)) is not None:
        return context | {"job": job}
    if repair.status not in BOOKABLE_STATUSES:
        return context | {"closed": True}
    now = clock.now()
    slots = slot_offer_list(request=repair, now=now)
    form = AppointmentForm(
        data,
        slots=slots,
        zone=ZoneInfo(Organisation.current().time_zone),
        now=now,
        selected=request.GET.get("slot", ""),
        show_all=request.GET.get("all") == "1",
        technicians=technician_names(ids=(slot.technician_id for slot in slots)),
    )
    return context | {"form": form}


@role_required(*BOOKING_ROLES)
@require_http_methods(["GET", "POST"])
def appointment(request: HtmxHttpRequest, reference: str) -> HttpResponse:
    """An agent books a time block for the customer on the phone."""
    user = request_user(request)
    repair = request_get_for(user=user, reference=reference)
    template = "workspace/appointment.html#booking" if request.htmx else "workspace/appointment.html"
    if request.method == "GET":
        return render(request, template, _appointment_context(request, repair))

    context = _appointment_context(request, repair, data=request.POST)
    form = context.get("form")
    if form is None:  # nothing to book: already booked or closed
        context["error"] = MESSAGE_ALREADY_BOOKED if "job" in context else MESSAGE_NOT_BOOKABLE
        return render(request, template, context, status=422)
    if not form.is_valid():
        return render(request, template, context, status=422)
    slot = form.cleaned_data["slot"]
    try:
        job = appointment_book(
            request=repair,
            window_start=slot.start,
            window_end=slot.end,
            actor=user,
            channel=Event.Channel.PHONE,
        )
    except ApplicationError as error:
        # Taken since the screen was shown (or the request changed): the
        # screen again, with what is offered now.
        context = _appointment_context(request, repair) | {"error": error.message}
        return render(request, template, context, status=422)
    messages.success(
        request,
        _("Appointment booked for %(reference)s: %(window)s (%(technician)s).")
        % {
            "reference": repair.reference,
            "window": window_text(start=slot.start, end=slot.end, zone=form.zone),
            "technician": job.technician.name if job.technician else job.firm.name,
        },
    )
    target = reverse("workspace:request_detail", kwargs={"reference": repair.reference})
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@role_required(*STAFF_ROLES)
def request_photo(request: HttpRequest, reference: str, photo_id: int) -> FileResponse:
    repair = request_get_for(user=request_user(request), reference=reference)
    photo = repair.photos.filter(pk=photo_id).first()
    if photo is None:
        raise Http404
    return FileResponse(photo.image.open("rb"), content_type=photo.content_type)


@role_required(*INTAKE_ROLES)
def customer_search(request: HtmxHttpRequest) -> HttpResponse:
    form = CustomerSearchForm(request.GET or None)
    homes = None
    if form.is_valid():
        homes = home_search(
            postcode=form.cleaned_data["postcode"],
            house_number=form.cleaned_data["house_number"],
            phone=form.cleaned_data["phone"],
        )[:25]
    template = "workspace/customer_search.html#results" if request.htmx else "workspace/customer_search.html"
    return render(request, template, {"form": form, "homes": homes})


@role_required(*INTAKE_ROLES)
@require_http_methods(["GET", "POST"])
def intake(request: HtmxHttpRequest, customer_id: int) -> HttpResponse:
    customer = get_object_or_404(Customer.objects.select_related("user"), pk=customer_id)
    homes = customer_homes(customer=customer)
    flow = report_flow_for(request, homes=homes, agent=True)
    created = flow.submit(actor=request_user(request), customer=customer, channel=RepairRequest.Channel.PHONE)
    if created is not None:
        messages.success(request, _("Request %(reference)s recorded.") % {"reference": created.reference})
        target = reverse("workspace:request_detail", kwargs={"reference": created.reference})
        return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
    context: dict[str, Any] = {
        "flow": flow,
        "error": flow.error,
        "customer": customer,
        "action": reverse("workspace:intake", kwargs={"customer_id": customer.pk}),
    }
    template = "workspace/intake.html#flow" if request.htmx else "workspace/intake.html"
    return render(request, template, context, status=422 if flow.failed else 200)
