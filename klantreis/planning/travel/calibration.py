"""Calibrating the straight-line estimate from observed travel between visits.

The estimate says seconds = straight-line km × circuity ÷ speed × 3600. From
durations alone, circuity and speed cannot be told apart: only their ratio,
seconds per straight-line km, shows in the data. So `calibrate` fits that one
slope by least squares and expresses it as a speed at the organisation's
configured circuity factor (which only a distance source, e.g. OSRM or
odometer readings, could calibrate).

The line goes through the origin, without an intercept for parking and
walking: the haversine source has no such term, so the fit minimises exactly
the error of the model that will be used; the slope absorbs the average
overhead per trip. Observations over less than 100 m (the same building or
street) carry no information on the slope and are left out, as are zero
durations. A fit needs at least 20 usable trips, and a resulting speed outside
5–130 km/h points at bad data (breaks or waiting counted as travel), not at
the roads, so it is refused rather than stored.

Where observations come from, for now (`job_observations`): consecutive
visits of one technician on one day, both route-planned (`planned_start`
set), the second one a fixed job. No arrival time is recorded yet, so a trip
is estimated as: from the moment the first visit was completed to the second
one's completion less its on-site time (`duration_minutes`, else the
request's estimate); that is why the second must be fixed (a "not home" visit
has no such on-site time). Every visit, also a "not home" one, counts for the
order, so two visits with another in between are never taken as one trip.
Gaps over two hours are left out: they hold a break or waiting, not driving. Once the
technician's "on my way" and arrival are recorded (the ETA work), they should
replace this estimate. The planned arrival itself is not used: it comes from
the current travel model, so fitting to it would only return the model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from klantreis.core.errors import ApplicationError
from klantreis.planning.models import Job, PlanningSettings
from klantreis.planning.travel.base import Location
from klantreis.planning.travel.haversine import great_circle_metres

MIN_SAMPLES = 20
MIN_TRIP_METRES = 100.0
MIN_SPEED_KMH = 5.0
MAX_SPEED_KMH = 130.0
MIN_CIRCUITY = 1.0
MAX_CIRCUITY = 3.0
MAX_TRIP = timedelta(hours=2)

MESSAGE_TOO_FEW = _(
    "Too few observations to calibrate travel times: %(count)d, at least %(minimum)d are needed."
)
MESSAGE_TOO_FEW_TRIPS = _(
    "Only %(usable)d of %(count)d observations are trips of %(metres)d m or more with a travel time; "
    "at least %(minimum)d are needed."
)
MESSAGE_IMPLAUSIBLE_SPEED = _(
    "The observations give an average speed of %(speed).1f km/h, outside %(low)d–%(high)d km/h: "
    "check the visit times before calibrating."
)
MESSAGE_CIRCUITY_RANGE = _("The circuity factor must be between %(low).1f and %(high).1f.")


@dataclass(frozen=True, slots=True)
class Observation:
    """A trip that was made: from `origin` to `destination` in `seconds`."""

    origin: Location
    destination: Location
    seconds: int

    def __post_init__(self) -> None:
        if self.seconds < 0:
            raise ValueError(f"A trip cannot take {self.seconds} seconds.")


@dataclass(frozen=True, slots=True)
class Calibration:
    """The fitted estimate: `samples` trips used, `error` the root-mean-square
    difference between estimated and observed seconds."""

    circuity_factor: float
    average_speed_kmh: float
    samples: int
    error: float

    @property
    def seconds_per_km(self) -> float:
        """Seconds per straight-line kilometre, the quantity actually fitted."""
        return 3600 * self.circuity_factor / self.average_speed_kmh


def calibrate(observations: Sequence[Observation], *, circuity_factor: float) -> Calibration:
    """Fit seconds per straight-line km and express it as a speed at `circuity_factor`.

    Raises ApplicationError when the observations cannot support a fit."""
    if not MIN_CIRCUITY <= circuity_factor <= MAX_CIRCUITY:
        raise ApplicationError(
            MESSAGE_CIRCUITY_RANGE % {"low": MIN_CIRCUITY, "high": MAX_CIRCUITY}, field="circuity_factor"
        )
    if len(observations) < MIN_SAMPLES:
        raise ApplicationError(MESSAGE_TOO_FEW % {"count": len(observations), "minimum": MIN_SAMPLES})
    trips = [
        (metres, float(o.seconds))
        for o in observations
        if (metres := great_circle_metres(o.origin, o.destination)) >= MIN_TRIP_METRES and o.seconds > 0
    ]
    if len(trips) < MIN_SAMPLES:
        raise ApplicationError(
            MESSAGE_TOO_FEW_TRIPS
            % {
                "usable": len(trips),
                "count": len(observations),
                "metres": MIN_TRIP_METRES,
                "minimum": MIN_SAMPLES,
            }
        )
    # Least squares through the origin: slope = Σxy / Σx² (seconds per straight-line metre).
    slope = math.fsum(x * y for x, y in trips) / math.fsum(x * x for x, _ in trips)
    speed_kmh = 3.6 * circuity_factor / slope
    if not MIN_SPEED_KMH <= speed_kmh <= MAX_SPEED_KMH:
        raise ApplicationError(
            MESSAGE_IMPLAUSIBLE_SPEED % {"speed": speed_kmh, "low": MIN_SPEED_KMH, "high": MAX_SPEED_KMH}
        )
    error = math.sqrt(math.fsum((y - slope * x) ** 2 for x, y in trips) / len(trips))
    return Calibration(
        circuity_factor=circuity_factor,
        average_speed_kmh=round(speed_kmh, 1),
        samples=len(trips),
        error=round(error, 1),
    )


@dataclass(frozen=True, slots=True)
class JobObservations:
    """Trips read from the job history; `pairs` counts the consecutive visit pairs
    that qualified, of which those with an implausible gap were left out."""

    observations: list[Observation]
    pairs: int


# Visits that happened: the technician came to the door, whatever the outcome.
_VISITED = (Job.Status.FIXED, Job.Status.NOT_FIXED, Job.Status.NOT_HOME)


class _Visit(NamedTuple):
    technician_id: int | None
    day: date
    completed_at: datetime
    planned: bool
    location: Location


def job_observations() -> JobObservations:
    """Trips between consecutive route-planned visits of one technician on one day
    that end at a fixed job (see the module docstring for how a trip is timed)."""
    jobs = (
        Job.objects.filter(technician__isnull=False, completed_at__isnull=False, status__in=_VISITED)
        .select_related("request__home")
        .order_by("technician_id", "completed_at", "pk")
    )
    observations: list[Observation] = []
    pairs = 0
    previous: _Visit | None = None
    # Every visit counts for the order, also those that are not used as a trip: a
    # visit in between (customer not home, or not route-planned) means the two
    # around it were not consecutive.
    for job in jobs.iterator(chunk_size=2000):
        if job.completed_at is None:  # excluded above; for the type checker
            continue
        home = job.request.home
        visit = _Visit(
            technician_id=job.technician_id,
            day=timezone.localdate(job.completed_at),
            completed_at=job.completed_at,
            planned=job.planned_start is not None,
            location=Location(latitude=home.latitude, longitude=home.longitude),
        )
        if (
            previous is not None
            and (previous.technician_id, previous.day) == (visit.technician_id, visit.day)
            and previous.planned
            and visit.planned
            and job.status == Job.Status.FIXED
        ):
            pairs += 1
            on_site = timedelta(minutes=job.duration_minutes or job.request.estimated_minutes)
            travel = visit.completed_at - on_site - previous.completed_at
            if timedelta(0) < travel <= MAX_TRIP:
                observations.append(
                    Observation(
                        origin=previous.location,
                        destination=visit.location,
                        seconds=round(travel.total_seconds()),
                    )
                )
        previous = visit
    return JobObservations(observations=observations, pairs=pairs)


@transaction.atomic
def calibration_apply(*, calibration: Calibration) -> PlanningSettings:
    """Store the fitted circuity and speed, and nothing else, in the planning settings."""
    if not MIN_CIRCUITY <= calibration.circuity_factor <= MAX_CIRCUITY:
        raise ApplicationError(
            MESSAGE_CIRCUITY_RANGE % {"low": MIN_CIRCUITY, "high": MAX_CIRCUITY}, field="circuity_factor"
        )
    if not MIN_SPEED_KMH <= calibration.average_speed_kmh <= MAX_SPEED_KMH:
        raise ApplicationError(
            MESSAGE_IMPLAUSIBLE_SPEED
            % {"speed": calibration.average_speed_kmh, "low": MIN_SPEED_KMH, "high": MAX_SPEED_KMH},
            field="average_speed_kmh",
        )
    settings = PlanningSettings.objects.select_for_update().order_by("pk").first()
    if settings is None:
        settings = PlanningSettings(
            circuity_factor=calibration.circuity_factor, average_speed_kmh=calibration.average_speed_kmh
        )
        settings.save()
        return settings
    settings.circuity_factor = calibration.circuity_factor
    settings.average_speed_kmh = calibration.average_speed_kmh
    settings.save(update_fields=["circuity_factor", "average_speed_kmh"])
    return settings
