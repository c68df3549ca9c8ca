"""Re-optimising a day's routes with PyVRP (`planning.routing`).

Every open job keeps its promised window as a hard time window; a job only
moves to a technician of the same firm with its specialism (both folded into
one routing skill, `"<firm>:<code>"`); a pinned job stays with its
technician, and a job pinned in time keeps its planned start. The solver's
plan replaces the stored one only when it is feasible, serves every job and
travels less, and only if nobody booked, moved or cancelled a job of that
day while it was solving (the day's jobs are compared under the technicians'
row locks).
"""

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction

from klantreis.core import clock
from klantreis.core.models import Organisation
from klantreis.events.models import Event
from klantreis.events.services import event_record
from klantreis.planning import routing
from klantreis.planning.calendar import local
from klantreis.planning.models import DayPlanRun, Job, PlanningSettings, Technician
from klantreis.planning.plan import epoch, moment, technician_ends
from klantreis.planning.selectors import technician_shifts
from klantreis.planning.travel import Location, travel_source_for

DEFAULT_SECONDS = 2.0


@dataclass(frozen=True)
class Outcome:
    day: date
    jobs: int
    applied: bool
    reason: str
    travel_before: int
    travel_after: int


def _skills(technician: Technician) -> frozenset[str]:
    return frozenset(f"{technician.firm_id}:{code.code}" for code in technician.specialisms.all())


def _fingerprint(jobs: Sequence[Job]) -> set[tuple[int, int | None, str, str]]:
    return {
        (job.pk, job.technician_id, job.visit_start.isoformat() if job.visit_start else "", job.status)
        for job in jobs
    }


def _day_jobs(day: date, zone: ZoneInfo) -> list[Job]:
    start = local(day, time(0), zone)
    return list(
        Job.objects.filter(
            status=Job.Status.OPEN,
            technician__isnull=False,
            visit_end__isnull=False,
            visit_start__gte=start,
            visit_start__lt=start + timedelta(days=1),
        )
        .select_related("request__home", "request__specialism", "technician")
        .order_by("pk")
    )


def _digest(jobs: Sequence[Job]) -> str:
    return hashlib.sha256(repr(sorted(_fingerprint(jobs))).encode()).hexdigest()


def day_reoptimise(
    *, day: date, seconds: float = DEFAULT_SECONDS, seed: int = 0, force: bool = False
) -> Outcome:
    """Re-plan `day`. Without `force` a day whose jobs did not change since its
    last run returns at once (a planner's explicit request forces a run)."""
    zone = ZoneInfo(Organisation.current().time_zone)
    jobs = _day_jobs(day, zone)
    if not jobs:
        return Outcome(day, 0, False, "no jobs", 0, 0)
    if not force and DayPlanRun.objects.filter(day=day, fingerprint=_digest(jobs)).exists():
        return Outcome(day, len(jobs), False, "unchanged since the last run", 0, 0)
    outcome = _reoptimise(day=day, zone=zone, jobs=jobs, seconds=seconds, seed=seed)
    DayPlanRun.objects.update_or_create(
        day=day, defaults={"fingerprint": _digest(_day_jobs(day, zone)), "finished_at": clock.now()}
    )
    return outcome


