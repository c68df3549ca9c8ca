"""Travel times behind one small interface (`TravelTimeSource`), one adapter per folder.

- `base`: `Location`, `TravelMatrix`, the `TravelTimeSource` protocol, `TravelTimeError`.
- `haversine/`: straight-line distance × circuity ÷ speed (the default, no server).
- `osrm/`: a self-hosted OSRM server's Table service.
"""

from __future__ import annotations

from klantreis.planning.travel.base import (
    UNREACHABLE,
    Location,
    TravelMatrix,
    TravelTimeError,
    TravelTimeSource,
)
from klantreis.planning.travel.haversine import HaversineSource
from klantreis.planning.travel.osrm import OsrmSource

__all__ = [
    "UNREACHABLE",
    "HaversineSource",
    "Location",
    "OsrmSource",
    "TravelMatrix",
    "TravelTimeError",
    "TravelTimeSource",
]
