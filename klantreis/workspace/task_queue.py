"""The staff task queue: the human touchpoints of running journeys (a call
back after a low score, …), nearest deadline first, marked once overdue.
Agents, planners and admins mark a task done, with an optional note;
designers look only."""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from klantreis.accounts.access import Role, request_user, role_required
from klantreis.core import clock
from klantreis.core.errors import ApplicationError
from klantreis.core.http import HtmxHttpRequest
from klantreis.core.models import Organisation
from klantreis.journeys.models import StaffTask
from klantreis.journeys.selectors import staff_task_open_list, staff_task_queues
from klantreis.journeys.services import staff_task_complete
from klantreis.workspace.forms import QUEUE_PATTERN, TASK_NOTE_MAX, TaskDoneForm, TaskQueueFilterForm

TASK_VIEW_ROLES = frozenset({Role.AGENT, Role.PLANNER, Role.DESIGNER, Role.MANAGER, Role.ADMIN})
TASK_ACT_ROLES = frozenset({Role.AGENT, Role.PLANNER, Role.ADMIN})
TASK_PAGE = 50
CASE_PREFIX = "request:"

# The queues the shipped journeys use; a designer's own queues show by their key.
QUEUE_NAMES = {"callbacks": gettext_lazy("Call-backs"), "desk": gettext_lazy("Service desk")}
DETAIL_LABELS = {
    "score": gettext_lazy("Score"),
    "kind": gettext_lazy("Survey"),
    "comment_given": gettext_lazy("Comment given"),
    "message": gettext_lazy("Message"),
}
# Ids that mean nothing to a person; the request is the link.
DETAIL_HIDDEN = {"request", "survey", "event", "customer"}


@dataclass(frozen=True)
class TaskRow:
    task: StaffTask
    title: str
    queue: str
    reference: str  # of the repair request, "" when the case is something else
    overdue: bool
    details: tuple[tuple[str, str], ...]


def queue_name(queue: str) -> str:
    return str(QUEUE_NAMES.get(queue, queue))


def _detail_value(value: Any) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return str(value)


def _row(task: StaffTask, *, language: str, now: datetime) -> TaskRow:
    reference = task.case_id.removeprefix(CASE_PREFIX) if task.case_id.startswith(CASE_PREFIX) else ""
    # The known details in a fixed order (the score first), then any others by name.
    known = list(DETAIL_LABELS)
    keys = sorted(task.details, key=lambda key: (known.index(key) if key in known else len(known), key))
    details = tuple(
        (str(DETAIL_LABELS.get(key, key)), _detail_value(task.details[key]))
        for key in keys
        if key not in DETAIL_HIDDEN
    )
    return TaskRow(
        task=task,
        title=task.title(language),
        queue=queue_name(task.queue),
        reference=reference,
        overdue=task.deadline < now,
        details=details,
    )


def _queue_from(value: str) -> str:
    """The queue to go back to after marking a task done (only a well-formed name)."""
    return value if re.fullmatch(QUEUE_PATTERN, value) else ""


def _list_url(queue: str) -> str:
    url = reverse("workspace:tasks")
    return f"{url}?{urlencode({'queue': queue})}" if queue else url


def _render(
    request: HtmxHttpRequest,
    *,
    queue_data: Any,
    error: str = "",
    notice: str = "",
    failed: StaffTask | None = None,
    failed_form: TaskDoneForm | None = None,
    status: int = 200,
) -> HttpResponse:
    form = TaskQueueFilterForm(queue_data, queues=[(q, queue_name(q)) for q in staff_task_queues()])
    queue = form.cleaned_data["queue"] if form.is_valid() else ""
    now = clock.now()
    language = get_language() or "nl"
    page = Paginator(staff_task_open_list(queue=queue), TASK_PAGE).get_page(request.GET.get("page"))
    rows = [_row(task, language=language, now=now) for task in page]
    context: dict[str, Any] = {
        "form": form,
        "queue": queue,
        "page": page,
        "rows": rows,
        "overdue": sum(row.overdue for row in rows),
        "zone": ZoneInfo(Organisation.current().time_zone),
        "can_act": request_user(request).role in TASK_ACT_ROLES,
        "error": error,
        "notice": notice,
        "failed_id": failed.pk if failed is not None else None,
        "failed_form": failed_form,
        "note_max": TASK_NOTE_MAX,
    }
    template = "workspace/tasks.html#tasks" if request.htmx else "workspace/tasks.html"
    return render(request, template, context, status=status)


@role_required(*TASK_VIEW_ROLES)
@require_GET
def task_list(request: HtmxHttpRequest) -> HttpResponse:
    return _render(request, queue_data=request.GET or None)


@role_required(*TASK_ACT_ROLES)
@require_POST
def task_done(request: HtmxHttpRequest, task_id: int) -> HttpResponse:
    task = get_object_or_404(StaffTask, pk=task_id)
    queue = _queue_from(request.POST.get("queue", ""))
    queue_data = {"queue": queue} if queue else None
    form = TaskDoneForm(request.POST)
    if not form.is_valid():
        error = " ".join(str(message) for errors in form.errors.values() for message in errors)
        return _render(request, queue_data=queue_data, error=error, failed=task, failed_form=form, status=422)
    try:
        done = staff_task_complete(task=task, actor=request_user(request), note=form.cleaned_data["note"])
    except ApplicationError as failure:
        return _render(request, queue_data=queue_data, error=str(failure.message), status=422)
    notice = _("Done: %(task)s.") % {"task": done.title(get_language() or "nl")}
    # htmx swaps the list in place; without JavaScript, back to the list (post/redirect/get).
    if request.htmx:
        return _render(request, queue_data=queue_data, notice=notice)
    messages.success(request, notice)
    return redirect(_list_url(queue))
