"""Fixtures shared by every app's tests."""

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings as django_settings
from django.core.management import call_command
from django.utils import translation

from klantreis.core.clock import FixedClock, use_clock

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Each test starts in the default language: a request made by an
    earlier test (the user's language, activated by the middleware) must not
    leak into the next one's messages."""
    translation.activate(django_settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture
def fixed_clock() -> Iterator[FixedClock]:
    """A Tuesday morning in Amsterdam, standing still until a test moves it."""
    with use_clock(FixedClock(datetime(2026, 3, 10, 9, 30, tzinfo=AMSTERDAM))) as fixed:
        yield fixed


@pytest.fixture
def vera(db: None) -> None:
    call_command("load_vera", stdout=open("/dev/null", "w"))  # noqa: SIM115


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class SmtpSink:
    """A real SMTP server on localhost that keeps what it receives."""

    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(message)
        return "250 OK"


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[SmtpSink]:
    sink = SmtpSink(host="127.0.0.1", port=free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": sink.host, "port": sink.port, "timeout": 5},
        }
    }
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def run_tasks(transactional_db: None) -> Any:
    """Run every queued task with the real django-tasks-db worker, then return.

    The worker commits and closes connections as it would in its own
    process, so tests that use it run with real commits (transactional_db).
    """

    def run() -> None:
        call_command("db_worker", batch=True, interval=0, startup_delay=False, stdout=open("/dev/null", "w"))  # noqa: SIM115

    return run


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium, with the background traffic a closed network refuses switched off."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "locale": "nl-NL", "timezone_id": "Europe/Amsterdam"}
