import random

import pytest
from django.utils import translation

from klantreis.core.errors import ApplicationError
from klantreis.planning.models import PlanningSettings
from klantreis.planning.tests.travel.places import DOMTOREN, UTRECHT_CENTRAAL
from klantreis.planning.travel import Location
from klantreis.planning.travel.calibration import (
    MESSAGE_CIRCUITY_RANGE,
    MESSAGE_IMPLAUSIBLE_SPEED,
    MESSAGE_TOO_FEW,
    MESSAGE_TOO_FEW_TRIPS,
    Calibration,
    Observation,
    calibrate,
    calibration_apply,
)
from klantreis.planning.travel.haversine import great_circle_metres


@pytest.fixture(autouse=True)
def _english():
    """The messages are compared in English as well as with their constants."""
    with translation.override("en"):
        yield


def places(count: int, seed: int = 5) -> list[Location]:
    rng = random.Random(seed)  # noqa: S311 - test positions
    return [Location(rng.uniform(52.03, 52.13), rng.uniform(5.03, 5.20)) for _ in range(count)]


def trips(count: int, *, speed_kmh: float, circuity: float = 1.35, seed: int = 5) -> list[Observation]:
    """Trips between consecutive random places in Utrecht, timed exactly as the estimate would."""
    stops = places(count + 1, seed)
    return [
        Observation(
            origin=a,
            destination=b,
            seconds=round(great_circle_metres(a, b) * circuity / (speed_kmh / 3.6)),
        )
        for a, b in zip(stops, stops[1:], strict=False)
    ]


def test_trips_timed_as_the_estimate_give_back_its_speed():
    observations = trips(24, speed_kmh=27.5)

    fit = calibrate(observations, circuity_factor=1.35)

    assert fit.circuity_factor == 1.35
    assert fit.average_speed_kmh == 27.5
    assert fit.samples == 24
    assert fit.error <= 0.5  # only the rounding to whole seconds
    assert fit.seconds_per_km == pytest.approx(3600 * 1.35 / 27.5)


def test_the_speed_is_expressed_at_the_configured_circuity():
    observations = trips(24, speed_kmh=30.0, circuity=1.35)

    fit = calibrate(observations, circuity_factor=1.5)

    # Same seconds per straight-line km: 1.35 / 30 = 1.5 / 33.3.
    assert fit.average_speed_kmh == 33.3
    assert fit.circuity_factor == 1.5


def test_scatter_around_the_model_shows_as_the_error_not_in_the_speed():
    exact = trips(12, speed_kmh=30.0)
    late = [Observation(o.origin, o.destination, o.seconds + 45) for o in exact]
    early = [Observation(o.origin, o.destination, o.seconds - 45) for o in exact]

    fit = calibrate(late + early, circuity_factor=1.35)

    assert fit.average_speed_kmh == 30.0
    assert fit.samples == 24
    assert fit.error == pytest.approx(45.0, abs=0.5)


def test_trips_within_a_street_and_zero_durations_are_left_out():
    observations = trips(21, speed_kmh=30.0)
    nearby = Location(DOMTOREN.latitude + 0.0005, DOMTOREN.longitude)  # 56 m
    noise = [
        Observation(DOMTOREN, nearby, 400),
        Observation(DOMTOREN, DOMTOREN, 300),
        Observation(DOMTOREN, UTRECHT_CENTRAAL, 0),
    ]

    fit = calibrate(observations + noise, circuity_factor=1.35)

    assert fit.samples == 21
    assert fit.average_speed_kmh == 30.0


def test_fewer_than_twenty_observations_are_refused():
    with pytest.raises(ApplicationError) as refused:
        calibrate(trips(19, speed_kmh=30.0), circuity_factor=1.35)

    assert str(refused.value) == str(MESSAGE_TOO_FEW % {"count": 19, "minimum": 20})
    assert str(refused.value) == "Too few observations to calibrate travel times: 19, at least 20 are needed."


