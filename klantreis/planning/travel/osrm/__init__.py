"""Travel times from a self-hosted OSRM road network server (Table service)."""

from klantreis.planning.travel.osrm.source import MAX_RESPONSE_BYTES, OsrmSource

__all__ = ["MAX_RESPONSE_BYTES", "OsrmSource"]
