"""Loaded with `-p tests.pytest_env` before pytest-django starts Django,
so the settings module knows it runs under test."""

import os

os.environ.setdefault("KLANTREIS_TESTING", "1")
