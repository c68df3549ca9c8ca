"""The technician app: the day's visits, one visit, and the status updates
sent from it. Every update works as a plain form post (redirect after), and
answers JSON to the app's script (`Accept: application/json`), which queues
updates made while the phone is offline."""

import json
import uuid
from datetime import date, timedelta
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from klantreis.accounts.access import Role, request_user, role_required
from klantreis.accounts.models import User
from klantreis.core import clock
from klantreis.core.errors import ApplicationError
from klantreis.core.models import Organisation
from klantreis.field.forms import (
    MESSAGE_POSITION_BAD,
    ActionForm,
    CompleteForm,
    DayForm,
    FollowUpDayForm,
    PositionForm,
    new_key,
)
from klantreis.field.models import FieldUpdate
from klantreis.field.selectors import (
    field_update_seen,
    home_history,
    technician_list_for,
    visit_get_for,
    visit_list_for_day,
)
from klantreis.field.services import (
    FOLLOW_UP_STATUSES,
    visit_arrive,
    visit_complete,
    visit_follow_up_book,
    visit_on_the_way,
)
from klantreis.planning.forms import AppointmentForm, window_text
from klantreis.planning.models import Job
from klantreis.planning.plan import slot_offer_list
from klantreis.planning.selectors import appointment_for_request, job_list_for, job_open_for_request

# Who opens the app: technicians and subcontractors record; planners and
# administrators may look at anyone's day.
FIELD_ROLES = (Role.TECHNICIAN, Role.SUBCONTRACTOR, Role.PLANNER, Role.ADMIN)
UPDATE_ROLES = frozenset({Role.TECHNICIAN, Role.SUBCONTRACTOR})


def _zone() -> ZoneInfo:
    return ZoneInfo(Organisation.current().time_zone)


def _today(zone: ZoneInfo) -> date:
    return clock.now().astimezone(zone).date()


