"""Slot-offering benchmark: latency of `klantreis.planning.slots.offer_slots` on generated
service weeks, and how its best offer compares with the exact best insertion.

    .venv/bin/python bench/slots.py [--quick] [--seed N] [--repeats R] [--fill F] [--json PATH]

Two cases: 20 technicians with 1,200 booked jobs and 100 technicians with 6,000,
over 10 working days (two weeks of Monday-Friday from 2 March 2026), shifts
07:30-16:00 Amsterdam time, 2-hour blocks 08:00-16:00. Technicians live at random
points of a disc 25 km across centred on Utrecht and start and end their day there;
each holds 2 or 3 of 6 specialisms. The booked jobs (random location and
specialism, 30-90 minutes) are placed by the engine itself, one at a time in random
order: a query over the whole horizon, then the customer takes the best offer half
of the time and a random offered block otherwise, and `book` inserts it. So every
route is feasible and shaped the way bookings shape it. Then 1,000 queries (random
location and specialism, 30-120 minutes, all 10 days) are timed against that state;
nothing is booked during the timed queries. Every case is deterministic per seed.

Travel times: straight-line (haversine) km x 1.35 / 30 km/h, rounded to whole
seconds (rounded up), computed here in numpy. It is the same formula as the
product's default travel source (klantreis.planning.travel.HaversineSource),
written out here so the benchmark does not depend on that code; a query's cost
includes computing these travel times for every gap of every eligible route.

Exactness: `exact_best_insertion` (plain Python: every route, every position, every
block, the whole route re-timed from its shift start) answers a subsample of the
same queries on the same state; its answer must equal the engine's offer for offer.
The subsample's timings are the anchor for the speed-up.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import statistics
import sys
import time
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from klantreis.planning.slots import (  # noqa: E402
    Block,
    NewJob,
    PlannedStop,
    RouteDay,
    RouteState,
    SlotOffer,
    book,
    exact_best_insertion,
    offer_slots,
)

RESULTS = BENCH / "results"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
FIRST_DAY = date(2026, 3, 2)  # a Monday, four weeks before summer time starts
WORKING_DAYS = 10
UTRECHT = (52.0907, 5.1214)
RADIUS_KM = 12.5
EARTH_RADIUS_KM = 6371.0088
CIRCUITY = 1.35
SPEED_KMH = 30.0
SKILLS = ("plumbing", "electrical", "heating", "carpentry", "roofing", "locks")
CASES = ((20, 1_200), (100, 6_000))
QUERIES = 1_000
QUICK_QUERIES = 200
# How many of the queries the exact reference also answers (the first ones).
EXACT_SAMPLE = {20: 1_000, 100: 200}
QUICK_EXACT_SAMPLE = {20: 100, 100: 40}


class Haversine:
    """Locations are indices into the coordinate arrays."""

    def __init__(self, latitudes: np.ndarray, longitudes: np.ndarray) -> None:
        self.degrees = (latitudes, longitudes)
        self.lat = np.radians(latitudes)
        self.lon = np.radians(longitudes)
        self.cos_lat = np.cos(self.lat)

    def __call__(self, origins: Any, destinations: Any) -> np.ndarray:
        o = np.asarray(origins, dtype=np.intp)[:, None]
        d = np.asarray(destinations, dtype=np.intp)[None, :]
        half = np.sin((self.lat[d] - self.lat[o]) / 2) ** 2 + self.cos_lat[o] * self.cos_lat[d] * (
            np.sin((self.lon[d] - self.lon[o]) / 2) ** 2
        )
        km = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(half)))
        # Rounded up, as the product's estimate does (it should not promise early).
        return np.ceil(np.round(km * CIRCUITY / SPEED_KMH * 3600, 6)).astype(np.int64)


def points(rng: random.Random, count: int) -> tuple[list[float], list[float]]:
    """Uniform in a disc of RADIUS_KM around Utrecht's centre."""
    lat0, lon0 = UTRECHT
    km_per_deg_lat = math.pi * EARTH_RADIUS_KM / 180
    km_per_deg_lon = km_per_deg_lat * math.cos(math.radians(lat0))
    lats, lons = [], []
    for _ in range(count):
        r = RADIUS_KM * math.sqrt(rng.random())
        a = rng.uniform(0, 2 * math.pi)
        lats.append(lat0 + r * math.sin(a) / km_per_deg_lat)
        lons.append(lon0 + r * math.cos(a) / km_per_deg_lon)
    return lats, lons


