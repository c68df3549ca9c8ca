"""Insights benchmark (issue 6): the KPI dashboard and conformance on a year's log.

    .venv/bin/python bench/insights.py [--quick] [--json PATH] [--repeats R] [--cases N]

The log (`bench/insights_log.py`): a handful of repair requests go through the
real services under a fixed clock (report, book, reschedule by the tenant or
by staff, on my way, not home, not fixed then the follow-up, fixed, cancelled,
the journey loop sending every touchpoint, the survey answered, a low score's
callback task); their events are then copied to 100,000 cases spread over a
year (`--quick`: 10,000) with technicians, firms, homes and defect types drawn
from pools and a few random perturbations, seeded.

Per database (PostgreSQL at BENCH_POSTGRES, SQLite in a temporary file) the log
is generated once into a template database; every repeat then measures in a
child process on its own fresh copy of it (`CREATE DATABASE ... TEMPLATE`, or a
copy of the SQLite file):

- refresh_s: `insights_refresh()` folding the whole log into the case summaries.
- dashboard_ms: the KPI dashboard as a manager gets it (Django test client GET
  of /insights/ with the period set to the log's whole year), warm: the median
  of 5 requests after one untimed request. If the view cannot be served, the
  KPI calls it makes (kpi_values, kpi_breakdown by month, messages_by_channel)
  are timed instead and `dashboard_measured` says "kpis only".
- conformance_s: `mining.conformance(definition=<the active repair journey>)`
  over all cases.
- anchor_ms, the anchor in the same run and database: `SELECT activity,
  count(*) FROM events_event GROUP BY activity`, warm, median of 5: how long
  the database takes to read the log once. The figures are quoted as ratios to it.

Medians of `--repeats` runs (default 3; 1 with --quick) are reported; the
machine's facts are written beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = sys.executable
PG_SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
PG_LOG = "klantreis_bench_insights_log"
PG_MEASURE = "klantreis_bench_insights"
SQLITE_LOG = str(Path(tempfile.gettempdir()) / "klantreis-bench-insights-log.sqlite3")
SQLITE_MEASURE = str(Path(tempfile.gettempdir()) / "klantreis-bench-insights.sqlite3")
SEED = 6
TIMED = 5  # warm requests / anchor queries per measurement
ANCHOR_SQL = "SELECT activity, count(*) FROM events_event GROUP BY activity"


def environment(database: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env.pop("SQLITE_PATH", None)
    if database.startswith("postgres"):
        env["DATABASE_URL"] = database
    else:
        env["SQLITE_PATH"] = database
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "klantreis.config.settings",
            "SECRET_KEY": "bench-only-secret-key-" + "x" * 40,
            "KLANTREIS_TESTING": "1",
            "PYTHONPATH": f"{BENCH}{os.pathsep}{ROOT}",
        }
    )
    return env


def _pg_admin(*statements: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)


def _sqlite_remove(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)


def child(case: str, env: dict[str, str], **options: Any) -> dict[str, Any]:
    command = [PYTHON, str(Path(__file__)), "--case", case]
    for key, value in options.items():
        command += [f"--{key}", str(value)]
    output = subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


# Child processes ------------------------------------------------------------------


def case_generate(args: argparse.Namespace) -> dict[str, Any]:
    import django

    django.setup()
    from django.db import connection
    from insights_log import log_replicate, templates_run, world_pools

    from klantreis.events.models import Event

    started = time.perf_counter()
    days = tuple(int(day) for day in args.start_days.split(","))
    templates, world = templates_run(start_days=days)
    templates_s = time.perf_counter() - started
    pools = world_pools(cases=args.cases, world=world)
    started = time.perf_counter()
    mix = log_replicate(templates=templates, cases=args.cases, seed=args.seed, pools=pools)
    replicate_s = time.perf_counter() - started
    with connection.cursor() as cursor:
        # As autovacuum would have done on a log that grew over a year.
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    return {
        "events": Event.objects.count(),
        "cases": Event.objects.values("case_id").distinct().count(),
        "template_cases": len(templates),
        "template_events": {
            t.variant: len(t.events) for t in templates[: len({t.variant for t in templates})]
        },
        "variants": dict(sorted(mix.variants.items())),
        "perturbations": dict(sorted(mix.perturbations.items())),
        "templates_s": round(templates_s, 1),
        "replicate_s": round(replicate_s, 1),
    }


def _timed(function: Any, repeats: int) -> list[float]:
    function()  # untimed: warm
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def case_measure(args: argparse.Namespace) -> dict[str, Any]:
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from klantreis.accounts.models import User
    from klantreis.insights import kpis, mining
    from klantreis.insights.filters import InsightFilters
    from klantreis.insights.services import insights_refresh
    from klantreis.journeys.models import JourneyDefinition

    result: dict[str, Any] = {}

    def anchor() -> None:
        with connection.cursor() as cursor:
            cursor.execute(ANCHOR_SQL)
            cursor.fetchall()

    # The anchor first, before the summaries exist: the log read once.
    result["anchor_ms"] = statistics.median(_timed(anchor, TIMED)) * 1000

    started = time.perf_counter()
    result["refreshed_events"] = insights_refresh()
    result["refresh_s"] = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # untimed, as autovacuum would after the first fold

    year_start = date.fromisoformat(args.year_start)
    filters = InsightFilters(start=year_start, end=year_start + timedelta(weeks=53))
    setup_test_environment()  # the test client's host, and mail kept in memory
    manager = User.objects.get(username="bench-manager")
    client = Client()
    client.force_login(manager)

    def page() -> None:
        response = client.get("/insights/", filters.as_params())
        if response.status_code != 200:
            raise RuntimeError(f"/insights/ answered {response.status_code}")

    def kpis_only() -> None:
        kpis.kpi_values(filters=filters)
        kpis.kpi_breakdown(filters=filters, by="month")
        kpis.messages_by_channel(filters=filters)

    try:
        times = _timed(page, TIMED)
        result["dashboard_measured"] = "page"
    except Exception as error:  # noqa: BLE001 - the view may not be there yet
        result["dashboard_error"] = repr(error)[:300]
        times = _timed(kpis_only, TIMED)
        result["dashboard_measured"] = "kpis only"
    result["dashboard_ms"] = statistics.median(times) * 1000
    result["dashboard_ms_each"] = [round(t * 1000, 1) for t in times]
    result["summaries_in_period"] = filters.cases().count()

    definition = JourneyDefinition.objects.get(key="repair", active=True)
    started = time.perf_counter()
    try:
        conformance = mining.conformance(definition=definition)
    except Exception as error:  # noqa: BLE001 - report the other figures, and why this one is missing
        traceback.print_exc()
        result["conformance_error"] = repr(error)[:300]
        result["conformance_s"] = None
        return result
    result["conformance_s"] = time.perf_counter() - started
    result["conformance_cases"] = conformance.cases
    result["conformance_fitting"] = conformance.fitting
    result["deviations"] = [
        {"kind": d.kind, "touchpoint": d.touchpoint, "cases": d.cases, "share": round(d.share, 4)}
        for d in conformance.deviations
    ]
    return result


# The parent ---------------------------------------------------------------------


def database_version(url: str) -> str:
    if url.startswith("postgres"):
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres") as connection:
            row = connection.execute("SHOW server_version").fetchone()
            return f"PostgreSQL {row[0] if row else '?'}"
    import sqlite3

    return f"SQLite {sqlite3.sqlite_version}"


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def run_database(label: str, *, cases: int, repeats: int, start_days: str) -> dict[str, Any]:
    from insights_log import YEAR_START

    postgres = label == "postgresql"
    if postgres:
        _pg_admin(f"DROP DATABASE IF EXISTS {PG_LOG} WITH (FORCE)", f"CREATE DATABASE {PG_LOG}")
        log_env = environment(f"{PG_SERVER}/{PG_LOG}")
        measure_env = environment(f"{PG_SERVER}/{PG_MEASURE}")
    else:
        _sqlite_remove(SQLITE_LOG)
        log_env = environment(SQLITE_LOG)
        measure_env = environment(SQLITE_MEASURE)
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=log_env, check=True)
    print(f"{label}: generating {cases:,} cases", file=sys.stderr)
    log = child("generate", log_env, cases=cases, seed=SEED, **{"start-days": start_days})
    print(f"  {log}", file=sys.stderr)
    runs = []
    for repeat in range(repeats):
        if postgres:
            _pg_admin(
                f"DROP DATABASE IF EXISTS {PG_MEASURE} WITH (FORCE)",
                f"CREATE DATABASE {PG_MEASURE} TEMPLATE {PG_LOG}",
            )
        else:
            _sqlite_remove(SQLITE_MEASURE)
            shutil.copyfile(SQLITE_LOG, SQLITE_MEASURE)
        result = child("measure", measure_env, **{"year-start": YEAR_START.isoformat()})
        print(
            f"  {label} {repeat + 1}/{repeats}: "
            + json.dumps({k: v for k, v in result.items() if k != "deviations"}),
            file=sys.stderr,
        )
        runs.append(result)
    if postgres:
        _pg_admin(
            f"DROP DATABASE IF EXISTS {PG_MEASURE} WITH (FORCE)",
            f"DROP DATABASE IF EXISTS {PG_LOG} WITH (FORCE)",
        )
    else:
        _sqlite_remove(SQLITE_MEASURE)
        _sqlite_remove(SQLITE_LOG)

    def median(key: str, digits: int) -> float | None:
        values = [run[key] for run in runs if run.get(key) is not None]
        return round(statistics.median(values), digits) if values else None

    def ratio(value: float | None, anchor: float | None, digits: int) -> float | None:
        return round(value / anchor, digits) if value is not None and anchor else None

    figures = {
        "events": log["events"],
        "cases": log["cases"],
        "dashboard_ms": median("dashboard_ms", 1),
        "conformance_s": median("conformance_s", 2),
        "database": database_version(PG_SERVER if postgres else "sqlite"),
        "refresh_s": median("refresh_s", 2),
        "anchor_ms": median("anchor_ms", 1),
        "dashboard_measured": runs[0]["dashboard_measured"],
    }
    anchor = figures["anchor_ms"]
    figures["dashboard_to_anchor"] = ratio(figures["dashboard_ms"], anchor, 2)
    figures["conformance_to_anchor"] = ratio(
        figures["conformance_s"] and figures["conformance_s"] * 1000, anchor, 1
    )
    figures["refresh_to_anchor"] = ratio(figures["refresh_s"] and figures["refresh_s"] * 1000, anchor, 1)
    errors = sorted(
        {run[key] for run in runs for key in ("conformance_error", "dashboard_error") if key in run}
    )
    if errors:
        figures["errors"] = errors
    figures["log"] = log
    figures["runs"] = runs
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="10,000 cases, one repeat: about ten minutes")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--cases", type=int, default=None, help="cases in the generated log")
    parser.add_argument("--databases", default="postgresql,sqlite", help="postgresql, sqlite or both")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=SEED, help=argparse.SUPPRESS)
    parser.add_argument("--start-days", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--year-start", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case == "generate":
        print(json.dumps(case_generate(args)))
        return
    if args.case == "measure":
        print(json.dumps(case_measure(args)))
        return

    quick = args.quick
    repeats = args.repeats or (1 if quick else 3)
    cases = args.cases or (10_000 if quick else 100_000)
    start_days = args.start_days or ("0" if quick else "0,1,3")
    facts = machine()
    results = {
        label: run_database(label, cases=cases, repeats=repeats, start_days=start_days)
        for label in args.databases.split(",")
    }
    facts["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    import django

    def summary(label: str) -> dict[str, Any]:
        return {k: v for k, v in results.get(label, {}).items() if k not in ("log", "runs")}

    # The keys are PostgreSQL's; SQLite's figures sit beside them.
    primary = "postgresql" if "postgresql" in results else "sqlite"
    figures = {
        **summary(primary),
        "sqlite": summary("sqlite"),
        "log": {label: result["log"] for label, result in results.items()},
        "runs": {label: result["runs"] for label, result in results.items()},
        "repeats": repeats,
        "quick": quick,
        "seed": SEED,
        "machine": facts | {"django": django.get_version()},
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
