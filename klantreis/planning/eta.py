"""Arrival estimates for the rest of a technician's day.

From where the technician is (a reported position, or the job they are at)
and when they can leave (now, or when the visit in progress should end), the
remaining open jobs of the day are timed in route order: arrive, wait for
the window if early, work the job's duration, drive on. Pure arithmetic over
travel times; `planning.services` stores and announces the results.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from klantreis.planning.models import Job
from klantreis.planning.travel import Location, TravelTimeSource


@dataclass(frozen=True)
class Estimate:
    job: Job
    arrival: datetime

    @property
    def late(self) -> bool:
        """Arriving after the promised window closes."""
        return self.job.visit_end is not None and self.arrival > self.job.visit_end


def job_location(job: Job) -> Location:
    return Location(job.request.home.latitude, job.request.home.longitude)


def estimates(
    *, origin: Location, leave_at: datetime, jobs: Sequence[Job], travel: TravelTimeSource
) -> list[Estimate]:
    """`jobs` in route order, timed from `origin` at `leave_at`."""
    if not jobs:
        return []
    points = [origin, *(job_location(job) for job in jobs)]
    durations = travel.matrix(points[:-1], points[1:]).durations
    result = []
    clock = leave_at.astimezone(UTC)
    for number, job in enumerate(jobs):
        arrival = clock + timedelta(seconds=int(durations[number][number]))
        result.append(Estimate(job=job, arrival=arrival))
        start = max(arrival, job.visit_start) if job.visit_start else arrival
        clock = start + timedelta(minutes=job.duration_minutes or job.request.estimated_minutes)
    return result
