"""OsrmSource against a real HTTP server on 127.0.0.1 that answers as OSRM's
documented Table service does (see osrm_server.py); no part of the client is mocked."""

import json
import math
import re
import time

import pytest

from klantreis.planning.tests.travel.osrm_server import free_port, osrm_cell
from klantreis.planning.tests.travel.places import (
    AMSTERDAM_CENTRAAL,
    DOMTOREN,
    NIEUWEGEIN,
    ROTTERDAM_CENTRAAL,
    UTRECHT_CENTRAAL,
    ZEIST,
)
from klantreis.planning.travel import UNREACHABLE, Location, OsrmSource, TravelTimeError

PLACES = [UTRECHT_CENTRAAL, AMSTERDAM_CENTRAAL, ROTTERDAM_CENTRAAL, DOMTOREN, NIEUWEGEIN, ZEIST]


def lonlat(location: Location) -> tuple[float, float]:
    """A location as the server sees it: six decimals, longitude first."""
    return float(f"{location.longitude:.6f}"), float(f"{location.latitude:.6f}")


def expected(origins, destinations):
    """What the client must make of the server's answer: seconds up, metres rounded."""
    cells = [[osrm_cell(lonlat(o), lonlat(d)) for d in destinations] for o in origins]
    return (
        [[math.ceil(seconds) for seconds, _ in row] for row in cells],
        [[round(metres) for _, metres in row] for row in cells],
    )


def test_the_request_is_osrms_table_url_with_longitude_first(osrm_server):
    source = OsrmSource(osrm_server.url)

    source.matrix([UTRECHT_CENTRAAL, AMSTERDAM_CENTRAAL], [ROTTERDAM_CENTRAAL])

    assert osrm_server.requests == [
        "/table/v1/driving/5.110000,52.089400;4.900300,52.379100;4.469000,51.924400"
        "?sources=0;1&destinations=2&annotations=duration,distance"
    ]


def test_the_profile_and_a_base_path_go_into_the_url():
    source = OsrmSource("https://osrm.internal/route-server/", profile="car")

    url = source.table_url([DOMTOREN], [ZEIST, NIEUWEGEIN])

    assert url == (
        "https://osrm.internal/route-server/table/v1/car/5.121400,52.090700;5.233100,52.089300;"
        "5.083300,52.029200?sources=0&destinations=1;2&annotations=duration,distance"
    )


def test_the_matrix_is_the_servers_table_in_whole_seconds_and_metres(osrm_server):
    source = OsrmSource(osrm_server.url)

    matrix = source.matrix(PLACES[:3], PLACES)

    durations, distances = expected(PLACES[:3], PLACES)
    assert matrix.durations.tolist() == durations
    assert matrix.distances.tolist() == distances
    assert matrix.durations[0][0] == 0
    # The fake drives 1.3 × the straight line at 36 km/h: Utrecht → Amsterdam about 4,580 s.
    assert 4_570 < matrix.durations[0][1] < 4_590
    assert len(osrm_server.requests) == 1


def test_seconds_asks_for_one_pair(osrm_server):
    source = OsrmSource(osrm_server.url)

    seconds = source.seconds(DOMTOREN, ZEIST)

    assert seconds == expected([DOMTOREN], [ZEIST])[0][0][0]
    assert osrm_server.requests == [
        "/table/v1/driving/5.121400,52.090700;5.233100,52.089300"
        "?sources=0&destinations=1&annotations=duration,distance"
    ]


def test_a_large_matrix_is_asked_for_in_blocks_and_put_together(osrm_server):
    osrm_server.max_table_size = 2
    origins = PLACES[:5]
    destinations = PLACES[1:4]

    matrix = OsrmSource(osrm_server.url, max_table_size=2).matrix(origins, destinations)

    durations, distances = expected(origins, destinations)
    assert matrix.durations.tolist() == durations
    assert matrix.distances.tolist() == distances
    # Rows 0-1, 2-3, 4 × columns 0-1, 2: six requests, none larger than 2 × 2.
    assert len(osrm_server.requests) == 6
    blocks = [
        (path.split("sources=")[1].split("&")[0], path.split("destinations=")[1].split("&")[0])
        for path in osrm_server.requests
    ]
    assert blocks == [("0;1", "2;3"), ("0;1", "2"), ("0;1", "2;3"), ("0;1", "2"), ("0", "1;2"), ("0", "1")]


