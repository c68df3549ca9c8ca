"""The planner board: a day per technician as a timeline and a route, the
jobs still to plan and the visits at risk; planners pin a job to a
technician (and a time) and the rest of the day is re-planned at once.

Everything is drawn server-side as inline SVG in viewBox units (one unit is
one minute on the timeline), styled from the stylesheet only: the CSP allows
no inline style, and SVG presentation attributes (x, width, text-anchor) are
not style.
"""

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from klantreis.accounts.access import Role, request_user, role_required
from klantreis.core import clock
from klantreis.core.errors import ApplicationError
from klantreis.core.http import HtmxHttpRequest
from klantreis.core.models import Organisation
from klantreis.planning.calendar import Interval, local
from klantreis.planning.optimise import DEFAULT_SECONDS, Outcome, day_reoptimise
from klantreis.planning.selectors import Board, BoardRoute, board_for_day
from klantreis.planning.services import job_pin
from klantreis.planning.travel import Location, TravelTimeError
from klantreis.workspace.forms import BoardPinForm

# Agents see the board (a customer on the phone asks when the technician
# comes); only planners and admins move jobs.
BOARD_VIEW_ROLES = frozenset({Role.PLANNER, Role.ADMIN, Role.AGENT, Role.MANAGER})
BOARD_ACT_ROLES = frozenset({Role.PLANNER, Role.ADMIN})

# A pin re-plans the day while the planner waits: one second is enough for
# a day's routes, and the nightly run looks again with more time.
PIN_SOLVE_SECONDS = 1.0
DAY_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
AXIS_HOURS = (7, 18)

TIMELINE_HEIGHT = 72
MAP_WIDTH, MAP_HEIGHT, MAP_MARGIN = 240, 160, 14


@dataclass(frozen=True)
class Bar:
    x: int
    width: int
    css: str
    label: str = ""

    @property
    def middle(self) -> int:
        return self.x + self.width // 2


@dataclass(frozen=True)
class Tick:
    x: int
    label: str


@dataclass(frozen=True)
class Timeline:
    """One technician's day in minutes from the axis start."""

    width: int
    ticks: tuple[Tick, ...]
    shifts: tuple[Bar, ...]
    windows: tuple[Bar, ...]
    visits: tuple[Bar, ...]
    travel: tuple[Bar, ...]


@dataclass(frozen=True)
class MapPoint:
    x: int
    y: int
    label: str


@dataclass(frozen=True)
class RouteMap:
    line: str  # polyline points
    start: MapPoint
    end: MapPoint
    stops: tuple[MapPoint, ...]


@dataclass(frozen=True)
class Row:
    route: BoardRoute
    timeline: Timeline
    map: RouteMap


def minutes(seconds: int | None) -> int | None:
    """Whole minutes, rounded up: three seconds of travel still take a minute on the road."""
    return None if seconds is None else math.ceil(seconds / 60)


def _axis(board: Board) -> Interval:
    """07:00–18:00, stretched to whole hours around anything earlier or later."""
    moments = [
        moment
        for route in board.routes
        for moment in [
            *(piece.start for piece in route.shifts),
            *(piece.end for piece in route.shifts),
            *(stop.job.visit_start for stop in route.stops if stop.job.visit_start),
            *(stop.job.visit_end for stop in route.stops if stop.job.visit_end),
            *(stop.job.planned_start for stop in route.stops if stop.job.planned_start),
            *(stop.planned_end for stop in route.stops if stop.planned_end),
        ]
    ]
    day_start = local(board.day, time(0), board.zone)
    day_end = local(board.day + timedelta(days=1), time(0), board.zone)
    start = local(board.day, time(AXIS_HOURS[0]), board.zone)
    end = local(board.day, time(AXIS_HOURS[1]), board.zone)
    if moments:
        earliest = min(moments).astimezone(board.zone).replace(minute=0, second=0, microsecond=0)
        latest = max(moments).astimezone(board.zone)
        if latest.minute or latest.second:
            latest = latest.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        start, end = max(day_start, min(start, earliest)), min(day_end, max(end, latest))
    return Interval(start, end)


