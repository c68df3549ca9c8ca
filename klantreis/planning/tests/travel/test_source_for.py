import pytest

from klantreis.planning.models import PlanningSettings
from klantreis.planning.tests.travel.places import DOMTOREN, ZEIST
from klantreis.planning.travel import (
    CachedSource,
    HaversineSource,
    OsrmSource,
    TravelTimeError,
    travel_source_for,
)


def test_the_default_is_the_straight_line_estimate_with_the_settings_parameters():
    settings = PlanningSettings(circuity_factor=1.4, average_speed_kmh=35.0)

    source = travel_source_for(settings)

    assert isinstance(source, HaversineSource)
    assert (source.circuity_factor, source.average_speed_kmh) == (1.4, 35.0)


def test_osrm_comes_wrapped_in_the_cache(osrm_server):
    settings = PlanningSettings(
        travel_source=PlanningSettings.TravelSource.OSRM, osrm_url=osrm_server.url + "/"
    )

    source = travel_source_for(settings)

    assert isinstance(source, CachedSource)
    assert isinstance(source.source, OsrmSource)
    assert (source.source.base_url, source.source.profile) == (osrm_server.url, "driving")
    source.cache.clear()
    assert source.seconds(DOMTOREN, ZEIST) == source.seconds(DOMTOREN, ZEIST)
    assert len(osrm_server.requests) == 1
    source.cache.clear()


def test_osrm_without_an_address_is_a_clear_error():
    settings = PlanningSettings(travel_source=PlanningSettings.TravelSource.OSRM, osrm_url="")

    with pytest.raises(
        TravelTimeError, match="^Travel times come from OSRM, but no OSRM server address is set.$"
    ):
        travel_source_for(settings)