def test_the_default_block_is_a_hundred_by_a_hundred(osrm_server):
    origins = [Location(52.0 + i * 0.001, 5.0) for i in range(150)]
    destinations = [Location(52.0, 5.0 + j * 0.001) for j in range(30)]

    matrix = OsrmSource(osrm_server.url).matrix(origins, destinations)

    assert matrix.shape == (150, 30)
    assert len(osrm_server.requests) == 2
    assert matrix.durations.tolist() == expected(origins, destinations)[0]


def test_a_server_with_a_smaller_table_limit_says_too_big(osrm_server):
    osrm_server.max_table_size = 2

    with pytest.raises(TravelTimeError) as failed:
        OsrmSource(osrm_server.url, max_table_size=3).matrix(PLACES[:3], PLACES[:3])

    assert str(failed.value) == "OSRM answered HTTP 400 'TooBig': Too many table coordinates"


def test_an_unreachable_pair_gets_the_sentinel_and_the_rest_stays_usable(osrm_server):
    island = Location(53.3622, 5.2150)  # Terschelling, no road to the mainland
    osrm_server.unreachable = {lonlat(island)}

    matrix = OsrmSource(osrm_server.url).matrix([UTRECHT_CENTRAAL, island], [island, ZEIST])

    utrecht_zeist = expected([UTRECHT_CENTRAAL], [ZEIST])
    assert matrix.durations.tolist() == [[UNREACHABLE, utrecht_zeist[0][0][0]], [0, UNREACHABLE]]
    assert matrix.distances.tolist() == [[UNREACHABLE, utrecht_zeist[1][0][0]], [0, UNREACHABLE]]


def test_a_wrong_base_path_gives_osrms_error(osrm_server):
    source = OsrmSource(osrm_server.url + "/v5")

    with pytest.raises(TravelTimeError) as failed:
        source.matrix([DOMTOREN], [ZEIST])

    assert str(failed.value) == "OSRM answered HTTP 400 'InvalidService': Service v5 not found!"


@pytest.mark.parametrize(
    ("code", "message"),
    [("NoSegment", "Could not find a matching segment for coordinate 0"), ("NoTable", "No table found")],
)
def test_an_osrm_error_answer_is_a_travel_time_error(osrm_server, code, message):
    osrm_server.fixed_answer = (
        400,
        "application/json",
        json.dumps({"code": code, "message": message}).encode(),
    )

    with pytest.raises(TravelTimeError) as failed:
        OsrmSource(osrm_server.url).matrix([DOMTOREN], [ZEIST])

    assert str(failed.value) == f"OSRM answered HTTP 400 {code!r}: {message}"


def test_an_error_code_with_http_200_is_still_an_error(osrm_server):
    osrm_server.fixed_answer = (200, "application/json", b'{"code": "NoTable", "message": "No table found"}')

    with pytest.raises(TravelTimeError) as failed:
        OsrmSource(osrm_server.url).matrix([DOMTOREN], [ZEIST])

    assert str(failed.value) == "OSRM answered 'NoTable': No table found"


