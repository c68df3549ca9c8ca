"""Travel times behind one small interface (`TravelTimeSource`), one adapter per folder.

- `base`: `Location`, `TravelMatrix`, the `TravelTimeSource` protocol, `TravelTimeError`.
- `haversine/`: straight-line distance × circuity ÷ speed (the default, no server).
- `osrm/`: a self-hosted OSRM server's Table service.
- `cache`: per-pair caching in Django's cache in front of a slow source.
- `calibration`: fitting the straight-line estimate to completed visits.

`travel_source_for(settings)` is what the rest of planning calls. See
docs/travel-times.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from klantreis.planning.travel.base import (
    UNREACHABLE,
    Location,
    TravelMatrix,
    TravelTimeError,
    TravelTimeSource,
)
from klantreis.planning.travel.cache import CachedSource
from klantreis.planning.travel.haversine import HaversineSource
from klantreis.planning.travel.osrm import OsrmSource

if TYPE_CHECKING:
    # Only for the annotation: the adapters stay importable without Django's app
    # registry (the benchmarks import them directly).
    from klantreis.planning.models import PlanningSettings


def travel_source_for(settings: PlanningSettings) -> TravelTimeSource:
    """The organisation's travel-time source as its planning settings choose it.

    OSRM comes wrapped in the cache. The straight-line estimate does not: a
    100 × 100 matrix takes it about 0.6 ms, against about 60 ms to read the same
    pairs from a local-memory cache (docs/travel-times.md), so a cache would only
    slow it down."""
    if settings.travel_source == settings.TravelSource.OSRM:
        if not settings.osrm_url:
            raise TravelTimeError("Travel times come from OSRM, but no OSRM server address is set.")
        return CachedSource(OsrmSource(settings.osrm_url))
    return HaversineSource(settings.circuity_factor, settings.average_speed_kmh)


__all__ = [
    "UNREACHABLE",
    "CachedSource",
    "HaversineSource",
    "Location",
    "OsrmSource",
    "TravelMatrix",
    "TravelTimeError",
    "TravelTimeSource",
    "travel_source_for",
]
