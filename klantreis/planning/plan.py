"""The database's plan, as the slot-offering engine sees it.

`plan_for` reads, for one repair request, everything a slot query or a
booking needs: the days it may be planned on (by urgency), the qualified
technicians' shifts on those days (working hours minus absences), their open
jobs in route order, the time blocks, and the travel times. Reads only; the
engine (`planning.slots`) does the arithmetic.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from numpy.typing import ArrayLike

from klantreis.core.models import Organisation
from klantreis.intake.models import RepairRequest
from klantreis.planning.calendar import Interval, day_blocks, local
from klantreis.planning.models import Job, PlanningSettings, Technician
from klantreis.planning.selectors import (
    job_list_planned,
    technician_list_for_specialism,
    technician_shifts,
    technician_whereabouts,
)
from klantreis.planning.slots import Block, NewJob, PlannedStop, RouteDay, RouteState, offer_slots
from klantreis.planning.travel import Location, TravelTimeSource, travel_source_for


class SourceTravel:
    """The engine's `TravelTimes` over a `TravelTimeSource` (whole seconds)."""

    def __init__(self, source: TravelTimeSource) -> None:
        self.source = source

    def __call__(self, origins: Sequence[object], destinations: Sequence[object], /) -> ArrayLike:
        return self.source.matrix(origins, destinations).durations  # type: ignore[arg-type]


