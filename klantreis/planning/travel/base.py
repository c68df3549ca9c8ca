"""The one small interface every travel-time source speaks.

A source answers one question: how long, and how far, from each of these
origins to each of these destinations. Slot offering, route optimisation and
the ETA ask it that way; which source answers (straight-line estimate, a road
network server, a cache in front of either) is the organisation's setting.

Units are whole seconds and whole metres, as routing (PyVRP) and the slot
checks work in integers.

A pair that the road network cannot connect (an address snapped to an island
or to a road closed to cars) is not a failure of the source: it gets
`UNREACHABLE` in both matrices. That is larger than any working day or
planning horizon, so a slot check or a route through it is simply infeasible,
while the other pairs in the same query stay usable; raising instead would let
one odd address block every offer. It is still far below int64 and PyVRP's
largest value, so sums along a route cannot overflow. Callers that show a time
to a person (the ETA) must test for it.

`TravelTimeError` is its own exception rather than an `ApplicationError`:
`ApplicationError` carries a translated message meant for the person who made
the request ("this technician lacks the specialism"), while a source failing
(timeout, HTTP 502, a malformed answer) is an infrastructure fault with a
technical message for the log. A caller decides what the person sees, e.g.
slot offering falling back to the estimate or saying "call us".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

UNREACHABLE = 1_000_000_000
"""Seconds and metres of a pair the road network cannot connect (about 31 years)."""


class TravelTimeError(Exception):
    """A travel-time source could not answer (unreachable server, error answer, timeout)."""


@dataclass(frozen=True, slots=True)
class Location:
    """A point in WGS84 degrees."""

    latitude: float
    longitude: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.latitude) and -90.0 <= self.latitude <= 90.0):
            raise ValueError(f"Latitude {self.latitude!r} is not between -90 and 90.")
        if not (math.isfinite(self.longitude) and -180.0 <= self.longitude <= 180.0):
            raise ValueError(f"Longitude {self.longitude!r} is not between -180 and 180.")


def _frozen(values: object, name: str) -> NDArray[np.int64]:
    matrix = np.array(values, dtype=np.int64)
    if matrix.ndim != 2:
        raise ValueError(f"The {name} matrix must have two dimensions, not {matrix.ndim}.")
    if (matrix < 0).any():
        raise ValueError(f"The {name} matrix has a negative entry.")
    matrix.flags.writeable = False
    return matrix


class TravelMatrix:
    """`durations[i][j]` seconds and `distances[i][j]` metres from origin i to destination j.

    Read-only int64 arrays (`.tolist()` gives plain lists), so a matrix can be
    shared, e.g. kept by a caller across queries, without copies."""

    __slots__ = ("distances", "durations")

    durations: NDArray[np.int64]
    distances: NDArray[np.int64]

    def __init__(self, durations: object, distances: object) -> None:
        self.durations = _frozen(durations, "durations")
        self.distances = _frozen(distances, "distances")
        if self.durations.shape != self.distances.shape:
            raise ValueError(
                f"Durations {self.durations.shape} and distances {self.distances.shape} differ in shape."
            )

    @classmethod
    def empty(cls, origins: int, destinations: int) -> TravelMatrix:
        zeros = np.zeros((origins, destinations), dtype=np.int64)
        return cls(zeros, zeros)

    @property
    def shape(self) -> tuple[int, int]:
        rows, columns = self.durations.shape
        return int(rows), int(columns)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TravelMatrix):
            return NotImplemented
        return bool(
            np.array_equal(self.durations, other.durations)
            and np.array_equal(self.distances, other.distances)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"TravelMatrix(durations={self.durations.tolist()}, distances={self.distances.tolist()})"


class TravelTimeSource(Protocol):
    """Where travel times come from. Implementations subclass this explicitly to
    inherit `seconds`; anything with a matching `matrix` also fits the type."""

    def matrix(self, origins: Sequence[Location], destinations: Sequence[Location]) -> TravelMatrix:
        """Seconds and metres from every origin to every destination.

        Raises `TravelTimeError` when the source cannot answer."""
        ...

    def seconds(self, origin: Location, destination: Location) -> int:
        return int(self.matrix([origin], [destination]).durations[0, 0])
