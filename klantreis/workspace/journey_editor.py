"""The journey editor: designers read and change the journey definitions.

A save is checked in full before anything changes; a refused save shows the
text again exactly as typed with every problem by line and field, and the
running version stays in use. A good save becomes the next version; cases
already on their way keep the version they started with.
"""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from klantreis.accounts.access import Role, request_user, role_required
from klantreis.core.errors import ApplicationError
from klantreis.journeys.definition import DefinitionError, DefinitionProblem
from klantreis.journeys.models import JourneyDefinition
from klantreis.journeys.selectors import (
    JourneySummary,
    journey_definition_get,
    journey_summary_get,
    journey_summary_list,
)
from klantreis.journeys.services import definition_save, spec_for
from klantreis.workspace.forms import JourneyDefinitionForm

JOURNEY_ROLES = frozenset({Role.DESIGNER, Role.ADMIN})


def journey_name(definition: JourneyDefinition | None, fallback: str) -> str:
    """The journey's name in the reader's language, from its definition."""
    if definition is None:
        return fallback
    try:
        names = spec_for(definition).name
    except DefinitionError:  # a version saved under rules that have since changed
        return fallback
    return names.get(get_language() or "nl") or names.get("nl") or fallback


def _current(summary: JourneySummary) -> JourneyDefinition:
    """The version the editor starts from: the active one (or else the newest)."""
    return summary.active or summary.versions[0].definition


@role_required(*JOURNEY_ROLES)
@require_GET
def journey_list(request: HttpRequest) -> HttpResponse:
    journeys = [
        {"summary": summary, "name": journey_name(summary.active, summary.key)}
        for summary in journey_summary_list()
    ]
    return render(request, "workspace/journeys.html", {"journeys": journeys})


def problem_text(problem: DefinitionProblem) -> str:
    """One problem as the designer reads it: line, field, reason (the reason
    comes from the parser and the schema, in English)."""
    field = problem.field or _("the whole definition")
    if problem.line is None:
        return _("%(field)s: %(reason)s") % {"field": field, "reason": problem.reason}
    return _("line %(line)s, %(field)s: %(reason)s") % {
        "line": problem.line,
        "field": field,
        "reason": problem.reason,
    }


@role_required(*JOURNEY_ROLES)
@require_http_methods(["GET", "POST"])
def journey_edit(request: HttpRequest, key: str) -> HttpResponse:
    summary = journey_summary_get(key=key)
    current = _current(summary)
    status = 200
    start_from: JourneyDefinition | None = None
    if request.method == "POST":
        form = JourneyDefinitionForm(request.POST)
        if form.is_valid():
            try:
                saved = definition_save(
                    source=form.cleaned_data["source"],
                    actor=request_user(request),
                    note=form.cleaned_data["note"],
                    key=key,
                )
            except ApplicationError as failure:
                # As errors of the text field: Django marks it aria-invalid
                # and points its aria-describedby at the list.
                problems: list[DefinitionProblem] = failure.extra.get("problems") or []
                for message in [problem_text(p) for p in problems] or [str(failure.message)]:
                    form.add_error("source", message)
            else:
                messages.success(
                    request,
                    _("Version %(version)s is now active; running journeys keep their version.")
                    % {"version": saved.version},
                )
                return redirect(reverse("workspace:journey_edit", kwargs={"key": key}))
        status = 422
    else:
        # "Edit starting from this version": an earlier version's text, to save it as the next one.
        start = request.GET.get("from", "")
        if start.isdigit() and len(start) < 10:
            start_from = next(
                (v.definition for v in summary.versions if v.definition.version == int(start)), None
            )
        form = JourneyDefinitionForm(initial={"source": (start_from or current).source})
    context: dict[str, Any] = {
        "summary": summary,
        "current": current,
        "name": journey_name(current, key),
        "form": form,
        "start_from": start_from,
    }
    return render(request, "workspace/journey_edit.html", context, status=status)


@role_required(*JOURNEY_ROLES)
@require_GET
def journey_version(request: HttpRequest, key: str, version: int) -> HttpResponse:
    definition = journey_definition_get(key=key, version=version)
    summary = journey_summary_get(key=key)
    running = next((v.running for v in summary.versions if v.definition.pk == definition.pk), 0)
    context: dict[str, Any] = {
        "summary": summary,
        "definition": definition,
        "running": running,
        "name": journey_name(definition, key),
    }
    return render(request, "workspace/journey_version.html", context)
