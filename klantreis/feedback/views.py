"""The survey page a customer reaches from a message: no sign-in, the token in
the link is the key. Answers go through `survey_answer`; the page only shows."""

from collections.abc import Callable
from functools import wraps
from typing import Concatenate

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from klantreis.accounts.models import User
from klantreis.core.errors import ApplicationError
from klantreis.feedback.forms import SurveyAnswerForm
from klantreis.feedback.models import Survey
from klantreis.feedback.selectors import survey_get_by_token, survey_send_get
from klantreis.feedback.services import (
    MESSAGE_SURVEY_ANSWERED,
    MESSAGE_SURVEY_UNKNOWN,
    survey_answer,
    survey_check,
)

# The token is in the URL, so no request from these pages may carry the path
# in a Referer. Not "no-referrer": under that policy browsers send
# `Origin: null` with the page's own form posts, which Django's CSRF check
# refuses (403). "strict-origin" sends only the origin, never the path.
REFERRER_POLICY = "strict-origin"

type SurveyView = Callable[Concatenate[HttpRequest, ...], HttpResponse]


def _private(view: SurveyView) -> SurveyView:
    """Keep the token out of caches, history snapshots and Referer headers."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        response = view(request, *args, **kwargs)
        add_never_cache_headers(response)  # Cache-Control: …, no-store, …
        response.headers["Referrer-Policy"] = REFERRER_POLICY
        return response

    return wrapped


def _language(request: HttpRequest, survey: Survey) -> str:
    """The survey's language, unless the visitor chose one with the language
    switch (the header's form, which sets the cookie)."""
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    return chosen if chosen in User.Language.values else survey.language


def _in_language(request: HttpRequest, survey: Survey, respond: Callable[[], HttpResponse]) -> HttpResponse:
    language = _language(request, survey)
    with translation.override(language):
        response = respond()
    response.headers["Content-Language"] = language
    return response


def _unavailable(request: HttpRequest, *, error: ApplicationError) -> HttpResponse:
    if error.message is MESSAGE_SURVEY_UNKNOWN:
        status, heading = 404, _("Survey not found")
    elif error.message is MESSAGE_SURVEY_ANSWERED:
        status, heading = 410, _("Already answered")
    else:
        status, heading = 410, _("Survey closed")
    return render(
        request, "feedback/unavailable.html", {"heading": heading, "error": error.message}, status=status
    )


@_private
@require_http_methods(["GET", "POST"])
def answer(request: HttpRequest, token: str) -> HttpResponse:
    questions = survey_send_get(token=token)
    if not questions:
        return _unavailable(request, error=ApplicationError(MESSAGE_SURVEY_UNKNOWN))
    return _in_language(request, questions[0], lambda: _answer(request, questions, token))


def _answer(request: HttpRequest, questions: list[Survey], token: str) -> HttpResponse:
    try:
        survey_check(token=token)
    except ApplicationError as error:
        return _unavailable(request, error=error)
    posted = request.method == "POST"
    form = SurveyAnswerForm(request.POST if posted else None, questions=questions)
    if posted and form.is_valid():
        try:
            survey_answer(token=token, scores=form.scores(), comment=form.cleaned_data["comment"])
        except ApplicationError as error:
            if error.field not in form.fields:  # answered or closed since the page was shown
                return _unavailable(request, error=error)
            form.add_error(error.field, str(error.message))
        else:
            return redirect("feedback:thanks", token=token)
    return render(
        request,
        "feedback/answer.html",
        {"form": form, "survey": questions[0], "questions": questions, "token": token},
        status=422 if posted else 200,
    )


@_private
@require_GET
def thanks(request: HttpRequest, token: str) -> HttpResponse:
    survey = survey_get_by_token(token=token)
    if survey is None:
        return _unavailable(request, error=ApplicationError(MESSAGE_SURVEY_UNKNOWN))
    if survey.answered_at is None:
        return redirect("feedback:answer", token=token)
    return _in_language(request, survey, lambda: render(request, "feedback/thanks.html", {"survey": survey}))