def _timeline(route: BoardRoute, axis: Interval, zone: ZoneInfo) -> Timeline:
    width = axis.seconds // 60

    def x(moment: datetime) -> int:
        return max(0, min(width, round((moment - axis.start).total_seconds() / 60)))

    def bar(start: datetime, end: datetime, css: str, label: str = "") -> Bar:
        return Bar(x(start), max(1, x(end) - x(start)), css, label)

    ticks = []
    hour = axis.start
    while hour <= axis.end:
        ticks.append(Tick(x(hour), hour.astimezone(zone).strftime("%H:%M")))
        hour += timedelta(hours=1)
    windows, visits, travel = [], [], []
    for number, stop in enumerate(route.stops, start=1):
        job = stop.job
        if job.visit_start is not None and job.visit_end is not None:
            windows.append(bar(job.visit_start, job.visit_end, "board-window"))
        if job.planned_start is None or stop.planned_end is None:
            continue
        css = "board-visit"
        if job.pinned:
            css += " board-visit-pinned"
        if stop.risk is not None:
            css += " board-visit-risk"
        visits.append(bar(job.planned_start, stop.planned_end, css, str(number)))
        if stop.travel_seconds:
            travel.append(
                bar(
                    job.planned_start - timedelta(seconds=stop.travel_seconds),
                    job.planned_start,
                    "board-travel",
                )
            )
    last = route.stops[-1].planned_end if route.stops else None
    if last is not None and route.return_travel_seconds:
        travel.append(bar(last, last + timedelta(seconds=route.return_travel_seconds), "board-travel"))
    return Timeline(
        width=width,
        ticks=tuple(ticks),
        shifts=tuple(bar(piece.start, piece.end, "board-shift") for piece in route.shifts),
        windows=tuple(windows),
        visits=tuple(visits),
        travel=tuple(travel),
    )


class _Projection:
    """The day's bounding box onto the small map; east–west shrunk by the
    latitude so that a kilometre looks the same both ways."""

    def __init__(self, places: list[Location]) -> None:
        self.south = min(place.latitude for place in places)
        self.west = min(place.longitude for place in places)
        self.squeeze = math.cos(math.radians(sum(place.latitude for place in places) / len(places)))
        span_x = (max(place.longitude for place in places) - self.west) * self.squeeze
        span_y = max(place.latitude for place in places) - self.south
        room_x, room_y = MAP_WIDTH - 2 * MAP_MARGIN, MAP_HEIGHT - 2 * MAP_MARGIN
        scales = [room_x / span_x if span_x else math.inf, room_y / span_y if span_y else math.inf]
        self.scale = min(scales) if min(scales) != math.inf else 0.0
        # Centre the drawing in the room left over.
        self.offset_x = MAP_MARGIN + (room_x - span_x * self.scale) / 2
        self.offset_y = MAP_MARGIN + (room_y - span_y * self.scale) / 2

    def point(self, place: Location, label: str) -> MapPoint:
        x = self.offset_x + (place.longitude - self.west) * self.squeeze * self.scale
        y = MAP_HEIGHT - (self.offset_y + (place.latitude - self.south) * self.scale)
        return MapPoint(round(x), round(y), label)


def _map(route: BoardRoute, projection: _Projection) -> RouteMap:
    start = projection.point(route.start, "")
    end = projection.point(route.end, "")
    stops = tuple(projection.point(stop.location, str(n)) for n, stop in enumerate(route.stops, start=1))
    line = " ".join(f"{p.x},{p.y}" for p in (start, *stops, end))
    return RouteMap(line=line, start=start, end=end, stops=stops)


def _rows(board: Board) -> list[Row]:
    if not board.routes:
        return []
    axis = _axis(board)
    projection = _Projection(
        [place for route in board.routes for place in (route.start, route.end)]
        + [stop.location for route in board.routes for stop in route.stops]
    )
    return [
        Row(route=route, timeline=_timeline(route, axis, board.zone), map=_map(route, projection))
        for route in board.routes
    ]


def outcome_text(outcome: Outcome, *, after_pin: bool = False) -> str:
    """What a re-plan did, in the planner's words (the optimiser's reasons are for logs)."""
    figures = {"before": minutes(outcome.travel_before), "after": minutes(outcome.travel_after)}
    if outcome.applied and after_pin:
        text = _(
            "The rest of the day is re-planned around it: travel went from %(before)s to %(after)s minutes."
        )
        return text % figures
    if outcome.applied:
        return _("The day is re-planned: travel time went from %(before)s to %(after)s minutes.") % figures
    if outcome.reason == "no jobs":
        return _("Nothing to re-plan: no job of this day has a technician.")
    if outcome.reason == "no shorter plan":
        return (
            _("The plan stays as it is: no shorter plan was found (travel time %(before)s minutes).")
            % figures
        )
    if outcome.reason == "the day changed while solving":
        return _("Nothing changed: the day changed while it was being re-planned. Try again.")
    return _("Nothing changed: no plan was found that keeps every promised window, shift and pinned time.")