def test_a_proxy_error_page_is_reported_with_its_status(osrm_server):
    osrm_server.fixed_answer = (502, "text/html", b"<html><body>Bad Gateway</body></html>")

    with pytest.raises(TravelTimeError) as failed:
        OsrmSource(osrm_server.url).matrix([DOMTOREN], [ZEIST])

    assert str(failed.value) == "OSRM answered HTTP 502 <html><body>Bad Gateway</body></html>"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b"<html>Welcome to nginx</html>",
            "OSRM answered something that is not JSON: b'<html>Welcome to nginx</html>'",
        ),
        (b"[1, 2]", "OSRM answered JSON that is not an object: b'[1, 2]'"),
        (
            b'{"code": "Ok", "durations": [[0, 60]]}',
            "OSRM's distances are not 1 rows (annotations need OSRM 5.18 or later)",
        ),
        (b'{"code": "Ok", "durations": [[0]], "distances": [[0]]}', "OSRM's durations rows are not 2 long"),
        (
            b'{"code": "Ok", "durations": [[0, "60"]], "distances": [[0, 1]]}',
            "OSRM's durations hold '60', not a number of durations",
        ),
        (
            b'{"code": "Ok", "durations": [[0, -5]], "distances": [[0, 1]]}',
            "OSRM's durations hold -5, not a number of durations",
        ),
        (
            b'{"code": "Ok", "durations": [[0, NaN]], "distances": [[0, 1]]}',
            "OSRM's durations hold nan, not a number of durations",
        ),
        (
            b'{"code": "Ok", "durations": [[0, true]], "distances": [[0, 1]]}',
            "OSRM's durations hold True, not a number of durations",
        ),
    ],
)
def test_an_answer_that_is_not_a_table_is_refused(osrm_server, body, message):
    osrm_server.fixed_answer = (200, "application/json", body)

    with pytest.raises(TravelTimeError) as failed:
        OsrmSource(osrm_server.url).matrix([DOMTOREN], [DOMTOREN, ZEIST])

    assert str(failed.value) == message


def test_a_server_slower_than_the_timeout_is_given_up_on(osrm_server):
    osrm_server.delay = 1.0
    source = OsrmSource(osrm_server.url, timeout=0.2)

    started = time.monotonic()
    with pytest.raises(TravelTimeError) as failed:
        source.matrix([DOMTOREN], [ZEIST])

    assert time.monotonic() - started < 0.9
    assert str(failed.value) == f"OSRM at {osrm_server.url} did not answer within 0.2 s"
    assert len(osrm_server.requests) == 1


def test_a_server_that_is_not_there_cannot_be_reached():
    url = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(TravelTimeError) as failed:
        OsrmSource(url).matrix([DOMTOREN], [ZEIST])

    assert str(failed.value).startswith(f"OSRM at {url} cannot be reached: ")
    assert "Connection refused" in str(failed.value)


def test_environment_proxies_are_not_used(osrm_server, monkeypatch):
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")

    matrix = OsrmSource(osrm_server.url).matrix([DOMTOREN], [ZEIST])

    assert matrix.durations.tolist() == expected([DOMTOREN], [ZEIST])[0]
    assert len(osrm_server.requests) == 1


def test_an_empty_side_asks_nothing(osrm_server):
    source = OsrmSource(osrm_server.url)

    assert source.matrix([], [ZEIST]).shape == (0, 1)
    assert source.matrix([ZEIST], []).shape == (1, 0)
    assert osrm_server.requests == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"base_url": "ftp://osrm.internal"},
            "The OSRM address must start with http:// or https://, not 'ftp://osrm.internal'.",
        ),
        (
            {"base_url": "file:///etc/passwd"},
            "The OSRM address must start with http:// or https://, not 'file:///etc/passwd'.",
        ),
        (
            {"base_url": "http://osrm", "profile": "car/../../admin"},
            "The OSRM profile must be letters, digits, _ or -, not 'car/../../admin'.",
        ),
        (
            {"base_url": "http://osrm", "profile": ""},
            "The OSRM profile must be letters, digits, _ or -, not ''.",
        ),
        ({"base_url": "http://osrm", "timeout": 0}, "The timeout must be above 0 seconds, not 0."),
        ({"base_url": "http://osrm", "max_table_size": 0}, "The table size must be at least 1, not 0."),
    ],
)
def test_a_misconfigured_source_is_refused(arguments, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        OsrmSource(**arguments)