def local(day: date, hour: int, minute: int = 0) -> int:
    return int(datetime(day.year, day.month, day.day, hour, minute, tzinfo=AMSTERDAM).timestamp())


def working_days() -> list[date]:
    days, day = [], FIRST_DAY
    while len(days) < WORKING_DAYS:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


@dataclass
class Week:
    technicians: int
    routes: list[RouteState]
    blocks: list[Block]
    travel: Haversine
    queries: list[NewJob]
    booked: int
    refused: int
    # Every booking made while generating: the route before it, the position, the stop.
    bookings: list[tuple[RouteState, int, PlannedStop]]


def generate(technicians: int, jobs: int, queries: int, seed: int) -> Week:
    rng = random.Random(f"{seed}-{technicians}-{jobs}")
    # The queries draw from their own stream, so --quick asks the first of the same
    # queries against the same week.
    asking = random.Random(f"{seed}-{technicians}-{jobs}-queries")
    days = working_days()
    attempts = jobs * 2
    lats, lons = points(rng, technicians + attempts)
    wanted = []
    for _ in range(queries):
        (lat,), (lon,) = points(asking, 1)
        lats.append(lat)
        lons.append(lon)
        wanted.append((asking.choice(range(30, 121, 15)) * 60, asking.choice(SKILLS)))
    travel = Haversine(np.array(lats), np.array(lons))
    horizon = (local(days[0], 0), local(days[-1], 23, 59))
    blocks = [Block(local(day, hour), local(day, hour + 2)) for day in days for hour in (8, 10, 12, 14)]
    routes: list[RouteState] = []
    for t in range(technicians):
        skills = frozenset(rng.sample(SKILLS, rng.choice((2, 3))))
        for day in days:
            route = RouteDay(f"tech-{t}", day, local(day, 7, 30), local(day, 16), t, t, skills)
            routes.append(RouteState.from_route(route, travel=travel))

    booked = refused = 0
    bookings: list[tuple[RouteState, int, PlannedStop]] = []
    location = technicians
    while booked < jobs and location < technicians + attempts:
        service = rng.choice((30, 45, 60, 75, 90)) * 60
        request = NewJob(location, service, rng.choice(SKILLS), *horizon)
        offers = offer_slots(routes=routes, request=request, blocks=blocks, travel=travel)
        if offers:
            taken = next(o for o in offers if o.best) if rng.random() < 0.5 else rng.choice(offers)
            stop = PlannedStop(f"job-{location}", location, service, taken.window_start, taken.window_end)
            state = routes[taken.route_index]
            routes[taken.route_index] = book(state, taken.position, stop, travel=travel)
            bookings.append((state, taken.position, stop))
            booked += 1
        else:
            refused += 1
        location += 1

    first_query = technicians + attempts
    asked = [NewJob(first_query + q, service, skill, *horizon) for q, (service, skill) in enumerate(wanted)]
    return Week(technicians, routes, blocks, travel, asked, booked, refused, bookings)


def rebuild(state: RouteState, position: int, stop: PlannedStop, travel: Haversine) -> RouteState:
    """What `book` saves the caller: splice the stop in and time the route from scratch."""
    stops = state.route.stops
    spliced = replace(state.route, stops=stops[:position] + (stop,) + stops[position:])
    return RouteState.from_route(spliced, travel=travel)


def incremental(state: RouteState, position: int, stop: PlannedStop, travel: Haversine) -> RouteState:
    return book(state, position, stop, travel=travel)


def book_against_rebuild(week: Week, samples: int = 500, rounds: int = 20) -> tuple[float, float]:
    """Median milliseconds of `book` and of `rebuild` over a sample of the bookings made
    while generating, each timed `rounds` times, in alternating order so neither
    always gets the warm caches."""
    picked = random.Random(0).sample(week.bookings, min(samples, len(week.bookings)))
    timings: dict[Any, list[float]] = {incremental: [], rebuild: []}
    for k, (state, position, stop) in enumerate(picked):
        for how in (incremental, rebuild) if k % 2 else (rebuild, incremental):
            started = time.perf_counter()
            for _ in range(rounds):
                how(state, position, stop, week.travel)
            timings[how].append((time.perf_counter() - started) * 1000 / rounds)
    return statistics.median(timings[incremental]), statistics.median(timings[rebuild])


