"""The customer's pages: sign in by one-time link, report, follow requests."""

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
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
from klantreis.core.errors import ApplicationError
from klantreis.core.http import HtmxHttpRequest
from klantreis.customers.models import Customer
from klantreis.customers.selectors import customer_get_by_email, customer_homes
from klantreis.customers.tasks import customer_sign_in_link_send
from klantreis.intake.forms import report_flow_for
from klantreis.intake.models import RepairRequest
from klantreis.intake.selectors import request_get_for, request_history, request_list_for
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


@role_required(Role.CUSTOMER)
def home(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    requests = request_list_for(user=user)
    return render(request, "portal/home.html", {"requests": requests, "customer": _customer(request)})


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
        target = reverse("portal:request_detail", kwargs={"reference": created.reference})
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
        {"repair": repair, "history": request_history(request=repair), "photo_url": "portal:request_photo"},
    )


@role_required(Role.CUSTOMER)
def request_photo(request: HttpRequest, reference: str, photo_id: int) -> FileResponse:
    user = request_user(request)
    repair = request_get_for(user=user, reference=reference)
    photo = repair.photos.filter(pk=photo_id).first()
    if photo is None:
        raise Http404
    return FileResponse(photo.image.open("rb"), content_type=photo.content_type)
