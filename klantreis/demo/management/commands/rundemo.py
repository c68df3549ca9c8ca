"""`make demo`: prepare the database, then run the web server, the task
worker and the journey loop side by side until Ctrl-C (or SIGTERM), and
stop them all cleanly."""

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections
from django.urls import reverse

from klantreis.core.models import Organisation
from klantreis.demo import people
from klantreis.demo.selectors import demo_tenant_examples
from klantreis.journeys.services import definitions_install_defaults

STOP_TIMEOUT = 15.0
READY_TIMEOUT = 180.0


def default_port() -> int:
    value = os.environ.get("PORT", "")
    return int(value) if value.isdigit() else 8000


class Command(BaseCommand):
    help = (
        "Run the demo: migrate, collect static files, seed the demo organisation when the "
        "database has none, then serve the web app (gunicorn) and run the task worker and the "
        "journey loop until Ctrl-C. PORT sets the default port."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=default_port(), help="Port (default $PORT or 8000).")
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1).")
        parser.add_argument("--web-workers", type=int, default=2, help="Gunicorn worker processes.")
        parser.add_argument("--seed", type=int, default=2026, help="Seed for seed_demo.")
        parser.add_argument("--homes", type=int, default=2400, help="Homes for seed_demo.")
        parser.add_argument("--history-days", type=int, default=365, help="History for seed_demo.")

    def handle(self, *args: Any, **options: Any) -> None:
        host: str = options["host"]
        port: int = options["port"]
        if not 0 < port < 65536:
            raise CommandError(f"--port must be between 1 and 65535, got {port}")
        self.stdout.write("Preparing the database…")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        if not Organisation.objects.exists():
            self.stdout.write(
                "Seeding the demo organisation: a year of history through the journey engine "
                "(once; a few minutes)…"
            )
            call_command(
                "seed_demo",
                seed=options["seed"],
                homes=options["homes"],
                history_days=options["history_days"],
                stdout=self.stdout,
            )
        # A demo database seeded before journeys existed gets them too (a
        # no-op once installed); they follow events from now on.
        for definition in definitions_install_defaults():
            self.stdout.write(f"Installed the journey {definition}")
        # The children open their own connections; SQLite must not see a
        # half-finished one from here.
        connections.close_all()

        shown_host = "localhost" if host in {"0.0.0.0", "::", ""} else host  # noqa: S104
        bind_host = f"[{host}]" if ":" in host else host
        url = f"http://{f'[{shown_host}]' if ':' in shown_host else shown_host}:{port}"
        environment = {
            **os.environ,
            "KLANTREIS_DEMO": "1",
            # Sign-in links in the outbox must point at this server.
            "SITE_URL": os.environ.get("SITE_URL") or url,
        }
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        children: dict[str, subprocess.Popen[bytes]] = {}
        failure: str | None = None
        try:
            children["web server"] = self._start(
                [
                    sys.executable, "-m", "gunicorn", "klantreis.config.wsgi:application",
                    "--bind", f"{bind_host}:{port}",
                    "--workers", str(options["web_workers"]),
                    "--threads", "4",
                    "--graceful-timeout", "5",
                    "--log-level", "warning",
                ],
                environment,
            )  # fmt: skip
            children["task worker"] = self._start(
                [sys.executable, str(settings.BASE_DIR / "manage.py"), "db_worker"], environment
            )
            # Follows the event log and hands due touchpoints to the worker.
            children["journey loop"] = self._start(
                [sys.executable, str(settings.BASE_DIR / "manage.py"), "run_journeys"], environment
            )
            # Folds the new events into the KPIs' case summaries every few seconds.
            children["insights refresher"] = self._start(
                [
                    sys.executable,
                    str(settings.BASE_DIR / "manage.py"),
                    "refresh_insights",
                    "--interval",
                    "5",
                    "--batch",
                    "2000",
                ],
                environment,
            )
            for name, child in children.items():
                self.stdout.write(f"Started the {name} (pid {child.pid})")
            failure = self._wait_until_ready(url, children, stop)
            if failure is None and not stop.is_set():
                self._print_welcome(url)
            while failure is None and not stop.is_set():
                failure = self._dead_child(children)
                stop.wait(0.5)
        finally:
            self._stop(children)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if failure is not None:
            raise CommandError(failure, returncode=1)
        self.stdout.write("Demo stopped.")

    def _start(self, command: list[str], environment: dict[str, str]) -> "subprocess.Popen[bytes]":
        # Their own process group: Ctrl-C reaches only this command, which
        # then stops the children in order instead of all dying at once.
        return subprocess.Popen(command, env=environment, cwd=settings.BASE_DIR, process_group=0)  # noqa: S603

    def _dead_child(self, children: dict[str, "subprocess.Popen[bytes]"]) -> str | None:
        for name, child in children.items():
            code = child.poll()
            if code is not None:
                return f"The {name} stopped unexpectedly (exit code {code}); stopped the demo."
        return None

    def _wait_until_ready(
        self, url: str, children: dict[str, "subprocess.Popen[bytes]"], stop: threading.Event
    ) -> str | None:
        deadline = time.monotonic() + READY_TIMEOUT
        probe = url.replace("localhost", "127.0.0.1") + "/health/"
        while not stop.is_set():
            failure = self._dead_child(children)
            if failure is not None:
                return failure
            try:
                with urllib.request.urlopen(probe, timeout=2) as response:  # noqa: S310 - our own server
                    if response.status == 200:
                        return None
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                return f"The web server did not answer on {probe} within {READY_TIMEOUT:.0f} s."
            stop.wait(0.3)
        return None

    def _stop(self, children: dict[str, "subprocess.Popen[bytes]"]) -> None:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for name, child in children.items():
            try:
                child.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"The {name} did not stop in time; killing it.")
                child.kill()
                child.wait()

    def _print_welcome(self, url: str) -> None:
        organisation = Organisation.objects.order_by("pk").first()
        name = organisation.name if organisation else people.ORGANISATION_NAME
        portal = url + reverse("portal:sign_in")
        staff_sign_in = url + reverse("accounts:staff_sign_in")
        outbox = f"{url}/demo/outbox/"
        rows: list[tuple[str, str, str]] = []
        for tenant in demo_tenant_examples():
            kind = "customer" + (" (English)" if tenant.language == "en" else "")
            kind += " (assisted)" if tenant.assisted else ""
            rows.append((kind, tenant.email, "one-time link"))
        rows += [
            ("agent", "agent", 'password "demo"'),
            ("planner", "planner", 'password "demo"'),
            ("designer", "designer", 'password "demo"'),
            ("manager", "manager", 'password "demo"'),
            ("admin", "admin", 'password "demo"'),
            ("subcontractor", "sub-loodgieter, sub-elektra", 'password "demo"'),
            ("technician", ", ".join(t.username for t in people.TECHNICIANS[:3]) + ", …", 'password "demo"'),
        ]
        width = [max(len(row[i]) for row in rows) for i in range(3)]
        lines = [
            "",
            f"{name} is running at {url}/",
            "",
            "Demo logins:",
            f"  {'role'.ljust(width[0])}  {'sign in as'.ljust(width[1])}  with",
            *(f"  {role.ljust(width[0])}  {who.ljust(width[1])}  {how}" for role, who, how in rows),
            "",
            f"Customers: ask for a sign-in link at {portal} with one of the e-mail",
            f"addresses above; the link appears in the demo outbox at {outbox}",
            f"Staff: sign in at {staff_sign_in} with the username and password demo.",
            f"Demo clock (staff): {url}/demo/clock/",
            f"Staff tasks (agent, planner): {url}{reverse('workspace:tasks')}",
            f"Journey editor (designer, admin): {url}{reverse('workspace:journeys')}",
            f"Insights (manager, designer, admin): {url}{reverse('insights:dashboard')}",
            "",
            "Press Ctrl-C to stop.",
        ]
        self.stdout.write("\n".join(lines))