def _day(value: str | None, zone: ZoneInfo) -> date | None:
    """The board's day from the address or a form; today when not given,
    None when it is not a date."""
    if not value:
        return clock.now().astimezone(zone).date()
    if DAY_PATTERN.fullmatch(value) is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _render(
    request: HtmxHttpRequest,
    *,
    day: date,
    zone: ZoneInfo,
    notice: str = "",
    error: str = "",
    form: BoardPinForm | None = None,
    status: int = 200,
) -> HttpResponse:
    board = board_for_day(day=day, zone=zone)
    context: dict[str, Any] = {
        "board": board,
        "rows": _rows(board),
        "day": day,
        "today": clock.now().astimezone(zone).date(),
        "previous_day": day - timedelta(days=1),
        "next_day": day + timedelta(days=1),
        "can_act": request_user(request).role in BOARD_ACT_ROLES,
        "notice": notice,
        "error": error,
        "failed_job": form.data.get("job", "") if form is not None else "",
        "map_size": (MAP_WIDTH, MAP_HEIGHT),
        "timeline_height": TIMELINE_HEIGHT,
    }
    template = "workspace/board.html#board" if request.htmx else "workspace/board.html"
    return render(request, template, context, status=status)


def _board_url(day: date) -> str:
    return f"{reverse('workspace:board')}?day={day.isoformat()}"


def _done(request: HtmxHttpRequest, *, day: date, zone: ZoneInfo, notice: str) -> HttpResponse:
    """htmx swaps the board in place; without JavaScript, back to the board (post/redirect/get)."""
    if request.htmx:
        return _render(request, day=day, zone=zone, notice=notice)
    messages.success(request, notice)
    return redirect(_board_url(day))


@role_required(*BOARD_VIEW_ROLES)
@require_GET
def board(request: HtmxHttpRequest) -> HttpResponse:
    zone = ZoneInfo(Organisation.current().time_zone)
    day = _day(request.GET.get("day"), zone)
    if day is None:
        today = clock.now().astimezone(zone).date()
        error = _("That is not a date like 2026-03-11; this is today's board.")
        return _render(request, day=today, zone=zone, error=error, status=400)
    return _render(request, day=day, zone=zone)


def _posted_day(request: HtmxHttpRequest, zone: ZoneInfo) -> date | None:
    value = request.POST.get("day", "")
    return _day(value, zone) if value else None


@role_required(*BOARD_ACT_ROLES)
@require_POST
def board_pin(request: HtmxHttpRequest) -> HttpResponse:
    zone = ZoneInfo(Organisation.current().time_zone)
    day = _posted_day(request, zone)
    if day is None:
        today = clock.now().astimezone(zone).date()
        return _render(request, day=today, zone=zone, error=_("The board's day is missing."), status=422)
    form = BoardPinForm(request.POST, day=day, zone=zone)
    if not form.is_valid():
        error = " ".join(str(message) for errors in form.errors.values() for message in errors)
        return _render(request, day=day, zone=zone, error=error, form=form, status=422)
    job, technician = form.cleaned_data["job"], form.cleaned_data["technician"]
    try:
        job_pin(
            job=job,
            technician=technician,
            planned_start=form.cleaned_data["time"],
            actor=request_user(request),
        )
    except ApplicationError as failure:
        return _render(request, day=day, zone=zone, error=str(failure.message), form=form, status=422)
    pinned = _("%(reference)s is pinned to %(technician)s.") % {
        "reference": job.request.reference,
        "technician": technician.name,
    }
    try:
        replanned = outcome_text(
            day_reoptimise(day=day, seconds=PIN_SOLVE_SECONDS, force=True), after_pin=True
        )
    except TravelTimeError:
        replanned = _("The rest of the day could not be re-planned now: travel times are unavailable.")
    return _done(request, day=day, zone=zone, notice=f"{pinned} {replanned}")


@role_required(*BOARD_ACT_ROLES)
@require_POST
def board_replan(request: HtmxHttpRequest) -> HttpResponse:
    zone = ZoneInfo(Organisation.current().time_zone)
    day = _posted_day(request, zone)
    if day is None:
        today = clock.now().astimezone(zone).date()
        return _render(request, day=today, zone=zone, error=_("The board's day is missing."), status=422)
    try:
        notice = outcome_text(day_reoptimise(day=day, seconds=DEFAULT_SECONDS, force=True))
    except TravelTimeError:
        return _render(
            request,
            day=day,
            zone=zone,
            error=_("The day could not be re-planned now: travel times are unavailable."),
            status=422,
        )
    return _done(request, day=day, zone=zone, notice=notice)
