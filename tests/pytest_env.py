"""Loaded with `-p tests.pytest_env` before pytest-django starts Django,
so the settings module knows it runs under test."""

import os

os.environ.setdefault("KLANTREIS_TESTING", "1")

# Playwright's sync API runs an event loop in the test thread; the tests
# still talk to the database synchronously, which Django would refuse.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
