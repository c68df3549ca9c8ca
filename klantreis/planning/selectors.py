from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import F, Q, QuerySet, TextChoices
from django.utils.translation import gettext_lazy as _

from klantreis.accounts.access import ALL_REQUESTS_ROLES
from klantreis.accounts.models import User
from klantreis.intake.models import RepairRequest, VeraCode
from klantreis.planning.calendar import Interval, local, subtract
from klantreis.planning.models import Absence, Job, PlanningSettings, Technician, WorkingHours
from klantreis.planning.travel import UNREACHABLE, Location, TravelTimeError, travel_source_for


def job_list_for(*, user: User) -> QuerySet[Job]:
    """Jobs `user` may see: a subcontractor only their own firm's."""
    jobs = Job.objects.select_related("request", "request__home", "firm", "technician")
    if not user.is_authenticated or not user.is_active:
        return jobs.none()
    if user.role in ALL_REQUESTS_ROLES:
        return jobs
    if user.role == User.Role.SUBCONTRACTOR:
        return jobs.filter(firm__members=user)
    if user.role == User.Role.TECHNICIAN:
        return jobs.filter(technician__user=user)
    return jobs.none()


def technician_list_for_specialism(*, specialism: VeraCode) -> QuerySet[Technician]:
    """Active technicians who may do work of this specialism."""
    return (
        Technician.objects.filter(active=True, specialisms=specialism)
        .select_related("firm")
        .prefetch_related("working_hours")
        .order_by("pk")
    )


def technician_shifts(
    *, technicians: Sequence[Technician], days: Sequence[date], zone: ZoneInfo
) -> dict[tuple[int, date], list[Interval]]:
    """Each technician's plannable time per day: working hours (local wall
    clock) minus absences. Two queries, however many technicians and days."""
    if not technicians or not days:
        return {}
    hours: dict[tuple[int, int], list[WorkingHours]] = defaultdict(list)
    for row in WorkingHours.objects.filter(technician__in=technicians):
        hours[(row.technician_id, row.weekday)].append(row)
    window = Interval(local(min(days), time(0), zone), local(max(days) + timedelta(days=1), time(0), zone))
    absences: dict[int, list[Interval]] = defaultdict(list)
    for absence in Absence.objects.filter(
        technician__in=technicians, start__lt=window.end, end__gt=window.start
    ):
        absences[absence.technician_id].append(Interval(absence.start, absence.end))
    shifts = {}
    for technician in technicians:
        for day in days:
            pieces = [
                Interval(local(day, row.start, zone), local(day, row.end, zone))
                for row in hours[(technician.pk, day.weekday())]
            ]
            left = subtract(pieces, absences[technician.pk])
            if left:
                shifts[(technician.pk, day)] = left
    return shifts


def job_list_planned(*, technicians: Sequence[Technician], start: datetime, end: datetime) -> QuerySet[Job]:
    """Open jobs with a promised window in [start, end), in route order."""
    return (
        Job.objects.filter(
            technician__in=technicians,
            status=Job.Status.OPEN,
            visit_start__gte=start,
            visit_start__lt=end,
        )
        .select_related("request__home")
        .order_by("technician_id", "visit_start", "route_position", "pk")
    )


@dataclass(frozen=True)
class Whereabouts:
    """Where a technician is today, as far as the plan knows: at the visit
    under way (`busy_until` its planned end, `visit` its job), else the most
    recent of their last reported position and their last finished visit."""

    location: Location
    busy_until: datetime | None = None
    visit: int | None = None


# A visit was made (the technician was at the address) when it ended so.
VISITED_STATUSES = frozenset({Job.Status.FIXED, Job.Status.NOT_FIXED, Job.Status.NOT_HOME})


def technician_whereabouts(
    *, technicians: Sequence[Technician], now: datetime, zone: ZoneInfo
) -> dict[int, Whereabouts]:
    """Today's whereabouts of the technicians about whom today says anything
    (one query; the positions are on the technicians). Yesterday's position
    or visit says nothing about today."""
    day_start = local(now.astimezone(zone).date(), time(0), zone)
    jobs = Job.objects.filter(technician__in=technicians).filter(
        Q(status__in=VISITED_STATUSES, completed_at__gte=day_start, completed_at__lte=now)
        | Q(status=Job.Status.OPEN, arrived_at__gte=day_start, arrived_at__lte=now)
    )
    finished: dict[int, tuple[datetime, Location]] = {}
    under_way: dict[int, tuple[datetime, Job]] = {}
    for job in jobs.select_related("request__home", "request").order_by("pk"):
        technician_id = job.technician_id
        if technician_id is None:  # filtered on the technicians
            continue
        if job.status == Job.Status.OPEN and job.arrived_at is not None:
            if technician_id not in under_way or job.arrived_at > under_way[technician_id][0]:
                under_way[technician_id] = (job.arrived_at, job)
        elif job.completed_at is not None:
            if technician_id not in finished or job.completed_at > finished[technician_id][0]:
                finished[technician_id] = (job.completed_at, home_of(job))
    whereabouts: dict[int, Whereabouts] = {}
    for technician in technicians:
        if technician.pk in under_way:
            arrived_at, visit = under_way[technician.pk]
            minutes = visit.duration_minutes or visit.request.estimated_minutes
            whereabouts[technician.pk] = Whereabouts(
                location=home_of(visit), busy_until=arrived_at + timedelta(minutes=minutes), visit=visit.pk
            )
            continue
        known = []
        if (
            technician.last_position_at is not None
            and technician.last_latitude is not None
            and technician.last_longitude is not None
            and day_start <= technician.last_position_at <= now
        ):
            known.append(
                (technician.last_position_at, Location(technician.last_latitude, technician.last_longitude))
            )
        if technician.pk in finished:
            known.append(finished[technician.pk])
        if known:
            # The later report wins, the phone's position on a tie.
            whereabouts[technician.pk] = Whereabouts(location=max(known, key=lambda item: item[0])[1])
    return whereabouts


