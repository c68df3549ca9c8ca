"""Travel times from a self-hosted OSRM server's Table service.

    GET {base_url}/table/v1/{profile}/{lon},{lat};{lon},{lat};...
        ?sources=0;1&destinations=2;3&annotations=duration,distance
    → {"code": "Ok", "durations": [[s, ...], ...], "distances": [[m, ...], ...], ...}

Coordinates go longitude first, as OSRM wants; the origins of a block come
first in the list, then its destinations, and `sources`/`destinations` name
their positions. `;` and `,` are sent literally: they are OSRM's own
separators, not something to percent-encode.

Size: osrm-routed refuses a table with more than `--max-table-size`² cells
(default 100, answering `TooBig`), so a large matrix is asked for in blocks of
at most `max_table_size` origins × `max_table_size` destinations, one request
each, and put together here. Set `max_table_size` to the server's flag.

Answers: durations are rounded up to whole seconds (as the estimate does),
distances to whole metres. `null` (no route between the pair) becomes
`UNREACHABLE` (see `travel.base`). Any other failure raises `TravelTimeError`:
an error code in the body (`InvalidQuery`, `NoSegment`, `NoTable`, `TooBig`,
...), another HTTP error, no answer within `timeout`, a refused connection, or
an answer that is not a table of the expected shape.

HTTP client: the standard library's `urllib`, not httpx. The Table service is
one GET returning JSON; what httpx adds (connection pooling, HTTP/2, async)
buys little against a server on the local network that gets a handful of
requests per matrix, and its timeouts are per socket operation just like
urllib's. So no new dependency (and its supply chain) for it. `timeout` is the
limit for connecting and for each read of one request; a matrix of k blocks
may take up to k × timeout. Proxy variables in the environment are ignored:
OSRM is self-hosted beside klantreis, and a test or production proxy must not
silently sit between them.
"""

from __future__ import annotations

import http.client
import json
import math
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from klantreis.planning.travel.base import (
    UNREACHABLE,
    Location,
    TravelMatrix,
    TravelTimeError,
    TravelTimeSource,
)

_PROFILE = re.compile(r"[A-Za-z0-9_-]{1,64}")
# A 100 × 100 block answers in about 200 kB; this leaves room for much larger blocks.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024


class OsrmSource(TravelTimeSource):
    def __init__(
        self,
        base_url: str,
        profile: str = "driving",
        *,
        timeout: float = 5.0,
        max_table_size: int = 100,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"The OSRM address must start with http:// or https://, not {base_url!r}.")
        if not _PROFILE.fullmatch(profile):
            raise ValueError(f"The OSRM profile must be letters, digits, _ or -, not {profile!r}.")
        if not (math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"The timeout must be above 0 seconds, not {timeout!r}.")
        if max_table_size < 1:
            raise ValueError(f"The table size must be at least 1, not {max_table_size!r}.")
        self.base_url = base_url.rstrip("/")
        self.profile = profile
        self.timeout = float(timeout)
        self.max_table_size = max_table_size
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __repr__(self) -> str:
        return f"OsrmSource(base_url={self.base_url!r}, profile={self.profile!r})"

    def matrix(self, origins: Sequence[Location], destinations: Sequence[Location]) -> TravelMatrix:
        rows, columns = len(origins), len(destinations)
        if not rows or not columns:
            return TravelMatrix.empty(rows, columns)
        durations = np.empty((rows, columns), dtype=np.int64)
        distances = np.empty((rows, columns), dtype=np.int64)
        size = self.max_table_size
        for top in range(0, rows, size):
            for left in range(0, columns, size):
                block_durations, block_distances = self._table(
                    origins[top : top + size], destinations[left : left + size]
                )
                durations[top : top + size, left : left + size] = block_durations
                distances[top : top + size, left : left + size] = block_distances
        return TravelMatrix(durations, distances)

    def table_url(self, origins: Sequence[Location], destinations: Sequence[Location]) -> str:
        """The Table service request for one block (at most `max_table_size` each way)."""
        coordinates = ";".join(f"{p.longitude:.6f},{p.latitude:.6f}" for p in (*origins, *destinations))
        sources = ";".join(str(i) for i in range(len(origins)))
        targets = ";".join(str(len(origins) + j) for j in range(len(destinations)))
        return (
            f"{self.base_url}/table/v1/{self.profile}/{coordinates}"
            f"?sources={sources}&destinations={targets}&annotations=duration,distance"
        )

    def _table(
        self, origins: Sequence[Location], destinations: Sequence[Location]
    ) -> tuple[list[list[int]], list[list[int]]]:
        body = self._get(self.table_url(origins, destinations))
        code = body.get("code")
        if code != "Ok":
            raise TravelTimeError(f"OSRM answered {code!r}: {body.get('message', '')}")
        shape = (len(origins), len(destinations))
        return (
            _cells(body.get("durations"), shape, "durations", math.ceil),
            _cells(body.get("distances"), shape, "distances", round),
        )

    def _get(self, url: str) -> dict[str, Any]:
        # The scheme is http(s), checked in __init__.
        request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                raw = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as error:
            # OSRM answers its errors with HTTP 400 and a JSON body naming the code.
            raw = error.read(MAX_RESPONSE_BYTES + 1)
            try:
                body = json.loads(raw)
                detail = f"{body['code']!r}: {body.get('message', '')}"
            except (ValueError, TypeError, KeyError):
                detail = raw[:200].decode("utf-8", "replace")
            raise TravelTimeError(f"OSRM answered HTTP {error.code} {detail}") from error
        except TimeoutError as error:
            raise TravelTimeError(
                f"OSRM at {self.base_url} did not answer within {self.timeout:g} s"
            ) from error
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise TravelTimeError(
                    f"OSRM at {self.base_url} did not answer within {self.timeout:g} s"
                ) from error
            raise TravelTimeError(f"OSRM at {self.base_url} cannot be reached: {error.reason}") from error
        except (OSError, http.client.HTTPException) as error:
            raise TravelTimeError(f"OSRM at {self.base_url} broke off the answer: {error!r}") from error
        if len(raw) > MAX_RESPONSE_BYTES:
            raise TravelTimeError(f"OSRM answered more than {MAX_RESPONSE_BYTES} bytes")
        try:
            body = json.loads(raw)
        except ValueError as error:
            raise TravelTimeError(f"OSRM answered something that is not JSON: {raw[:200]!r}") from error
        if not isinstance(body, dict):
            raise TravelTimeError(f"OSRM answered JSON that is not an object: {raw[:200]!r}")
        return body


def _cells(
    table: object, shape: tuple[int, int], name: str, to_int: Callable[[float], int]
) -> list[list[int]]:
    rows, columns = shape
    if not isinstance(table, list) or len(table) != rows:
        raise TravelTimeError(f"OSRM's {name} are not {rows} rows (annotations need OSRM 5.18 or later)")
    result: list[list[int]] = []
    for row in table:
        if not isinstance(row, list) or len(row) != columns:
            raise TravelTimeError(f"OSRM's {name} rows are not {columns} long")
        cells: list[int] = []
        for cell in row:
            if cell is None:
                cells.append(UNREACHABLE)
            elif isinstance(cell, int | float) and not isinstance(cell, bool) and 0 <= cell < UNREACHABLE:
                cells.append(int(to_int(cell)))
            else:
                raise TravelTimeError(f"OSRM's {name} hold {cell!r}, not a number of {name}")
        result.append(cells)
    return result
