"""A real HTTP server on 127.0.0.1 that answers as OSRM's Table service does.

It parses the request the way osrm-routed documents it
(`/table/v1/{profile}/{lon},{lat};...?sources=..&destinations=..&annotations=..`),
computes each cell from the coordinates it was given (its own great-circle
distance × 1.3 at 10 m/s, to 0.1 as OSRM reports), answers `null` for pairs
involving an unreachable coordinate, and answers OSRM's error bodies with
HTTP 400 for bad input (`InvalidUrl`, `InvalidService`, `InvalidQuery`,
`InvalidOptions`, `TooBig`). Tests can make it slow or make it answer
something fixed, and read back every request path it received.
"""

from __future__ import annotations

import json
import math
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CIRCUITY = 1.3
METRES_PER_SECOND = 10.0

_TABLE = re.compile(r"^/table/v1/([A-Za-z0-9_-]+)/([^?]+)$")


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (for a server that is not there)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def osrm_cell(origin: tuple[float, float], destination: tuple[float, float]) -> tuple[float, float]:
    """(duration s, distance m) as this server reports them for two (lon, lat) points."""
    lon1, lat1 = map(math.radians, origin)
    lon2, lat2 = map(math.radians, destination)
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    metres = 2 * 6_371_000 * math.asin(math.sqrt(h)) * CIRCUITY
    return round(metres / METRES_PER_SECOND, 1), round(metres, 1)


@dataclass
class FakeOsrm:
    url: str = ""
    max_table_size: int = 100
    delay: float = 0.0
    unreachable: set[tuple[float, float]] = field(default_factory=set)
    # (status, content type, body) to answer every request with, instead of computing.
    fixed_answer: tuple[int, str, bytes] | None = None
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        target, _, query = path.partition("?")
        service = target.split("/")[1] if target.count("/") > 1 else ""
        if service != "table":
            return 400, error("InvalidService", f"Service {service} not found!")
        match = _TABLE.match(target)
        if match is None:
            return 400, error("InvalidUrl", f"URL string malformed close to position {len(target)}: {target}")
        coordinates: list[tuple[float, float]] = []
        position = len("/table/v1/") + len(match.group(1)) + 1
        for text in match.group(2).split(";"):
            parts = text.split(",")
            try:
                if len(parts) != 2:
                    raise ValueError(text)
                coordinates.append((float(parts[0]), float(parts[1])))
            except ValueError:
                return 400, error("InvalidQuery", f"Query string malformed close to position {position}")
            position += len(text) + 1
        if any(not (-180 <= lon <= 180 and -90 <= lat <= 90) for lon, lat in coordinates):
            return 400, error("InvalidOptions", "Coordinates are invalid")
        options = dict(part.partition("=")[::2] for part in query.split("&") if part)
        try:
            sources = indices(options.get("sources", "all"), len(coordinates))
            destinations = indices(options.get("destinations", "all"), len(coordinates))
        except ValueError:
            return 400, error("InvalidOptions", "Source or destination indices are invalid")
        annotations = options.get("annotations", "duration").split(",")
        if not set(annotations) <= {"duration", "distance"}:
            return 400, error("InvalidQuery", "Query string malformed close to position 0")
        if len(sources) * len(destinations) > self.max_table_size**2:
            return 400, error("TooBig", "Too many table coordinates")
        durations, distances = [], []
        for i in sources:
            duration_row: list[float | None] = []
            distance_row: list[float | None] = []
            for j in destinations:
                a, b = coordinates[i], coordinates[j]
                if a == b:
                    duration_row.append(0.0)
                    distance_row.append(0.0)
                elif a in self.unreachable or b in self.unreachable:
                    duration_row.append(None)
                    distance_row.append(None)
                else:
                    seconds, metres = osrm_cell(a, b)
                    duration_row.append(seconds)
                    distance_row.append(metres)
            durations.append(duration_row)
            distances.append(distance_row)
        body: dict[str, Any] = {
            "code": "Ok",
            "sources": [waypoint(coordinates[i]) for i in sources],
            "destinations": [waypoint(coordinates[j]) for j in destinations],
        }
        if "duration" in annotations:
            body["durations"] = durations
        if "distance" in annotations:
            body["distances"] = distances
        return 200, body


def error(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def waypoint(point: tuple[float, float]) -> dict[str, Any]:
    return {"hint": "", "distance": 0.0, "name": "", "location": list(point)}


def indices(text: str, count: int) -> list[int]:
    if text == "all":
        return list(range(count))
    result = [int(part) for part in text.split(";")]
    if any(not 0 <= index < count for index in result):
        raise ValueError(text)
    return result


def serve(fake: FakeOsrm) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            with fake.lock:
                fake.requests.append(self.path)
            if fake.delay:
                time.sleep(fake.delay)
            if fake.fixed_answer is not None:
                status, content_type, payload = fake.fixed_answer
            else:
                status, body = fake.answer(self.path)
                content_type, payload = "application/json; charset=UTF-8", json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return server