def home_of(job: Job) -> Location:
    return Location(job.request.home.latitude, job.request.home.longitude)


# The request statuses a time block may still be booked for (appointment_book
# refuses the others).
BOOKABLE_STATUSES = frozenset({RepairRequest.Status.REGISTERED, RepairRequest.Status.IN_PROGRESS})


def job_open_for_request(*, request: RepairRequest) -> Job | None:
    """The request's open job, with or without a promised window."""
    return (
        Job.objects.filter(request=request, status=Job.Status.OPEN)
        .select_related("technician", "firm")
        .order_by("-created_at", "-pk")
        .first()
    )


def appointment_for_request(*, request: RepairRequest) -> Job | None:
    """The request's appointment: its open job with a promised time window."""
    return (
        Job.objects.filter(request=request, status=Job.Status.OPEN, visit_start__isnull=False)
        .select_related("technician", "firm")
        .order_by("-created_at", "-pk")
        .first()
    )


def technician_names(*, ids: Iterable[int]) -> dict[int, str]:
    return dict(Technician.objects.filter(pk__in=set(ids)).values_list("pk", "name"))


# The planner board.


class AtRisk(TextChoices):
    """Why a visit on the board may not happen as promised."""

    NOT_TIMED = "not_timed", _("no planned time")
    OFF_SHIFT = "off_shift", _("outside the technician's working hours")
    PAST_SHIFT = "past_shift", _("runs past the end of the shift")
    LATE = "late", _("starts after the promised window")


@dataclass(frozen=True)
class BoardStop:
    """A job as the planner board shows it. Travel in seconds; None when
    the travel-time source could not tell."""

    job: Job
    location: Location
    duration_minutes: int
    # Technicians who may take the job: active, of its firm, with its
    # specialism and working that day.
    candidates: tuple[Technician, ...]
    travel_seconds: int | None = None  # from the previous stop, or from the start
    added_travel_seconds: int | None = None  # the detour this stop adds to its route
    risk: AtRisk | None = None

    @property
    def planned_end(self) -> datetime | None:
        if self.job.planned_start is None:
            return None
        return self.job.planned_start + timedelta(minutes=self.duration_minutes)

    @property
    def travel_minutes(self) -> int | None:
        return _minutes(self.travel_seconds)

    @property
    def added_travel_minutes(self) -> int | None:
        # Rounded times can make a detour look a second shorter than none.
        return None if self.added_travel_seconds is None else _minutes(max(0, self.added_travel_seconds))


@dataclass(frozen=True)
class BoardRoute:
    technician: Technician
    shifts: tuple[Interval, ...]
    stops: tuple[BoardStop, ...]
    start: Location
    end: Location
    return_travel_seconds: int | None  # from the last stop to where the day ends

    @property
    def travel_seconds(self) -> int | None:
        if not self.stops:
            return 0
        legs = [stop.travel_seconds for stop in self.stops] + [self.return_travel_seconds]
        return None if None in legs else sum(leg or 0 for leg in legs)

    @property
    def travel_minutes(self) -> int | None:
        return _minutes(self.travel_seconds)

    @property
    def return_travel_minutes(self) -> int | None:
        return _minutes(self.return_travel_seconds)


@dataclass(frozen=True)
class Board:
    day: date
    zone: ZoneInfo
    routes: tuple[BoardRoute, ...]
    # Open jobs of the day without a technician, and open jobs without a
    # promised window yet (created by the end of the day).
    unassigned: tuple[BoardStop, ...]
    at_risk: tuple[BoardStop, ...]
    travel_known: bool

    @property
    def travel_seconds(self) -> int | None:
        legs = [route.travel_seconds for route in self.routes]
        return None if None in legs else sum(leg or 0 for leg in legs)

    @property
    def travel_minutes(self) -> int | None:
        return _minutes(self.travel_seconds)