@role_required(*FIELD_ROLES)
@require_GET
def day(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    zone = _zone()
    today = _today(zone)
    form = DayForm(request.GET)
    shown, technician, status = today, None, 200
    if form.is_valid():
        shown = form.cleaned_data["day"] or today
        technician = form.cleaned_data["technician"]
    else:
        status = 400
    technicians = technician_list_for(user=user)
    if technician is not None and not technicians.filter(pk=technician).exists():
        raise Http404
    visits = visit_list_for_day(user=user, day=shown, zone=zone, technician=technician)
    routes = [
        (visit_technician, list(group))
        for visit_technician, group in groupby(visits, key=lambda job: job.technician)
    ]
    context = {
        "form": form,
        "day": shown,
        "today": today,
        "previous_day": shown - timedelta(days=1),
        "next_day": shown + timedelta(days=1),
        "routes": routes,
        "technicians": technicians if user.role != Role.TECHNICIAN else None,
        "technician": technician,
        "has_profile": user.role != Role.TECHNICIAN or technicians.exists(),
    }
    return render(request, "field/day.html", context, status=status)


def _visit_context(request: HttpRequest, job: Job, user: User, **extra: Any) -> dict[str, Any]:
    zone = _zone()
    context: dict[str, Any] = {
        "job": job,
        "repair": job.request,
        "photo_url": "field:request_photo",
        "history": home_history(job=job),
        "visit_photos": list(job.visit_photos.all()),
        "can_update": user.role in UPDATE_ROLES and job.technician_id is not None,
        "keys": {action: new_key() for action in ("on_the_way", "arrived", "completed", "follow_up")},
        "complete_form": CompleteForm(),
        "follow_up": None,
        "day": job.visit_start.astimezone(zone).date() if job.visit_start else None,
    }
    if job.status in FOLLOW_UP_STATUSES:
        if (booked := appointment_for_request(request=job.request)) is not None:
            context["follow_up"] = booked
        elif job_open_for_request(request=job.request) is None and context["can_update"]:
            after_form = FollowUpDayForm(request.GET if "after" in request.GET else None)
            tomorrow = _today(zone) + timedelta(days=1)
            context["after_form"] = after_form
            context["slot_form"] = _slot_form(job, after=after_form.day(tomorrow), zone=zone)
    return context | extra


def _slot_form(job: Job, *, after: date, zone: ZoneInfo, data: Any = None) -> AppointmentForm:
    now = clock.now()
    slots = [
        slot
        for slot in slot_offer_list(request=job.request, now=now)
        if slot.start.astimezone(zone).date() >= after
    ]
    return AppointmentForm(data, slots=slots, zone=zone, now=now, show_all=True)


@role_required(*FIELD_ROLES)
@require_GET
def visit(request: HttpRequest, job_id: int) -> HttpResponse:
    user = request_user(request)
    job = visit_get_for(user=user, job_id=job_id)
    return render(request, "field/visit.html", _visit_context(request, job, user))


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _done(request: HttpRequest, job: Job, message: str) -> HttpResponse:
    target = reverse("field:visit", kwargs={"job_id": job.pk})
    messages.success(request, message)
    if _wants_json(request):
        return JsonResponse({"ok": True, "message": message, "redirect": target})
    return redirect(target)


def _refused(request: HttpRequest, job: Job, user: User, errors: list[str], **extra: Any) -> HttpResponse:
    """A refused update: the visit again with why, nothing lost (a bound form
    keeps what was typed). The script shows the reasons and drops the update."""
    if _wants_json(request):
        return JsonResponse({"ok": False, "errors": errors}, status=422)
    context = _visit_context(request, job, user, errors=errors, **extra)
    return render(request, "field/visit.html", context, status=422)


def _form_errors(*forms: Any) -> list[str]:
    return [str(error) for form in forms for errors in form.errors.values() for error in errors]


def _updating_user(request: HttpRequest, job_id: int) -> tuple[User, Job]:
    user = request_user(request)
    job = visit_get_for(user=user, job_id=job_id)
    if user.role not in UPDATE_ROLES:
        raise PermissionDenied
    return user, job


@role_required(*FIELD_ROLES)
@require_POST
def visit_update(request: HttpRequest, job_id: int) -> HttpResponse:
    user, job = _updating_user(request, job_id)
    form = ActionForm(request.POST)
    if not form.is_valid():
        return _refused(request, job, user, _form_errors(form))
    action, key = form.cleaned_data["action"], form.cleaned_data["key"]
    complete_form = None
    try:
        if action == FieldUpdate.Action.ON_THE_WAY:
            position = PositionForm(request.POST)
            latitude, longitude = position.position()
            if position.rejected:
                messages.warning(request, str(MESSAGE_POSITION_BAD))
            visit_on_the_way(job=job, user=user, key=key, latitude=latitude, longitude=longitude)
            message = _("On my way: the customer has been told when you arrive.")
        elif action == FieldUpdate.Action.ARRIVED:
            visit_arrive(job=job, user=user, key=key)
            message = _("Arrival recorded.")
        else:
            complete_form = CompleteForm(request.POST, request.FILES)
            if not complete_form.is_valid():
                return _refused(request, job, user, _form_errors(complete_form), complete_form=complete_form)
            data = complete_form.cleaned_data
            applied = visit_complete(
                job=job,
                user=user,
                key=key,
                status=data["status"],
                not_fixed_reason=data["not_fixed_reason"],
                note=data["note"],
                materials=data["materials"],
                photos=data["photos"],
            )
            message = (
                _("Not fixed: book the follow-up visit with the customer below.")
                if applied.job.status in FOLLOW_UP_STATUSES
                else _("Outcome recorded.")
            )
    except ApplicationError as error:
        extra = {"complete_form": complete_form} if complete_form is not None else {}
        return _refused(request, job, user, [str(error.message)], **extra)
    return _done(request, job, message)


@role_required(*FIELD_ROLES)
@require_POST
def follow_up(request: HttpRequest, job_id: int) -> HttpResponse:
    """Book the follow-up visit with the customer on site."""
    user, job = _updating_user(request, job_id)
    try:
        key = uuid.UUID(str(request.POST.get("key", "")))
    except ValueError:
        return _refused(request, job, user, [_("This form is out of date. Please reload the page.")])
    # A booking sent again after its answer was lost: the block it took is
    # no longer offered, so answer before looking at the slots.
    if field_update_seen(key=key, job=job, action=FieldUpdate.Action.FOLLOW_UP):
        return _done(request, job, _("Follow-up visit booked."))
    zone = _zone()
    after_form = FollowUpDayForm(request.POST)
    tomorrow = _today(zone) + timedelta(days=1)
    slot_form = _slot_form(job, after=after_form.day(tomorrow), zone=zone, data=request.POST)
    if not slot_form.is_valid():
        return _refused(request, job, user, _form_errors(slot_form))
    slot = slot_form.cleaned_data["slot"]
    try:
        applied = visit_follow_up_book(
            job=job, user=user, key=key, window_start=slot.start, window_end=slot.end
        )
    except ApplicationError as error:
        return _refused(request, job, user, [str(error.message)])
    booked = applied.follow_up or appointment_for_request(request=job.request)
    window = (
        window_text(start=booked.visit_start, end=booked.visit_end, zone=zone)
        if booked and booked.visit_start and booked.visit_end
        else ""
    )
    return _done(request, job, _("Follow-up visit booked: %(window)s.") % {"window": window})


@role_required(*FIELD_ROLES)
@require_GET
def visit_photo(request: HttpRequest, job_id: int, photo_id: int) -> FileResponse:
    job = visit_get_for(user=request_user(request), job_id=job_id)
    photo = job.visit_photos.filter(pk=photo_id).first()
    if photo is None:
        raise Http404
    return FileResponse(photo.image.open("rb"), content_type=photo.content_type)


@role_required(*FIELD_ROLES)
@require_GET
def request_photo(request: HttpRequest, reference: str, photo_id: int) -> FileResponse:
    job = job_list_for(user=request_user(request)).filter(request__reference=reference).first()
    if job is None:
        raise Http404
    photo = job.request.photos.filter(pk=photo_id).first()
    if photo is None:
        raise Http404
    return FileResponse(photo.image.open("rb"), content_type=photo.content_type)


@require_GET
def manifest(request: HttpRequest) -> JsonResponse:
    organisation = Organisation.current()
    data = {
        "name": _("%(organisation)s technician app") % {"organisation": organisation.name},
        "short_name": _("Visits"),
        "start_url": reverse("field:day"),
        "scope": reverse("field:day"),
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#1d4e89",
        "icons": [
            {"src": static("field/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("field/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {"src": static("field/icon.svg"), "sizes": "any", "type": "image/svg+xml"},
        ],
    }
    return JsonResponse(
        data, content_type="application/manifest+json", json_dumps_params={"ensure_ascii": False}
    )


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    shell = [
        static(name)
        for name in (
            "klantreis/klantreis.css",
            "klantreis/klantreis.js",
            "field/field.css",
            "field/field.js",
            "field/icon.svg",
            "field/icon-192.png",
        )
    ]
    response = render(
        request,
        "field/sw.js",
        {"shell_json": json.dumps(shell), "day_url": reverse("field:day")},
        content_type="text/javascript",
    )
    # A phone must notice a new worker soon after a deploy.
    response["Cache-Control"] = "no-cache"
    return response