def through_product_travel(week: Week, offers: list[list[SlotOffer]]) -> dict[str, Any]:
    """The same queries with the product's travel source (`HaversineSource`, same
    parameters) and its `Location` objects as the locations: time, and whether every
    answer equals the one given with this file's formula."""
    from klantreis.planning.travel import HaversineSource, Location

    source = HaversineSource(CIRCUITY, SPEED_KMH)

    def travel(origins: Any, destinations: Any) -> Any:
        return source.matrix(origins, destinations).durations

    latitudes, longitudes = week.travel.degrees
    where = [Location(float(a), float(b)) for a, b in zip(latitudes, longitudes, strict=True)]

    def moved(state: RouteState) -> RouteState:
        day = state.route
        day = replace(
            day,
            start_location=where[day.start_location],
            end_location=where[day.end_location],
            stops=tuple(replace(stop, location=where[stop.location]) for stop in day.stops),
        )
        return RouteState.from_route(day, travel=travel)

    routes = [moved(state) for state in week.routes]
    times, same = [], 0
    gc.collect()
    for request, expected in zip(week.queries, offers, strict=True):
        asked = replace(request, location=where[request.location])
        started = time.perf_counter()
        answer = offer_slots(routes=routes, request=asked, blocks=week.blocks, travel=travel)
        times.append((time.perf_counter() - started) * 1000)
        same += answer == expected
    return {
        "p50_ms": round(statistics.median(times), 3),
        "p95_ms": round(percentile(times, 95), 3),
        "max_ms": round(max(times), 3),
        "identical_answers": same,
    }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


