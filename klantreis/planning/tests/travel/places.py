"""Places with known positions (WGS84), shared by the travel tests."""

from klantreis.planning.travel import Location

UTRECHT_CENTRAAL = Location(52.0894, 5.1100)
AMSTERDAM_CENTRAAL = Location(52.3791, 4.9003)
ROTTERDAM_CENTRAAL = Location(51.9244, 4.4690)
DOMTOREN = Location(52.0907, 5.1214)
NIEUWEGEIN = Location(52.0292, 5.0833)
ZEIST = Location(52.0893, 5.2331)
