"""Dispatch benchmark: how fast due touchpoints become messages at an SMTP server.

    .venv/bin/python bench/dispatch.py [--quick] [--json PATH] [--repeats R]

The system under test is the product as deployed: `manage.py run_journeys`
(claims due touchpoints in batches and enqueues one task per batch) plus
`manage.py db_worker` processes (django-tasks-db) carrying the batches out:
render the message, write its row, send it over one SMTP connection per
batch, record the outcome and the events. The SMTP server is Postfix's
`smtp-sink` (Debian package `postfix`), which accepts and discards mail
faster than we send it, so the harness is not the bottleneck.

Figures (each case in a fresh database):
- postgres_2_workers_per_s: N due "received" touchpoints (essential, e-mail)
  on PostgreSQL, 2 workers: N / (last message sent - moment they fell due).
- noop_baseline_per_s: the anchor, in the same run and database server: M
  no-op django-tasks-db tasks through 2 workers, M / (last finished - first
  started). Our dispatcher carries 100 touchpoints per task, so it can beat
  the no-op task rate; the ratio says by how much.
- sqlite_1_worker_per_s: the throughput case on SQLite (WAL) with 1 worker.
- p99_lateness_s: touchpoints falling due at 200/s for a while on
  PostgreSQL with 2 workers; per message, sent - due; the 99th percentile.
- million_rows_slowdown: the throughput case again with 1,000,000 future
  touchpoints waiting in the table: plain rate / rate with the million.
- cpu_ms_per_touchpoint (each case; the PostgreSQL case's median as
  postgres_cpu_ms_per_touchpoint): CPU milliseconds per touchpoint, from
  Linux's /proc, between the moment they fell due and the end: the workers,
  the journey loop, and the rest of the machine (the database, the sink,
  anything else running), which says what a faster figure has to come out of.

Medians of `--repeats` runs (default 3; 1 with --quick) are reported; the
machine's facts are written beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = sys.executable
PG_SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
PG_DATABASE = "klantreis_bench_dispatch"
COLUMNS = (
    "instance_id, touchpoint, armed_by, due_at, state, urgent, context, claim, attempts, outcome, created_at"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def smtp_sink() -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not Path(binary).exists():
        raise SystemExit("smtp-sink not found: install Debian's postfix package (make bench does)")
    port = free_port()
    # -u: user to run as when started as root; 1000: backlog.
    process = subprocess.Popen(
        [binary, "-u", "nobody", f"127.0.0.1:{port}", "1000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(50):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("smtp-sink did not start")


def environment(database_url: str, sqlite_path: str, smtp_port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    else:
        env["SQLITE_PATH"] = sqlite_path
    env.update(
        {
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_port),
            "DJANGO_SETTINGS_MODULE": "klantreis.config.settings",
            "SECRET_KEY": "bench-only-secret-key-" + "x" * 40,
            "KLANTREIS_TESTING": "1",
            "PYTHONPATH": f"{BENCH}{os.pathsep}{ROOT}",
        }
    )
    return env


def fresh_database(database_url: str, sqlite_path: str) -> None:
    if database_url:
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
            connection.execute(f"CREATE DATABASE {PG_DATABASE}")
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(sqlite_path + suffix).unlink(missing_ok=True)


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def start(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_busy_s() -> float:
    """CPU seconds all cores have spent not idle since boot (Linux /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS


def cpu_snapshot(loop: subprocess.Popen[bytes], workers: list[subprocess.Popen[bytes]]) -> dict[str, float]:
    return {
        "loop": process_cpu_s(loop.pid),
        "workers": sum(process_cpu_s(worker.pid) for worker in workers),
        "machine": machine_busy_s(),
    }


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def case(args: argparse.Namespace) -> dict[str, Any]:
    """One measurement in this process's database (called as a child process)."""
    import django

    django.setup()
    from django.db import connection, transaction

    from klantreis.accounts.models import User
    from klantreis.customers.models import Customer
    from klantreis.journeys.models import JourneyDefinition, JourneyInstance, ScheduledTouchpoint
    from klantreis.journeys.services import definitions_install_defaults
    from klantreis.messaging.models import Message

    env = json.loads(args.env)
    far = datetime(2100, 1, 1, tzinfo=UTC)
    if args.case == "noop":
        from bench_tasks import noop  # type: ignore[import-not-found]
        from django_tasks_db.models import DBTaskResult

        with transaction.atomic():
            for _ in range(args.count):
                noop.enqueue()
        workers = [
            start(env, "db_worker", "--interval", "0.05", "--no-startup-delay") for _ in range(args.workers)
        ]
        try:
            while DBTaskResult.objects.exclude(status="SUCCESSFUL").exists():
                time.sleep(0.2)
        finally:
            stop(workers)
        span = DBTaskResult.objects.order_by("-finished_at").first().finished_at - (
            DBTaskResult.objects.order_by("started_at").first().started_at
        )
        return {"per_s": args.count / span.total_seconds()}

    definitions_install_defaults()
    definition = JourneyDefinition.objects.get(key="repair", active=True)
    customers = []
    for index in range(200):
        user = User.objects.create(username=f"bench{index}", role=User.Role.CUSTOMER, language="nl")
        customers.append(
            Customer.objects.create(user=user, name=f"Huurder {index}", email=f"huurder{index}@example.nl")
        )
    now = datetime.now(UTC)
    instances = JourneyInstance.objects.bulk_create(
        [
            JourneyInstance(
                definition=definition,
                key="repair",
                case_id=f"B{index:07d}",
                customer=customers[index % len(customers)],
                attributes={"request": f"B{index:07d}", "urgency": "emergency"},
                started_at=now,
            )
            for index in range(args.count)
        ],
        batch_size=5000,
    )
    # Emergencies: quiet hours never hold these back, whatever the hour of the run.
    ScheduledTouchpoint.objects.bulk_create(
        [
            ScheduledTouchpoint(
                instance=instance,
                touchpoint="received",
                armed_by=index + 1,
                due_at=far,
                urgent=True,
                context={"request": instance.case_id},
                created_at=now,
            )
            for index, instance in enumerate(instances)
        ],
        batch_size=5000,
    )
    if args.background:
        holder = instances[0]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"INSERT INTO journeys_scheduledtouchpoint ({COLUMNS}) SELECT %s, 'reminder', g,"
                    " now() + interval '30 days' + g * interval '1 second', 'scheduled', false, '{}'::jsonb,"
                    " '', 0, '', now() FROM generate_series(1, %s) g",
                    [holder.pk, args.background],
                )
                cursor.execute("ANALYZE journeys_scheduledtouchpoint")
            else:
                cursor.execute(
                    "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < %s)"
                    f" INSERT INTO journeys_scheduledtouchpoint ({COLUMNS}) SELECT %s, 'reminder', n,"
                    " datetime('now', '+30 days', '+' || n || ' seconds'), 'scheduled', 0, '{}', '', 0, '',"
                    " datetime('now') FROM g",
                    [args.background, holder.pk],
                )
                cursor.execute("ANALYZE")
    processes = [start(env, "run_journeys", "--idle-sleep", "0.05")]
    processes += [
        start(env, "db_worker", "--interval", "0.05", "--no-startup-delay") for _ in range(args.workers)
    ]
    time.sleep(4)  # let the processes start before anything falls due
    try:
        cpu_before = cpu_snapshot(processes[0], processes[1:])
        released = datetime.now(UTC)
        rows = ScheduledTouchpoint.objects.filter(touchpoint="received")
        if args.rate:
            # Due times spread at `rate` per second from now on.
            step = 1 / args.rate
            ids = list(rows.order_by("pk").values_list("pk", flat=True))
            chunk = 2000
            for start_index in range(0, len(ids), chunk):
                part = ids[start_index : start_index + chunk]
                ScheduledTouchpoint.objects.bulk_update(
                    [
                        ScheduledTouchpoint(
                            pk=pk, due_at=released + timedelta(seconds=(start_index + i) * step)
                        )
                        for i, pk in enumerate(part)
                    ],
                    fields=["due_at"],
                )
        else:
            rows.update(due_at=released)
        deadline = time.monotonic() + 600
        while rows.exclude(state=ScheduledTouchpoint.State.DONE).exists():
            if time.monotonic() > deadline:
                raise SystemExit("the dispatcher did not finish within 10 minutes")
            time.sleep(0.2)
        while Message.objects.exclude(status=Message.Status.DELIVERED).exists():
            time.sleep(0.2)
        cpu_after = cpu_snapshot(processes[0], processes[1:])
    finally:
        stop(processes)
    # Where the CPU went, per touchpoint: the workers, the journey loop, and all
    # the rest of the machine (PostgreSQL, the SMTP sink, this harness polling,
    # and whatever else runs on a shared machine).
    cpu = {key: 1000 * (cpu_after[key] - cpu_before[key]) / args.count for key in cpu_before}
    cpu_ms = {
        "workers": round(cpu["workers"], 3),
        "loop": round(cpu["loop"], 3),
        "rest_of_machine": round(cpu["machine"] - cpu["workers"] - cpu["loop"], 3),
        "machine": round(cpu["machine"], 3),
    }
    messages = Message.objects.filter(source="journey:repair:received")
    sent = messages.count()
    if sent != args.count:
        raise SystemExit(f"expected {args.count} messages, found {sent}")
    if args.rate:
        due = dict(rows.values_list("pk", "due_at"))
        lateness = sorted(
            (message.sent_at - due[int(message.idempotency_key.split("-")[1])]).total_seconds()
            for message in messages.only("idempotency_key", "sent_at")
        )
        return {
            "p99_lateness_s": lateness[int(0.99 * (len(lateness) - 1))],
            "p50_lateness_s": statistics.median(lateness),
            "max_lateness_s": lateness[-1],
            "cpu_ms_per_touchpoint": cpu_ms,
        }
    last = messages.order_by("-sent_at").first().sent_at
    return {"per_s": args.count / (last - released).total_seconds(), "cpu_ms_per_touchpoint": cpu_ms}


