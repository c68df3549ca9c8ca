import math
import random
import re

import numpy as np
import pytest

from klantreis.planning.tests.travel.places import (
    AMSTERDAM_CENTRAAL,
    DOMTOREN,
    ROTTERDAM_CENTRAAL,
    UTRECHT_CENTRAAL,
    ZEIST,
)
from klantreis.planning.travel import HaversineSource, Location, TravelMatrix
from klantreis.planning.travel.haversine import great_circle_matrix, great_circle_metres

# WGS84 ellipsoidal distances (Vincenty) between the stations; the spherical
# formula must come within 0.5 %.
GEODESIC_UTRECHT_AMSTERDAM = 35_276
GEODESIC_UTRECHT_ROTTERDAM = 47_691


@pytest.mark.parametrize(
    ("destination", "geodesic"),
    [(AMSTERDAM_CENTRAAL, GEODESIC_UTRECHT_AMSTERDAM), (ROTTERDAM_CENTRAAL, GEODESIC_UTRECHT_ROTTERDAM)],
)
def test_great_circle_distance_between_stations_matches_the_ellipsoid(destination, geodesic):
    metres = great_circle_metres(UTRECHT_CENTRAAL, destination)

    assert abs(metres - geodesic) / geodesic < 0.005


def test_great_circle_utrecht_amsterdam_is_35_km():
    assert round(great_circle_metres(UTRECHT_CENTRAAL, AMSTERDAM_CENTRAAL)) == 35_237


def test_estimate_is_great_circle_times_circuity_at_the_average_speed():
    source = HaversineSource(circuity_factor=1.35, average_speed_kmh=30.0)

    matrix = source.matrix([UTRECHT_CENTRAAL], [AMSTERDAM_CENTRAAL])

    # 35,236.65 m × 1.35 = 47,569.48 m; at 30 km/h (8.333 m/s) 5,708.34 s, rounded up.
    assert matrix.distances.tolist() == [[47_569]]
    assert matrix.durations.tolist() == [[5_709]]
    assert source.seconds(UTRECHT_CENTRAAL, AMSTERDAM_CENTRAAL) == 5_709
    assert source.metres(UTRECHT_CENTRAAL, AMSTERDAM_CENTRAAL) == 47_569


def test_seconds_are_rounded_up_but_float_noise_adds_nothing():
    # 1 km north at 36 km/h (10 m/s) with circuity 1: exactly 100 s in exact arithmetic.
    one_degree = great_circle_metres(Location(52.0, 5.0), Location(53.0, 5.0))
    north = Location(52.0 + 1000 / one_degree, 5.0)
    source = HaversineSource(circuity_factor=1.0, average_speed_kmh=36.0)

    assert source.seconds(Location(52.0, 5.0), north) == 100
    assert source.matrix([Location(52.0, 5.0)], [north]).durations.tolist() == [[100]]
    assert source.seconds(Location(52.0, 5.0), Location(52.0 + 1001 / one_degree, 5.0)) == 101


def test_matrix_is_symmetric_with_zero_on_the_diagonal():
    places = [UTRECHT_CENTRAAL, AMSTERDAM_CENTRAAL, ROTTERDAM_CENTRAAL, DOMTOREN, ZEIST]
    source = HaversineSource(circuity_factor=1.35, average_speed_kmh=30.0)

    matrix = source.matrix(places, places)

    assert matrix.shape == (5, 5)
    assert (matrix.durations == matrix.durations.T).all()
    assert (matrix.distances == matrix.distances.T).all()
    assert matrix.durations.diagonal().tolist() == [0, 0, 0, 0, 0]
    assert matrix.distances.diagonal().tolist() == [0, 0, 0, 0, 0]
    assert (matrix.durations[~np.eye(5, dtype=bool)] > 0).all()


def test_matrix_agrees_with_the_single_pair_formula_for_every_cell():
    rng = random.Random(7)  # noqa: S311 - test positions
    origins = [Location(rng.uniform(51.8, 52.4), rng.uniform(4.5, 5.5)) for _ in range(30)]
    destinations = [Location(rng.uniform(51.8, 52.4), rng.uniform(4.5, 5.5)) for _ in range(40)]
    source = HaversineSource(circuity_factor=1.3, average_speed_kmh=42.0)

    matrix = source.matrix(origins, destinations)

    assert matrix.shape == (30, 40)
    assert matrix.durations.tolist() == [[source.seconds(o, d) for d in destinations] for o in origins]
    assert matrix.distances.tolist() == [[source.metres(o, d) for d in destinations] for o in origins]


def test_great_circle_matrix_has_origins_as_rows():
    metres = great_circle_matrix(
        [UTRECHT_CENTRAAL, DOMTOREN], [AMSTERDAM_CENTRAAL, ROTTERDAM_CENTRAAL, ZEIST]
    )

    assert metres.shape == (2, 3)
    assert metres[0, 0] == pytest.approx(great_circle_metres(UTRECHT_CENTRAAL, AMSTERDAM_CENTRAAL))
    assert metres[1, 2] == pytest.approx(great_circle_metres(DOMTOREN, ZEIST))


def test_antipodes_do_not_break_the_formula():
    assert great_circle_metres(Location(0.0, 0.0), Location(0.0, 180.0)) == pytest.approx(
        math.pi * 6_371_008.8
    )


def test_an_empty_side_gives_an_empty_matrix():
    source = HaversineSource(circuity_factor=1.35, average_speed_kmh=30.0)

    assert source.matrix([], [UTRECHT_CENTRAAL]) == TravelMatrix.empty(0, 1)
    assert source.matrix([UTRECHT_CENTRAAL], []).shape == (1, 0)


@pytest.mark.parametrize(
    ("circuity", "speed", "message"),
    [
        (0.9, 30.0, "The circuity factor must be at least 1, not 0.9."),
        (math.nan, 30.0, "The circuity factor must be at least 1, not nan."),
        (1.3, 0.0, "The average speed must be above 0 km/h, not 0.0."),
        (1.3, -5.0, "The average speed must be above 0 km/h, not -5.0."),
        (1.3, math.inf, "The average speed must be above 0 km/h, not inf."),
    ],
)
def test_impossible_parameters_are_refused(circuity, speed, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        HaversineSource(circuity_factor=circuity, average_speed_kmh=speed)


def test_a_large_matrix_comes_in_one_piece():
    rng = random.Random(1)  # noqa: S311
    origins = [Location(rng.uniform(51.8, 52.4), rng.uniform(4.5, 5.5)) for _ in range(1000)]
    destinations = origins[:100]
    source = HaversineSource(circuity_factor=1.35, average_speed_kmh=30.0)

    matrix = source.matrix(origins, destinations)

    assert matrix.shape == (1000, 100)
    assert matrix.durations[:100].diagonal().tolist() == [0] * 100
