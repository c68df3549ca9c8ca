"""Messaging channels, one folder each behind the interface in `base`."""
