import math
import re

import numpy as np
import pytest

from klantreis.planning.tests.travel.places import AMSTERDAM_CENTRAAL, UTRECHT_CENTRAAL
from klantreis.planning.travel import Location, TravelMatrix, TravelTimeSource


@pytest.mark.parametrize(
    ("latitude", "longitude", "message"),
    [
        (90.5, 5.0, "Latitude 90.5 is not between -90 and 90."),
        (-91.0, 5.0, "Latitude -91.0 is not between -90 and 90."),
        (math.nan, 5.0, "Latitude nan is not between -90 and 90."),
        (52.0, 180.5, "Longitude 180.5 is not between -180 and 180."),
        (52.0, -math.inf, "Longitude -inf is not between -180 and 180."),
    ],
)
def test_a_location_off_the_globe_is_refused(latitude, longitude, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        Location(latitude, longitude)


def test_locations_are_values():
    assert Location(52.0, 5.0) == Location(52.0, 5.0)
    assert len({Location(52.0, 5.0), Location(52.0, 5.0), Location(52.0, 5.1)}) == 2


def test_a_matrix_holds_read_only_integers():
    matrix = TravelMatrix([[0, 60], [61, 0]], [[0, 500], [510, 0]])

    assert matrix.durations.dtype == np.int64
    assert matrix.durations[1][0] == 61
    assert matrix.distances[0][1] == 500
    assert matrix.shape == (2, 2)
    with pytest.raises(ValueError, match="read-only"):
        matrix.durations[0, 0] = 5


def test_a_matrix_does_not_share_the_arrays_it_was_given():
    durations = np.array([[0, 60]])
    matrix = TravelMatrix(durations, durations)

    durations[0, 1] = 99

    assert matrix.durations.tolist() == [[0, 60]]


@pytest.mark.parametrize(
    ("durations", "distances", "message"),
    [
        ([[0, 1]], [[0, 1], [1, 0]], "Durations (1, 2) and distances (2, 2) differ in shape."),
        ([0, 1], [0, 1], "The durations matrix must have two dimensions, not 1."),
        ([[0, -1]], [[0, 1]], "The durations matrix has a negative entry."),
        ([[0, 1]], [[0, -1]], "The distances matrix has a negative entry."),
    ],
)
def test_a_malformed_matrix_is_refused(durations, distances, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        TravelMatrix(durations, distances)


def test_matrices_compare_by_content():
    assert TravelMatrix([[1]], [[2]]) == TravelMatrix(np.array([[1]]), np.array([[2]]))
    assert TravelMatrix([[1]], [[2]]) != TravelMatrix([[1]], [[3]])
    assert TravelMatrix.empty(2, 0).shape == (2, 0)


class Fixed(TravelTimeSource):
    """A source answering 7 s / 70 m for every pair, to check the protocol's `seconds`."""

    def __init__(self):
        self.calls = []

    def matrix(self, origins, destinations):
        self.calls.append((list(origins), list(destinations)))
        return TravelMatrix(
            [[7] * len(destinations)] * len(origins), [[70] * len(destinations)] * len(origins)
        )


def test_seconds_asks_the_matrix_for_one_pair():
    source = Fixed()

    assert source.seconds(UTRECHT_CENTRAAL, AMSTERDAM_CENTRAAL) == 7
    assert source.calls == [([UTRECHT_CENTRAAL], [AMSTERDAM_CENTRAAL])]
