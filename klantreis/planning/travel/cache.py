"""A cache in front of a travel-time source, per (origin, destination) pair.

Addresses repeat: the same homes and depots come back in query after query,
and a road network server answers the same pair the same way until its map is
rebuilt. So every pair is kept in Django's cache framework under its two
locations rounded to 1e-5 degree (about 1 m, well inside how precisely an
address is geocoded), and a matrix asks the inner source only for the pairs
it has not seen: one request for the rows × columns that hold a missing pair.

Across processes: Django's cache is the shared store, so every web and worker
process sees what another one fetched, provided the cache itself is shared.
Without a `CACHES` setting Django uses a per-process `LocMemCache`, which
still works but each process fetches its own pairs; production configures a
shared cache (`docs/configuration.md`, "Travel times"). There is no
read-modify-write: two processes that miss the same pair both fetch it and
write the same value, which is harmless.

The key names the inner source (its `repr`, which states the parameters that
change answers: server and profile, or circuity and speed), so switching
sources or settings never serves the old source's times.

Only worth it for a source that is slow to ask (OSRM): the straight-line
estimate computes a pair far faster than any cache can look one up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from django.core.cache import BaseCache, caches

from klantreis.planning.travel.base import Location, TravelMatrix, TravelTimeSource

DEFAULT_TTL = 7 * 24 * 60 * 60
"""A week: road networks change slowly, and a rebuilt map shows within that."""

_PRECISION = 100_000  # 1e-5 degree


def _rounded(location: Location) -> tuple[int, int]:
    return round(location.latitude * _PRECISION), round(location.longitude * _PRECISION)


class CachedSource(TravelTimeSource):
    def __init__(
        self,
        source: TravelTimeSource,
        cache: BaseCache | None = None,
        ttl: int | None = DEFAULT_TTL,
        *,
        namespace: str | None = None,
    ) -> None:
        """`cache`: default Django's "default" cache, looked up per call (Django keeps one
        per thread). `ttl`: seconds a pair is kept; None keeps it until evicted.
        `namespace`: what tells this source's answers apart; default its repr."""
        self.source = source
        self._cache = cache
        self.ttl = ttl
        digest = hashlib.sha256((namespace or repr(source)).encode()).hexdigest()[:16]
        self._prefix = f"travel:v1:{digest}"

    def __repr__(self) -> str:
        return f"CachedSource({self.source!r})"

    @property
    def cache(self) -> BaseCache:
        return self._cache if self._cache is not None else caches["default"]

    def key(self, origin: tuple[int, int], destination: tuple[int, int]) -> str:
        return f"{self._prefix}:{origin[0]}:{origin[1]}:{destination[0]}:{destination[1]}"

    def matrix(self, origins: Sequence[Location], destinations: Sequence[Location]) -> TravelMatrix:
        if not origins or not destinations:
            return TravelMatrix.empty(len(origins), len(destinations))
        # Distinct rounded locations, each with the first location that rounds to it.
        row_of: dict[tuple[int, int], int] = {}
        row_locations: list[Location] = []
        for location in origins:
            if row_of.setdefault(_rounded(location), len(row_locations)) == len(row_locations):
                row_locations.append(location)
        column_of: dict[tuple[int, int], int] = {}
        column_locations: list[Location] = []
        for location in destinations:
            if column_of.setdefault(_rounded(location), len(column_locations)) == len(column_locations):
                column_locations.append(location)

        keys = {
            self.key(origin, destination): (row, column)
            for origin, row in row_of.items()
            for destination, column in column_of.items()
        }
        cache = self.cache
        found: dict[str, tuple[int, int]] = cache.get_many(keys)
        durations = np.zeros((len(row_locations), len(column_locations)), dtype=np.int64)
        distances = np.zeros_like(durations)
        for key, (seconds, metres) in found.items():
            row, column = keys[key]
            durations[row, column] = seconds
            distances[row, column] = metres

        missing = [cell for key, cell in keys.items() if key not in found]
        if missing:
            rows = sorted({row for row, _ in missing})
            columns = sorted({column for _, column in missing})
            fetched = self.source.matrix(
                [row_locations[row] for row in rows], [column_locations[column] for column in columns]
            )
            position_of_row = {row: i for i, row in enumerate(rows)}
            position_of_column = {column: j for j, column in enumerate(columns)}
            fresh: dict[str, tuple[int, int]] = {}
            row_keys = list(row_of)
            column_keys = list(column_of)
            for row, column in missing:
                i, j = position_of_row[row], position_of_column[column]
                seconds, metres = int(fetched.durations[i, j]), int(fetched.distances[i, j])
                durations[row, column] = seconds
                distances[row, column] = metres
                fresh[self.key(row_keys[row], column_keys[column])] = (seconds, metres)
            cache.set_many(fresh, timeout=self.ttl)

        origin_rows = np.fromiter((row_of[_rounded(o)] for o in origins), dtype=np.intp, count=len(origins))
        destination_columns = np.fromiter(
            (column_of[_rounded(d)] for d in destinations), dtype=np.intp, count=len(destinations)
        )
        grid = np.ix_(origin_rows, destination_columns)
        return TravelMatrix(durations[grid], distances[grid])
