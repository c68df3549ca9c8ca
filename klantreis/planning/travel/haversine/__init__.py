"""The default travel-time source: straight-line distance × circuity ÷ average speed."""

from klantreis.planning.travel.haversine.source import (
    EARTH_RADIUS_METRES,
    HaversineSource,
    great_circle_matrix,
    great_circle_metres,
)

__all__ = ["EARTH_RADIUS_METRES", "HaversineSource", "great_circle_matrix", "great_circle_metres"]
