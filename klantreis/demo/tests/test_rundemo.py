"""rundemo as `make demo` runs it: a real process with a web server, a task
worker and the journey loop as children, on a free port and a small SQLite
database of its own."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

# A deadline to wait for, not a speed check: migrating, seeding and booting
# four processes can take minutes on a shared, busy machine.
STARTUP_TIMEOUT = 240.0


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that exited but was not reaped yet is gone for our purposes.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


def gone(pids, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(alive(pid) for pid in pids):
            return True
        time.sleep(0.1)
    return False


def get(url):
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own test server
        return response.status


class Demo:
    def __init__(self, tmp_path):
        self.port = free_port()
        self.output = tmp_path / "rundemo.log"
        environment = {
            key: value
            for key, value in os.environ.items()
            # Its own SQLite database and settings as `make demo` has them,
            # even when the suite itself runs on PostgreSQL or under test settings.
            if key not in {"DATABASE_URL", "KLANTREIS_TESTING", "PORT", "SITE_URL", "SQLITE_PATH"}
        }
        environment |= {"KLANTREIS_DEMO": "1", "KLANTREIS_DATA_DIR": str(tmp_path)}
        self.process = subprocess.Popen(  # noqa: S603
            [
                sys.executable, str(settings.BASE_DIR / "manage.py"), "rundemo",
                "--port", str(self.port), "--homes", "30", "--history-days", "2",
            ],
            cwd=settings.BASE_DIR,
            env=environment,
            stdout=self.output.open("w"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.children = {}

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def log(self):
        return self.output.read_text() if self.output.exists() else ""

    def wait_until_ready(self):
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            log = self.log()
            if "Press Ctrl-C to stop." in log:
                self.children = {
                    name: int(pid)
                    for name, pid in re.findall(
                        r"Started the (web server|task worker|journey loop|insights refresher) \(pid (\d+)\)",
                        log,
                    )
                }
                return
            if self.process.poll() is not None:
                pytest.fail(f"rundemo exited with {self.process.returncode}:\n{log}")
            time.sleep(0.2)
        pytest.fail(f"rundemo was not ready within {STARTUP_TIMEOUT:.0f} s:\n{self.log()}")

    def cleanup(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for pid in self.children.values():
            if alive(pid):
                os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def demo(tmp_path):
    running = Demo(tmp_path)
    yield running
    running.cleanup()


def test_rundemo_serves_the_demo_and_stops_every_child_on_ctrl_c(demo):
    # Given a running demo
    demo.wait_until_ready()
    assert set(demo.children) == {"web server", "task worker", "journey loop", "insights refresher"}
    assert get(demo.url + "/health/") == 200
    assert get(demo.url + "/demo/outbox/") == 200
    log = demo.log()
    assert f"running at {demo.url}/" in log
    assert re.search(r'^ +agent +agent +password "demo"$', log, re.MULTILINE)
    assert re.search(r"^ +customer +\S+@example\.nl +one-time link$", log, re.MULTILINE)
    assert "/demo/outbox/" in log
    assert f"Journey editor (designer, admin): {demo.url}/desk/journeys/" in log
    assert re.search(r'^ +manager +manager +password "demo"$', log, re.MULTILINE)
    assert f"Insights (manager, designer, admin): {demo.url}/insights/" in log

    # When Ctrl-C reaches it
    demo.process.send_signal(signal.SIGINT)

    # Then it stops every child and ends cleanly
    assert demo.process.wait(timeout=30) == 0
    assert gone(demo.children.values())
    assert "Demo stopped." in demo.log()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", demo.port), timeout=2).close()


def test_rundemo_stops_the_web_server_and_fails_when_the_worker_dies(demo):
    demo.wait_until_ready()

    os.kill(demo.children["task worker"], signal.SIGKILL)

    assert demo.process.wait(timeout=30) == 1
    assert gone([demo.children["web server"]])
    assert "The task worker stopped unexpectedly" in demo.log()


def test_rundemo_stops_the_others_and_fails_when_the_journey_loop_dies(demo):
    demo.wait_until_ready()

    os.kill(demo.children["journey loop"], signal.SIGKILL)

    assert demo.process.wait(timeout=30) == 1
    assert gone([demo.children["web server"], demo.children["task worker"]])
    assert "The journey loop stopped unexpectedly" in demo.log()