def timed(
    week: Week, exact: bool, requests: list[NewJob]
) -> tuple[list[float], list[float], list[list[SlotOffer]]]:
    """Wall-clock and CPU milliseconds per query, and the answers. On a shared machine
    the wall-clock tail includes time the process waited for a core; CPU time does not."""
    answer = exact_best_insertion if exact else offer_slots
    gc.collect()
    wall, cpu, offers = [], [], []
    for request in requests:
        started, started_cpu = time.perf_counter(), time.process_time()
        result = answer(routes=week.routes, request=request, blocks=week.blocks, travel=week.travel)
        cpu.append((time.process_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
        offers.append(result)
    return wall, cpu, offers


def worse_pct(offered: list[SlotOffer], exact: list[SlotOffer]) -> float:
    """How much worse the engine's best offer is than the exact best, in % of the
    exact best's score (100 when the engine offers nothing but a slot exists)."""
    if not exact:
        return 0.0
    if not offered:
        return 100.0
    mine = next(o.score for o in offered if o.best)
    theirs = next(o.score for o in exact if o.best)
    return 100 * (mine - theirs) / max(abs(theirs), 1)


def run_case(
    technicians: int, jobs: int, queries: int, sample: int, repeats: int, seed: int, product_travel: bool
) -> dict[str, Any]:
    started = time.perf_counter()
    week = generate(technicians, jobs, queries, seed)
    generated_s = time.perf_counter() - started
    stops = [len(state.route.stops) for state in week.routes]
    print(
        f"{technicians} technicians: {week.booked} jobs booked ({week.refused} refused), "
        f"{len(week.routes)} routes, {max(stops)} stops at most, generated in {generated_s:.1f} s"
    )
    runs = []
    offers: list[list[SlotOffer]] = []
    for _ in range(repeats):
        times, cpu, offers = timed(week, exact=False, requests=week.queries)
        runs.append(
            {
                "p50_ms": statistics.median(times),
                "p95_ms": percentile(times, 95),
                "max_ms": max(times),
                "p50_cpu_ms": statistics.median(cpu),
                "p95_cpu_ms": percentile(cpu, 95),
                "max_cpu_ms": max(cpu),
            }
        )
        print(
            "  engine  p50 {p50_ms:.2f} ms  p95 {p95_ms:.2f} ms  max {max_ms:.2f} ms"
            "  (CPU: p95 {p95_cpu_ms:.2f} ms, max {max_cpu_ms:.2f} ms)".format(**runs[-1])
        )
    sampled = week.queries[:sample]
    exact_times, _, exact_offers = timed(week, exact=True, requests=sampled)
    engine_times = timed(week, exact=False, requests=sampled)[0]
    book_ms, rebuild_ms = book_against_rebuild(week)
    build_ms = []
    for _ in range(repeats):
        begun = time.perf_counter()
        for state in week.routes:
            RouteState.from_route(state.route, travel=week.travel)
        build_ms.append((time.perf_counter() - begun) * 1000)
    # What a query actually examines after the cheap filters (skill, a feasible route,
    # room for the service time in some gap), as the engine applies them.
    examined = [
        [
            state
            for state in week.routes
            if state.feasible
            and request.skill in state.route.skills
            and state.room >= request.service_seconds
        ]
        for request in week.queries
    ]
    mismatched = sum(mine != theirs for mine, theirs in zip(offers, exact_offers, strict=False))
    worse = [worse_pct(mine, theirs) for mine, theirs in zip(offers, exact_offers, strict=False)]
    with_offers = sum(bool(o) for o in offers)
    blocks_offered = statistics.mean(len(o) for o in offers)
    case = {
        "technicians": technicians,
        "jobs": week.booked,
        "queries": len(week.queries),
        "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 3),
        "p95_ms": round(statistics.median(r["p95_ms"] for r in runs), 3),
        "max_ms": round(statistics.median(r["max_ms"] for r in runs), 3),
        "p95_cpu_ms": round(statistics.median(r["p95_cpu_ms"] for r in runs), 3),
        "max_cpu_ms": round(statistics.median(r["max_cpu_ms"] for r in runs), 3),
        "worse_than_exact_pct": round(statistics.mean(worse), 6),
        "exact_compared": len(sampled),
        "exact_mismatched_queries": mismatched,
        "exact_p50_ms": round(statistics.median(exact_times), 3),
        "exact_p95_ms": round(percentile(exact_times, 95), 3),
        "engine_p50_ms_on_sample": round(statistics.median(engine_times), 3),
        "speedup_p50": round(statistics.median(exact_times) / statistics.median(engine_times), 1),
        "queries_with_offers": with_offers,
        "mean_blocks_offered": round(blocks_offered, 2),
        "mean_routes_examined": round(statistics.mean(len(e) for e in examined), 1),
        "mean_gaps_examined": round(statistics.mean(sum(s.gaps.shape[1] for s in e) for e in examined), 1),
        "jobs_requested": week.booked + week.refused,
        "routes": len(week.routes),
        "book_p50_ms": round(book_ms, 4),
        "rebuild_p50_ms": round(rebuild_ms, 4),
        "build_all_states_ms": round(statistics.median(build_ms), 1),
        "repeats": [{key: round(value, 3) for key, value in r.items()} for r in runs],
    }
    print(
        f"  exact on {len(sampled)} queries: p50 {case['exact_p50_ms']:.1f} ms "
        f"(engine {case['engine_p50_ms_on_sample']:.2f} ms, x{case['speedup_p50']}), "
        f"{mismatched} mismatched, worse_than_exact {case['worse_than_exact_pct']}%"
    )
    if product_travel:
        case["product_travel"] = through_product_travel(week, offers)
        print(
            "  through klantreis.planning.travel: p50 {p50_ms:.2f} ms  p95 {p95_ms:.2f} ms, "
            "{identical_answers} identical answers".format(**case["product_travel"])
        )
    return case


def machine() -> dict[str, object]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "python": platform.python_version(),
        "numpy": metadata.version("numpy"),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_QUERIES} queries, a smaller exact sample"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the queries (median)")
    parser.add_argument(
        "--product-travel",
        action="store_true",
        help="also answer the queries through klantreis.planning.travel's HaversineSource",
    )
    parser.add_argument(
        "--fill",
        type=float,
        default=1.0,
        help="book this fraction of each case's jobs (default 1: 1,200 / 6,000)",
    )
    parser.add_argument("--json", type=Path, help="default: results/slots.json (slots-quick.json, -seed<N>)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if not 0 <= args.fill <= 1:
        parser.error("--fill must be between 0 and 1")

    info = machine()
    queries = QUICK_QUERIES if args.quick else QUERIES
    samples = QUICK_EXACT_SAMPLE if args.quick else EXACT_SAMPLE
    cases = [
        run_case(
            technicians,
            round(jobs * args.fill),
            queries,
            samples[technicians],
            args.repeats,
            args.seed,
            args.product_travel,
        )
        for technicians, jobs in CASES
    ]
    info["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    suffix = (
        ("-quick" if args.quick else "")
        + (f"-fill{args.fill:g}" if args.fill != 1 else "")
        + (f"-seed{args.seed}" if args.seed else "")
    )
    path = args.json or RESULTS / f"slots{suffix}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    result = {"seed": args.seed, "fill": args.fill, "cases": cases, "machine": info}
    temporary.write_text(json.dumps(result, indent=2) + "\n")
    temporary.replace(path)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
