"""From the request page the tenant adds information or photos, and writes
to the service desk. Each has its own page for errors, which comes back with
what was typed."""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from klantreis.accounts.access import Role, request_user, role_required
from klantreis.core.errors import ApplicationError
from klantreis.customers.models import Customer
from klantreis.intake.models import RepairRequest
from klantreis.intake.selectors import request_get_for
from klantreis.intake.services import CLOSED_STATUSES, MESSAGE_INFORMATION_CLOSED, request_information_add
from klantreis.journeys.desk import customer_message_send
from klantreis.portal.contact_forms import DeskMessageForm, InformationForm


def _redirect_to_request(repair: RepairRequest) -> HttpResponse:
    return redirect("portal:request_detail", reference=repair.reference)


def _add_error(form: Any, error: ApplicationError) -> None:
    form.add_error(error.field if error.field in form.fields else None, str(error.message))


@role_required(Role.CUSTOMER)
@require_http_methods(["GET", "POST"])
def information_add(request: HttpRequest, reference: str) -> HttpResponse:
    user = request_user(request)
    repair = request_get_for(user=user, reference=reference)
    closed = repair.status in CLOSED_STATUSES
    posted = request.method == "POST"
    form = InformationForm(request.POST if posted else None, request.FILES if posted else None)
    context = {"repair": repair, "form": form, "closed": closed}
    if not posted:
        return render(request, "portal/information.html", context)
    if form.is_valid():
        try:
            request_information_add(
                request=repair,
                actor=user,
                text=form.cleaned_data["text"],
                photos=form.cleaned_data["photos"],
            )
        except ApplicationError as error:
            if error.message is MESSAGE_INFORMATION_CLOSED:
                context["closed"] = True
            _add_error(form, error)
        else:
            messages.success(request, _("Thank you. We have added it to your request."))
            return _redirect_to_request(repair)
    # A browser cannot be given files back: the page says to choose them again.
    context["photos_lost"] = bool(request.FILES)
    return render(request, "portal/information.html", context, status=422)


@role_required(Role.CUSTOMER)
@require_http_methods(["GET", "POST"])
def desk_message(request: HttpRequest, reference: str) -> HttpResponse:
    user = request_user(request)
    repair = request_get_for(user=user, reference=reference)
    posted = request.method == "POST"
    form = DeskMessageForm(request.POST if posted else None)
    if not posted:
        return render(request, "portal/desk_message.html", {"repair": repair, "form": form})
    if form.is_valid():
        try:
            customer_message_send(
                customer=Customer.objects.get(user=user),
                actor=user,
                case_id=repair.case_id,
                reference=repair.reference,
                text=form.cleaned_data["text"],
                key=str(form.cleaned_data["key"]),
            )
        except ApplicationError as error:
            _add_error(form, error)
        else:
            messages.success(request, _("Your message has been sent. We will answer within one working day."))
            return _redirect_to_request(repair)
    return render(request, "portal/desk_message.html", {"repair": repair, "form": form}, status=422)