@dataclass(frozen=True)
class Plan:
    request: RepairRequest
    job: NewJob
    routes: list[RouteState]
    blocks: list[Block]
    travel: SourceTravel
    technicians: dict[int, Technician]
    jobs: dict[int, Job]
    zone: ZoneInfo


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def moment(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def planning_days(
    *, urgency: str, now: datetime, zone: ZoneInfo, horizon_days: int
) -> tuple[list[date], Interval]:
    """The days to offer and the window service may start in.

    An emergency: today only, from now. Urgent: today and tomorrow, from now.
    Normal: from tomorrow for `horizon_days` days."""
    today = now.astimezone(zone).date()
    if urgency == RepairRequest.Urgency.EMERGENCY:
        days = [today]
        start = now
    elif urgency == RepairRequest.Urgency.URGENT:
        days = [today, today + timedelta(days=1)]
        start = now
    else:
        days = [today + timedelta(days=n) for n in range(1, horizon_days + 1)]
        start = local(days[0], time(0), zone)
    end = local(days[-1] + timedelta(days=1), time(0), zone)
    return days, Interval(start, end)


def home_location(request: RepairRequest) -> Location:
    return Location(request.home.latitude, request.home.longitude)


def technician_ends(technician: Technician) -> tuple[Location, Location]:
    """Where a technician's day starts and ends (the end defaults to the start)."""
    start = Location(technician.start_latitude, technician.start_longitude)
    if technician.end_latitude is None or technician.end_longitude is None:
        return start, start
    return start, Location(technician.end_latitude, technician.end_longitude)


def job_minutes(job: Job) -> int:
    return job.duration_minutes or job.request.estimated_minutes


def _route_order(job: Job) -> tuple[datetime, bool, int, datetime]:
    assert job.visit_start is not None  # noqa: S101 - job_list_planned filters on a window
    day = job.visit_start.replace(hour=0, minute=0, second=0, microsecond=0)
    return (day, job.route_position is None, job.route_position or 0, job.visit_start)


def _stop(job: Job, window_start: datetime, window_end: datetime) -> PlannedStop:
    window = (epoch(window_start), epoch(window_end))
    if job.pinned and job.planned_start is not None:
        # A planner fixed the time: booking around it must not move it (the
        # re-optimisation and job_pin's re-timing keep it too).
        window = (epoch(job.planned_start), epoch(job.planned_start))
    return PlannedStop(
        job_id=job.pk,
        location=home_location(job.request),
        service_seconds=job_minutes(job) * 60,
        window_start=window[0],
        window_end=window[1],
    )


def _piece_of(job: Job, pieces: Sequence[Interval]) -> int | None:
    """The piece of a technician's shift a job is served in: the one its
    planned start falls in, else the first its window overlaps (a window
    may start before the shift does: 08:00-10:00 for a shift from 09:00)."""
    if job.visit_start is None or job.visit_end is None:
        return None
    if job.planned_start is not None:
        for number, piece in enumerate(pieces):
            if piece.start <= job.planned_start < piece.end:
                return number
    for number, piece in enumerate(pieces):
        if piece.start <= job.visit_end and job.visit_start < piece.end:
            return number
    return None


def route_states(
    *,
    technicians: Sequence[Technician],
    days: Sequence[date],
    now: datetime,
    zone: ZoneInfo,
    travel: SourceTravel,
    skills: frozenset[str] = frozenset(),
    without_job: int | None = None,
) -> tuple[list[RouteState], dict[int, Job]]:
    """Each technician's route per day and piece of shift, from the stored
    plan (open jobs in route order), and the jobs on them by pk.

    Today's routes are what is left of the day (the engine's contract,
    `planning.slots`): they start at max(shift start, now) from where the
    technician is now (`technician_whereabouts`: last position or last
    finished visit of today, else their start location); a visit under way
    keeps them at its address until its planned end and is not a stop, and
    finished visits are no stops either (only open jobs are). A piece of
    today's shift that is over is left out, unless it still holds promised
    visits: then it stays, late, and is never offered more work.
    `without_job` is left out of every route (the job being moved)."""
    if not technicians or not days:
        return [], {}
    shifts = technician_shifts(technicians=technicians, days=days, zone=zone)
    today = now.astimezone(zone).date()
    whereabouts = technician_whereabouts(technicians=technicians, now=now, zone=zone) if today in days else {}
    skipped = {without_job} | {place.visit for place in whereabouts.values()}
    jobs_by_technician: dict[int, list[Job]] = defaultdict(list)
    jobs: dict[int, Job] = {}
    for job in job_list_planned(
        technicians=technicians,
        start=local(min(days), time(0), zone),
        end=local(max(days) + timedelta(days=1), time(0), zone),
    ):
        if job.technician_id is not None and job.pk not in skipped:
            jobs_by_technician[job.technician_id].append(job)
            jobs[job.pk] = job
    for planned in jobs_by_technician.values():
        # The stored route order decides (two jobs in one block may be in
        # either order); jobs never routed go by their window.
        planned.sort(key=_route_order)

    routes: list[RouteState] = []
    for technician in technicians:
        start_location, end_location = technician_ends(technician)
        here = whereabouts.get(technician.pk)
        for day in days:
            busy_until = max(now, here.busy_until) if here is not None and here.busy_until else now
            placed = False
            pieces = shifts.get((technician.pk, day), [])
            by_piece: dict[int, list[PlannedStop]] = defaultdict(list)
            for job in jobs_by_technician[technician.pk]:
                number = _piece_of(job, pieces)
                if number is not None and job.visit_start is not None and job.visit_end is not None:
                    by_piece[number].append(_stop(job, job.visit_start, job.visit_end))
            for number, piece in enumerate(pieces):
                stops = tuple(by_piece[number])
                shift_start, origin = piece.start, start_location
                if day == today:
                    if piece.end <= busy_until:
                        if not stops:
                            continue
                        shift_start = piece.end
                    else:
                        shift_start = max(piece.start, busy_until)
                        if here is not None and not placed:
                            origin, placed = here.location, True
                route = RouteDay(
                    technician_id=technician.pk,
                    day=day,
                    shift_start=epoch(shift_start),
                    shift_end=epoch(piece.end),
                    start_location=origin,
                    end_location=end_location,
                    skills=skills,
                    stops=stops,
                )
                routes.append(RouteState.from_route(route, travel=travel))
    return routes, jobs


def plan_for(
    *,
    request: RepairRequest,
    now: datetime,
    technicians: Sequence[Technician] | None = None,
    without_job: int | None = None,
) -> Plan:
    """What offering `request` a time block needs. `without_job`: a job of
    the request being moved, taken off its route first (so it may move
    within its own technician's day too)."""
    settings = PlanningSettings.current()
    zone = ZoneInfo(Organisation.current().time_zone)
    days, window = planning_days(
        urgency=request.urgency, now=now, zone=zone, horizon_days=settings.horizon_days
    )
    if technicians is None:
        technicians = list(technician_list_for_specialism(specialism=request.specialism))
    skill = request.specialism.code
    travel = SourceTravel(travel_source_for(settings))
    routes, jobs = route_states(
        technicians=technicians,
        days=days,
        now=now,
        zone=zone,
        travel=travel,
        skills=frozenset({skill}),
        without_job=without_job,
    )
    blocks = [
        Block(epoch(block.start), epoch(block.end))
        for day in days
        for block in day_blocks(
            day,
            first_start=settings.first_block_start,
            last_end=settings.last_block_end,
            minutes=settings.slot_minutes,
            zone=zone,
        )
    ]
    new_job = NewJob(
        location=home_location(request),
        service_seconds=request.estimated_minutes * 60,
        skill=skill,
        earliest=epoch(window.start),
        latest=epoch(window.end),
    )
    return Plan(
        request=request,
        job=new_job,
        routes=routes,
        blocks=blocks,
        travel=travel,
        technicians={t.pk: t for t in technicians},
        jobs=jobs,
        zone=zone,
    )


@dataclass(frozen=True)
class Slot:
    """A time block offered to the customer, with the insertion behind it."""

    start: datetime
    end: datetime
    technician_id: int
    added_travel_seconds: int
    best: bool

    @property
    def key(self) -> str:
        """How a form names this slot: its window, as epoch seconds."""
        return f"{epoch(self.start)}-{epoch(self.end)}"


def slot_offer_list(*, request: RepairRequest, now: datetime, moving: Job | None = None) -> list[Slot]:
    """The time blocks a qualified technician can still keep for `request`,
    by start; empty means no capacity (the customer is asked to call).
    `moving`: the request's booked job, to offer the blocks it can move to
    (`appointment_reschedule`)."""
    plan = plan_for(request=request, now=now, without_job=moving.pk if moving is not None else None)
    job = plan.job
    if moving is not None:
        job = replace(job, service_seconds=job_minutes(moving) * 60)
    offers = offer_slots(routes=plan.routes, request=job, blocks=plan.blocks, travel=plan.travel)
    return [
        Slot(
            start=moment(offer.window_start),
            end=moment(offer.window_end),
            technician_id=cast(int, offer.technician_id),
            added_travel_seconds=offer.added_travel,
            best=offer.best,
        )
        for offer in offers
    ]
