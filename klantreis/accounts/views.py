from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from klantreis.accounts.models import User
from klantreis.accounts.services import user_language_set


@require_POST
def language(request: HttpRequest) -> HttpResponse:
    """Switch the language: for a visitor in a cookie, for a signed-in
    person also on their account, so mail and messages follow."""
    choice = request.POST.get("language", "")
    if choice not in User.Language.values:
        return HttpResponseBadRequest(_("Choose Dutch or English."))
    if isinstance(request.user, User) and request.user.is_authenticated:
        user_language_set(user=request.user, language=choice)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    response = redirect(target)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        choice,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
    )
    return response