def _reoptimise(*, day: date, zone: ZoneInfo, jobs: list[Job], seconds: float, seed: int) -> Outcome:
    technicians = list(
        Technician.objects.filter(
            active=True, firm__in={job.technician.firm_id for job in jobs if job.technician}
        )
        .prefetch_related("specialisms")
        .order_by("pk")
    )
    shifts = technician_shifts(technicians=technicians, days=[day], zone=zone)

    locations: list[Location] = []
    index: dict[Location, int] = {}

    def at(location: Location) -> int:
        if location not in index:
            index[location] = len(locations)
            locations.append(location)
        return index[location]

    base = epoch(local(day, time(0), zone))
    vehicles: list[routing.Vehicle] = []
    vehicle_of: dict[str, Technician] = {}
    pieces_of: dict[int, list[str]] = defaultdict(list)
    for technician in technicians:
        start, end = (at(location) for location in technician_ends(technician))
        for number, piece in enumerate(shifts.get((technician.pk, day), [])):
            vehicle_id = f"{technician.pk}:{number}"
            vehicles.append(
                routing.Vehicle(
                    id=vehicle_id,
                    start_location=start,
                    end_location=end,
                    shift_start=epoch(piece.start) - base,
                    shift_end=epoch(piece.end) - base,
                    skills=_skills(technician),
                )
            )
            vehicle_of[vehicle_id] = technician
            pieces_of[technician.pk].append(vehicle_id)

    vehicle_by_id = {vehicle.id: vehicle for vehicle in vehicles}
    stops = []
    for job in jobs:
        if job.visit_start is None or job.visit_end is None:  # excluded by _day_jobs
            continue
        earliest, latest = epoch(job.visit_start) - base, epoch(job.visit_end) - base
        if job.pinned and job.planned_start is not None:
            earliest = latest = epoch(job.planned_start) - base
        pinned_vehicle = None
        if job.pinned and job.technician_id is not None:
            # The piece of the technician's shift the pinned start falls in.
            pinned_vehicle = next(
                (
                    vehicle_id
                    for vehicle_id in pieces_of[job.technician_id]
                    if vehicle_by_id[vehicle_id].shift_start <= earliest < vehicle_by_id[vehicle_id].shift_end
                ),
                None,
            )
        stops.append(
            routing.Stop(
                id=str(job.pk),
                location=at(Location(job.request.home.latitude, job.request.home.longitude)),
                service_duration=(job.duration_minutes or job.request.estimated_minutes) * 60,
                earliest=earliest,
                latest=latest,
                skill=f"{job.firm_id}:{job.request.specialism.code}",
                pinned_vehicle=pinned_vehicle,
            )
        )

    durations = travel_source_for(PlanningSettings.current()).matrix(locations, locations).durations.tolist()
    travel_before = _current_travel(jobs, index, durations, technicians)
    solution = routing.solve(
        routing.Problem(durations=durations, vehicles=vehicles, stops=stops), seconds=seconds, seed=seed
    )
    if not solution.feasible or solution.unassigned:
        return Outcome(day, len(jobs), False, "no feasible plan that serves every job", travel_before, 0)
    if solution.distance >= travel_before:
        return Outcome(day, len(jobs), False, "no shorter plan", travel_before, solution.distance)
    return _apply(day, zone, jobs, solution, vehicle_of, base, travel_before)


def _current_travel(
    jobs: Sequence[Job],
    index: dict[Location, int],
    durations: list[list[int]],
    technicians: Sequence[Technician],
) -> int:
    """Travel of the stored plan: every technician's jobs in route order, from and back home."""
    by_technician: dict[int, list[Job]] = defaultdict(list)
    for job in jobs:
        if job.technician_id is not None:
            by_technician[job.technician_id].append(job)
    total = 0
    for technician in technicians:
        route = sorted(
            by_technician.get(technician.pk, []), key=lambda j: (j.route_position or 0, j.visit_start)
        )
        if not route:
            continue
        home, end = (index[location] for location in technician_ends(technician))
        path = [
            home,
            *(index[Location(j.request.home.latitude, j.request.home.longitude)] for j in route),
            end,
        ]
        total += sum(durations[a][b] for a, b in zip(path, path[1:], strict=False))
    return total


@transaction.atomic
def _apply(
    day: date,
    zone: ZoneInfo,
    jobs: Sequence[Job],
    solution: routing.Solution,
    vehicle_of: dict[str, Technician],
    base: int,
    travel_before: int,
) -> Outcome:
    list(
        Technician.objects.select_for_update()
        .filter(pk__in={t.pk for t in vehicle_of.values()})
        .order_by("pk")
    )
    if _fingerprint(_day_jobs(day, zone)) != _fingerprint(jobs):
        return Outcome(
            day, len(jobs), False, "the day changed while solving", travel_before, solution.distance
        )
    by_id = {str(job.pk): job for job in jobs}
    for route in solution.routes:
        technician = vehicle_of[route.vehicle_id]
        for position, visit in enumerate(route.visits):
            job = by_id[visit.stop_id]
            planned = moment(base + visit.start)
            moved = job.technician_id != technician.pk
            Job.objects.filter(pk=job.pk).update(
                technician=technician, route_position=position, planned_start=planned
            )
            if moved:
                event_record(
                    case_id=job.request.case_id,
                    activity="appointment.replanned",
                    actor=None,
                    channel=Event.Channel.SYSTEM,
                    layer=Event.Layer.DIGITAL,
                    attributes={
                        "request": job.request.reference,
                        "job": job.pk,
                        "technician": technician.pk,
                        "previous_technician": job.technician_id,
                        "window_start": job.visit_start.isoformat() if job.visit_start else None,
                        "window_end": job.visit_end.isoformat() if job.visit_end else None,
                        "planned_start": planned.isoformat(),
                    },
                )
    return Outcome(day, len(jobs), True, "applied", travel_before, solution.distance)
