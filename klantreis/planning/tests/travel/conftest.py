from collections.abc import Iterator

import pytest

from klantreis.planning.tests.travel.osrm_server import FakeOsrm, serve


@pytest.fixture
def osrm_server() -> Iterator[FakeOsrm]:
    """A fake OSRM server on 127.0.0.1 (a free port), answering as OSRM's Table service."""
    fake = FakeOsrm()
    server = serve(fake)
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