def run_case(name: str, *, database_url: str, smtp_port: int, **options: Any) -> dict[str, Any]:
    sqlite_path = str(Path(tempfile.gettempdir()) / "klantreis-bench-dispatch.sqlite3")
    env = environment(database_url, sqlite_path, smtp_port)
    fresh_database(database_url, sqlite_path)
    manage(env, "migrate", "-v0")
    command = [PYTHON, str(Path(__file__)), "--case", name, "--env", json.dumps(env)]
    for key, value in options.items():
        command += [f"--{key}", str(value)]
    output = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smaller run that finishes in about a minute")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--env", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--background", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(case(args)))
        return

    quick = args.quick
    repeats = args.repeats or (1 if quick else 3)
    count = 2_000 if quick else 20_000
    noop_count = 1_000 if quick else 5_000
    lateness_count = 2_000 if quick else 12_000  # 10 s resp. 60 s at 200/s
    background = 100_000 if quick else 1_000_000
    pg = f"{PG_SERVER}/{PG_DATABASE}"
    sink, port = smtp_sink()
    runs: dict[str, list[dict[str, Any]]] = {}
    try:
        for repeat in range(repeats):
            print(f"round {repeat + 1}/{repeats}", file=sys.stderr)
            for label, name, url, options in [
                ("noop", "noop", pg, {"count": noop_count, "workers": 2}),
                ("postgres", "throughput", pg, {"count": count, "workers": 2}),
                ("sqlite", "throughput", "", {"count": count, "workers": 1}),
                ("lateness", "throughput", pg, {"count": lateness_count, "workers": 2, "rate": 200}),
                ("million", "throughput", pg, {"count": count, "workers": 2, "background": background}),
            ]:
                result = run_case(name, database_url=url, smtp_port=port, **options)
                runs.setdefault(label, []).append(result)
                print(f"  {label}: {result}", file=sys.stderr)
    finally:
        sink.terminate()

    def median(label: str, key: str) -> float:
        return round(statistics.median(run[key] for run in runs[label]), 3)

    postgres = median("postgres", "per_s")
    figures = {
        "postgres_2_workers_per_s": postgres,
        "noop_baseline_per_s": median("noop", "per_s"),
        "sqlite_1_worker_per_s": median("sqlite", "per_s"),
        "p99_lateness_s": median("lateness", "p99_lateness_s"),
        "million_rows_slowdown": round(postgres / median("million", "per_s"), 3),
        "ratio_to_noop": round(postgres / median("noop", "per_s"), 2),
        "postgres_cpu_ms_per_touchpoint": {
            key: round(statistics.median(run["cpu_ms_per_touchpoint"][key] for run in runs["postgres"]), 3)
            for key in runs["postgres"][0]["cpu_ms_per_touchpoint"]
        },
        "touchpoints": count,
        "background_rows": background,
        "repeats": repeats,
        "quick": quick,
        "runs": runs,
        "machine": machine(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
