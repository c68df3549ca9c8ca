import pytest
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.management import call_command

from klantreis.planning.tests.travel.places import (
    AMSTERDAM_CENTRAAL,
    DOMTOREN,
    NIEUWEGEIN,
    ROTTERDAM_CENTRAAL,
    UTRECHT_CENTRAAL,
    ZEIST,
)
from klantreis.planning.travel import (
    CachedSource,
    HaversineSource,
    Location,
    OsrmSource,
    TravelTimeError,
    TravelTimeSource,
)

ESTIMATE = HaversineSource(circuity_factor=1.35, average_speed_kmh=30.0)


class Recording(TravelTimeSource):
    """The straight-line estimate, keeping every question it was asked."""

    def __init__(self, inner=ESTIMATE, *, fail=False):
        self.inner = inner
        self.fail = fail
        self.calls = []

    def __repr__(self):
        return repr(self.inner)

    def matrix(self, origins, destinations):
        self.calls.append((list(origins), list(destinations)))
        if self.fail:
            raise TravelTimeError("OSRM at http://osrm did not answer within 5 s")
        return self.inner.matrix(origins, destinations)


@pytest.fixture
def cache(request):
    """A cache of its own per test, so nothing leaks from one test to the next."""
    return LocMemCache(f"travel-{request.node.name}", {})


def test_a_second_identical_matrix_asks_the_source_nothing(cache):
    inner = Recording()
    source = CachedSource(inner, cache)
    places = [UTRECHT_CENTRAAL, AMSTERDAM_CENTRAAL, ZEIST]

    first = source.matrix(places, places)
    second = source.matrix(places, places)

    assert first == ESTIMATE.matrix(places, places)
    assert second == first
    assert inner.calls == [(places, places)]


def test_only_the_missing_pairs_are_asked_for(cache):
    inner = Recording()
    source = CachedSource(inner, cache)
    source.matrix([UTRECHT_CENTRAAL, DOMTOREN], [ZEIST])
    inner.calls.clear()

    matrix = source.matrix([UTRECHT_CENTRAAL, DOMTOREN], [ZEIST, NIEUWEGEIN])

    assert inner.calls == [([UTRECHT_CENTRAAL, DOMTOREN], [NIEUWEGEIN])]
    assert matrix == ESTIMATE.matrix([UTRECHT_CENTRAAL, DOMTOREN], [ZEIST, NIEUWEGEIN])


def test_scattered_missing_pairs_take_one_request_for_their_rows_and_columns(cache):
    inner = Recording()
    source = CachedSource(inner, cache)
    source.matrix([UTRECHT_CENTRAAL], [ZEIST])
    source.matrix([DOMTOREN], [NIEUWEGEIN])
    source.matrix([AMSTERDAM_CENTRAAL], [ZEIST, NIEUWEGEIN])
    inner.calls.clear()

    # Known: Utrecht → Zeist, Domtoren → Nieuwegein, Amsterdam → both.
    matrix = source.matrix([UTRECHT_CENTRAAL, DOMTOREN, AMSTERDAM_CENTRAAL], [ZEIST, NIEUWEGEIN])

    assert inner.calls == [([UTRECHT_CENTRAAL, DOMTOREN], [ZEIST, NIEUWEGEIN])]
    assert matrix == ESTIMATE.matrix([UTRECHT_CENTRAAL, DOMTOREN, AMSTERDAM_CENTRAAL], [ZEIST, NIEUWEGEIN])


def test_repeated_locations_are_asked_for_once_and_answered_in_place(cache):
    inner = Recording()
    source = CachedSource(inner, cache)

    matrix = source.matrix([DOMTOREN, ZEIST, DOMTOREN], [ZEIST, ZEIST])

    assert inner.calls == [([DOMTOREN, ZEIST], [ZEIST])]
    assert matrix == ESTIMATE.matrix([DOMTOREN, ZEIST, DOMTOREN], [ZEIST, ZEIST])


def test_locations_within_a_hundred_thousandth_of_a_degree_share_an_entry(cache):
    inner = Recording()
    source = CachedSource(inner, cache)
    source.matrix([DOMTOREN], [ZEIST])
    inner.calls.clear()

    nearby = Location(DOMTOREN.latitude + 0.000003, DOMTOREN.longitude - 0.000004)
    elsewhere = Location(DOMTOREN.latitude + 0.00002, DOMTOREN.longitude)
    same = source.matrix([nearby], [ZEIST])
    source.matrix([elsewhere], [ZEIST])

    assert same == ESTIMATE.matrix([DOMTOREN], [ZEIST])
    assert inner.calls == [([elsewhere], [ZEIST])]


