"""Entry by the signed links in messages: `/portal/go/<token>/` signs the
customer in and opens their request or its appointment page. A link that no
longer works gets a page, in the customer's language when known, that offers
a sign-in link by e-mail instead."""

from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET

from klantreis.accounts.services import (
    MESSAGE_ENTRY_EXPIRED,
    MESSAGE_ENTRY_INVALID,
    EntryLink,
    EntryTarget,
    entry_link_read,
)
from klantreis.core.errors import ApplicationError
from klantreis.intake.selectors import request_list_for
from klantreis.portal.forms import SignInLinkForm

TARGET_VIEWS = {
    EntryTarget.REQUEST: "portal:request_detail",
    EntryTarget.APPOINTMENT: "portal:appointment",
}

# The token is in the path: keep it out of the Referer of anything this page loads.
REFERRER_POLICY = "strict-origin"


def _target_url(reference: str, target: str) -> str:
    return reverse(TARGET_VIEWS[target], kwargs={"reference": reference})


def _refused(request: HttpRequest, *, error: ApplicationError) -> HttpResponse:
    expired = error.message is MESSAGE_ENTRY_EXPIRED
    next_url = ""
    if expired and error.extra.get("target") in TARGET_VIEWS:
        next_url = _target_url(str(error.extra["reference"]), str(error.extra["target"]))
    language = str(error.extra.get("language") or translation.get_language())
    with translation.override(language):
        response = render(
            request,
            "portal/entry_failed.html",
            {"error": error.message, "form": SignInLinkForm(), "next": next_url},
            status=410 if expired else 400,
        )
    response.headers["Content-Language"] = language
    return response


def _enter(request: HttpRequest, link: EntryLink) -> HttpResponse:
    # The link must lead to a request of the customer it signs in; anything
    # else (another tenant's reference, a removed request) is refused like a
    # tampered link, so nothing can be learnt from it.
    if not request_list_for(user=link.user).filter(reference=link.reference).exists():
        return _refused(request, error=ApplicationError(MESSAGE_ENTRY_INVALID))
    if request.user.is_authenticated and request.user.pk != link.user.pk:
        # Someone else is signed in on this browser (a shared tablet, a
        # relative): they are signed out before the link's owner comes in.
        logout(request)
    if not request.user.is_authenticated:
        login(request, link.user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect(_target_url(link.reference, link.target))


@require_GET
def entry(request: HttpRequest, token: str) -> HttpResponse:
    """Opening the link is enough: unlike the one-time sign-in link it is not
    used up, so a mail scanner that opens it takes nothing from the customer."""
    try:
        link = entry_link_read(token=token)
    except ApplicationError as error:
        response = _refused(request, error=error)
    else:
        response = _enter(request, link)
    add_never_cache_headers(response)
    response.headers["Referrer-Policy"] = REFERRER_POLICY
    return response