def _minutes(seconds: int | None) -> int | None:
    """Whole minutes, rounded up: a few seconds on the road still take a minute."""
    return None if seconds is None else -(-seconds // 60)


def _stop_risk(job: Job, minutes: int, shifts: Sequence[Interval]) -> AtRisk | None:
    if job.planned_start is None:
        return AtRisk.NOT_TIMED
    if job.visit_end is not None and job.planned_start > job.visit_end:
        return AtRisk.LATE
    piece = next((piece for piece in shifts if piece.start <= job.planned_start < piece.end), None)
    if piece is None:
        return AtRisk.OFF_SHIFT
    if job.planned_start + timedelta(minutes=minutes) > piece.end:
        return AtRisk.PAST_SHIFT
    return None


def board_for_day(*, day: date, zone: ZoneInfo) -> Board:
    """Every technician's route on `day` (local calendar day in `zone`), with
    travel between the stops, plus the jobs that still need a planner."""
    start, end = local(day, time(0), zone), local(day + timedelta(days=1), time(0), zone)
    jobs = list(
        Job.objects.filter(status=Job.Status.OPEN)
        .filter(
            Q(visit_start__gte=start, visit_start__lt=end) | Q(visit_start__isnull=True, created_at__lt=end)
        )
        .select_related("request__home", "request__specialism", "firm", "technician")
        # Jobs without a window last on every database (SQLite sorts NULL first).
        .order_by(F("visit_start").asc(nulls_last=True), "created_at", "pk")
    )
    planned: dict[int, list[Job]] = defaultdict(list)
    waiting: list[Job] = []
    for job in jobs:
        if job.technician_id is not None and job.visit_start is not None:
            planned[job.technician_id].append(job)
        else:
            waiting.append(job)
    technicians = list(
        Technician.objects.filter(Q(active=True) | Q(pk__in=planned.keys()))
        .select_related("firm")
        .prefetch_related("specialisms")
        .order_by("firm__kind", "firm__name", "name", "pk")
    )
    shifts = technician_shifts(technicians=technicians, days=[day], zone=zone)
    shown = [t for t in technicians if (t.pk, day) in shifts or t.pk in planned]
    skills = {t.pk: {code.pk for code in t.specialisms.all()} for t in technicians}

    def candidates(job: Job) -> tuple[Technician, ...]:
        return tuple(
            t
            for t in technicians
            if t.active
            and t.firm_id == job.firm_id
            and job.request.specialism_id in skills[t.pk]
            and (t.pk, day) in shifts
        )

    def ends(technician: Technician) -> tuple[Location, Location]:
        home = Location(technician.start_latitude, technician.start_longitude)
        if technician.end_latitude is None or technician.end_longitude is None:
            return home, home
        return home, Location(technician.end_latitude, technician.end_longitude)

    def where(job: Job) -> Location:
        return Location(job.request.home.latitude, job.request.home.longitude)

    locations = list(
        dict.fromkeys(
            [place for t in shown for place in ends(t)]
            + [where(job) for route in planned.values() for job in route]
        )
    )
    index = {location: number for number, location in enumerate(locations)}
    try:
        durations: list[list[int]] | None = (
            travel_source_for(PlanningSettings.current()).matrix(locations, locations).durations.tolist()
        )
    except TravelTimeError:
        durations = None

    def leg(origin: Location, destination: Location) -> int | None:
        if durations is None:
            return None
        seconds = durations[index[origin]][index[destination]]
        return None if seconds >= UNREACHABLE else seconds

    def detour(before: Location, here: Location, after: Location) -> int | None:
        legs = (leg(before, here), leg(here, after), leg(before, after))
        if legs[0] is None or legs[1] is None or legs[2] is None:
            return None
        return legs[0] + legs[1] - legs[2]

    routes = []
    for technician in shown:
        pieces = shifts.get((technician.pk, day), [])
        ordered = sorted(
            planned[technician.pk],
            # Planned start is the truth once there is one: route positions
            # restart in each piece of a shift that an absence cuts in two.
            key=lambda job: (job.planned_start or job.visit_start, job.route_position or 0, job.pk),
        )
        home, finish = ends(technician)
        path = [home, *(where(job) for job in ordered), finish]
        stops = []
        for number, job in enumerate(ordered, start=1):
            minutes = job.duration_minutes or job.request.estimated_minutes
            stops.append(
                BoardStop(
                    job=job,
                    location=path[number],
                    duration_minutes=minutes,
                    candidates=candidates(job),
                    travel_seconds=leg(path[number - 1], path[number]),
                    added_travel_seconds=detour(path[number - 1], path[number], path[number + 1]),
                    risk=_stop_risk(job, minutes, pieces),
                )
            )
        routes.append(
            BoardRoute(
                technician=technician,
                shifts=tuple(pieces),
                stops=tuple(stops),
                start=home,
                end=finish,
                return_travel_seconds=leg(path[-2], finish) if ordered else 0,
            )
        )
    unassigned = tuple(
        BoardStop(
            job=job,
            location=where(job),
            duration_minutes=job.duration_minutes or job.request.estimated_minutes,
            candidates=candidates(job),
        )
        for job in waiting
    )
    return Board(
        day=day,
        zone=zone,
        routes=tuple(routes),
        unassigned=unassigned,
        at_risk=tuple(stop for route in routes for stop in route.stops if stop.risk is not None),
        travel_known=durations is not None,
    )