def test_seconds_goes_through_the_cache(cache):
    inner = Recording()
    source = CachedSource(inner, cache)

    assert source.seconds(UTRECHT_CENTRAAL, AMSTERDAM_CENTRAAL) == 5_709
    assert source.seconds(UTRECHT_CENTRAAL, AMSTERDAM_CENTRAAL) == 5_709
    assert len(inner.calls) == 1


def test_a_direction_is_its_own_pair(cache):
    inner = Recording()
    source = CachedSource(inner, cache)
    source.matrix([UTRECHT_CENTRAAL], [ZEIST])

    source.matrix([ZEIST], [UTRECHT_CENTRAAL])

    assert inner.calls == [([UTRECHT_CENTRAAL], [ZEIST]), ([ZEIST], [UTRECHT_CENTRAAL])]


def test_sources_with_other_settings_do_not_share_answers(cache):
    slow = Recording(HaversineSource(circuity_factor=1.35, average_speed_kmh=30.0))
    fast = Recording(HaversineSource(circuity_factor=1.35, average_speed_kmh=60.0))
    CachedSource(slow, cache).matrix([DOMTOREN], [ZEIST])

    matrix = CachedSource(fast, cache).matrix([DOMTOREN], [ZEIST])

    assert len(fast.calls) == 1
    assert matrix.durations[0][0] == fast.inner.seconds(DOMTOREN, ZEIST)
    assert matrix.durations[0][0] < slow.inner.seconds(DOMTOREN, ZEIST)


def test_a_failing_source_fails_the_matrix_and_nothing_is_kept(cache):
    failing = CachedSource(Recording(fail=True), cache)

    with pytest.raises(TravelTimeError, match="did not answer"):
        failing.matrix([DOMTOREN], [ZEIST])

    recovered = Recording()
    CachedSource(recovered, cache).matrix([DOMTOREN], [ZEIST])
    assert len(recovered.calls) == 1


def test_a_ttl_of_zero_keeps_nothing(cache):
    inner = Recording()
    source = CachedSource(inner, cache, ttl=0)

    source.matrix([DOMTOREN], [ZEIST])
    source.matrix([DOMTOREN], [ZEIST])

    assert len(inner.calls) == 2


def test_an_empty_side_asks_nothing(cache):
    inner = Recording()

    assert CachedSource(inner, cache).matrix([], [ZEIST]).shape == (0, 1)
    assert inner.calls == []


def test_without_a_cache_the_default_cache_is_used():
    default = caches["default"]
    default.clear()
    inner = Recording()

    CachedSource(inner).matrix([DOMTOREN], [ZEIST])
    again = Recording()
    CachedSource(again).matrix([DOMTOREN], [ZEIST])

    assert len(inner.calls) == 1
    assert again.calls == []
    # Keyed by the rounded coordinates: 52.0907 → 5209070, 5.1214 → 512140, ...
    key = CachedSource(inner).key((5_209_070, 512_140), (5_208_930, 523_310))
    assert default.get(key) == (ESTIMATE.seconds(DOMTOREN, ZEIST), ESTIMATE.metres(DOMTOREN, ZEIST))
    default.clear()


@pytest.mark.django_db
def test_two_processes_share_pairs_through_a_database_cache(settings):
    # Two CachedSource objects on the database cache stand for two processes: what
    # one fetched, the other finds in the shared table.
    settings.CACHES = {
        **settings.CACHES,
        "travel": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "travel_cache"},
    }
    call_command("createcachetable", "travel_cache", verbosity=0)
    web, worker = Recording(), Recording()
    places = [UTRECHT_CENTRAAL, ROTTERDAM_CENTRAAL, DOMTOREN]

    fetched = CachedSource(web, caches["travel"]).matrix(places, places)
    found = CachedSource(worker, caches["travel"]).matrix(places, places)

    assert found == fetched
    assert len(web.calls) == 1
    assert worker.calls == []


def test_osrm_behind_the_cache_is_asked_once(cache, osrm_server):
    source = CachedSource(OsrmSource(osrm_server.url), cache)

    first = source.matrix([DOMTOREN, ZEIST], [NIEUWEGEIN])
    second = source.matrix([DOMTOREN, ZEIST], [NIEUWEGEIN])

    assert second == first
    assert len(osrm_server.requests) == 1