def test_observations_that_are_no_trips_are_refused():
    standing_still = [Observation(DOMTOREN, DOMTOREN, 600)] * 25

    with pytest.raises(ApplicationError) as refused:
        calibrate(standing_still, circuity_factor=1.35)

    assert str(refused.value) == (
        "Only 0 of 25 observations are trips of 100 m or more with a travel time; at least 20 are needed."
    )
    assert str(refused.value) == str(
        MESSAGE_TOO_FEW_TRIPS % {"usable": 0, "count": 25, "metres": 100, "minimum": 20}
    )


def test_too_few_real_trips_among_enough_observations_are_refused():
    observations = trips(19, speed_kmh=30.0) + [Observation(DOMTOREN, DOMTOREN, 600)] * 3

    with pytest.raises(ApplicationError) as refused:
        calibrate(observations, circuity_factor=1.35)

    assert str(refused.value) == (
        "Only 19 of 22 observations are trips of 100 m or more with a travel time; at least 20 are needed."
    )


@pytest.mark.parametrize(("speed", "shown"), [(200.0, "200.0"), (2.0, "2.0")])
def test_an_implausible_speed_is_refused(speed, shown):
    with pytest.raises(ApplicationError) as refused:
        calibrate(trips(24, speed_kmh=speed), circuity_factor=1.35)

    assert str(refused.value) == (
        f"The observations give an average speed of {shown} km/h, outside 5–130 km/h: "
        "check the visit times before calibrating."
    )
    assert str(refused.value) == str(
        MESSAGE_IMPLAUSIBLE_SPEED % {"speed": float(shown), "low": 5, "high": 130}
    )


@pytest.mark.parametrize("circuity", [0.9, 3.5])
def test_a_circuity_outside_the_settings_range_is_refused(circuity):
    with pytest.raises(ApplicationError) as refused:
        calibrate(trips(24, speed_kmh=30.0), circuity_factor=circuity)

    assert str(refused.value) == str(MESSAGE_CIRCUITY_RANGE % {"low": 1.0, "high": 3.0})
    assert refused.value.field == "circuity_factor"


def test_a_trip_cannot_take_negative_time():
    with pytest.raises(ValueError, match="^A trip cannot take -1 seconds.$"):
        Observation(DOMTOREN, UTRECHT_CENTRAAL, -1)


@pytest.mark.django_db
def test_applying_stores_circuity_and_speed_and_leaves_the_other_settings():
    existing = PlanningSettings.objects.create(
        slot_minutes=90, horizon_days=10, osrm_url="http://osrm.internal:5000", circuity_factor=1.2
    )

    stored = calibration_apply(
        calibration=Calibration(circuity_factor=1.3, average_speed_kmh=33.3, samples=40, error=80.0)
    )

    existing.refresh_from_db()
    assert stored.pk == existing.pk
    assert (existing.circuity_factor, existing.average_speed_kmh) == (1.3, 33.3)
    assert (existing.slot_minutes, existing.horizon_days, existing.osrm_url) == (
        90,
        10,
        "http://osrm.internal:5000",
    )
    assert PlanningSettings.objects.count() == 1


@pytest.mark.django_db
def test_applying_without_settings_creates_them_with_defaults():
    calibration_apply(
        calibration=Calibration(circuity_factor=1.35, average_speed_kmh=27.5, samples=30, error=60.0)
    )

    stored = PlanningSettings.objects.get()
    assert (stored.circuity_factor, stored.average_speed_kmh, stored.slot_minutes) == (1.35, 27.5, 120)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("circuity", "speed", "field"), [(1.35, 150.0, "average_speed_kmh"), (0.5, 30.0, "circuity_factor")]
)
def test_applying_an_out_of_range_calibration_stores_nothing(circuity, speed, field):
    PlanningSettings.objects.create()

    with pytest.raises(ApplicationError) as refused:
        calibration_apply(
            calibration=Calibration(circuity_factor=circuity, average_speed_kmh=speed, samples=30, error=60.0)
        )

    assert refused.value.field == field
    assert PlanningSettings.objects.values_list("circuity_factor", "average_speed_kmh").get() == (1.35, 30.0)
