"""Solomon VRPTW benchmark: klantreis's route optimiser against the best-known
distances, with OR-Tools routing as the anchor measured in the same run.

    .venv/bin/python bench/solomon.py --seconds 1 [--quick] [--instances R101,C201] [--json PATH]

Every instance is built through `klantreis.planning.routing` (the model the
product uses), not through a PyVRP reader. Solomon's convention: Euclidean
distances in real numbers, travel time equals distance, the depot's due date
ends every route, at most the instance's number of vehicles, and the distance
record (`<NAME>_distance` in BKS.json) may use any fleet size up to that. The
solvers work on integers: distances ×1000 rounded for the objective, travel
times ×1000 rounded *up*, so a plan that fits in integers also fits in real
numbers. Each returned plan is then re-checked here in real numbers (every
customer once, capacity, time windows, depot due date) and its distance is
recomputed in the original units.

Solvers run one at a time, single-threaded, with the same time limit per
instance: klantreis's limit includes building its model, OR-Tools' starts when
its search starts.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from klantreis.planning import routing  # noqa: E402

DATA = BENCH / "data" / "solomon"
RESULTS = BENCH / "results"
SCALE = 1000
EPSILON = 1e-6
QUICK = ["C101", "C201", "R101", "R201", "RC101", "RC201"]
SOLVERS = ["klantreis", "ortools"]


@dataclass(frozen=True)
class Customer:
    number: int
    x: float
    y: float
    demand: int
    ready: int
    due: int
    service: int


@dataclass(frozen=True)
class Instance:
    name: str
    vehicles: int
    capacity: int
    # customers[0] is the depot.
    customers: list[Customer]

    def distance(self, a: int, b: int) -> float:
        ca, cb = self.customers[a], self.customers[b]
        return math.hypot(ca.x - cb.x, ca.y - cb.y)

    def scaled_distances(self) -> list[list[int]]:
        n = len(self.customers)
        return [[round(self.distance(a, b) * SCALE) for b in range(n)] for a in range(n)]

    def scaled_durations(self) -> list[list[int]]:
        n = len(self.customers)
        return [[math.ceil(self.distance(a, b) * SCALE) for b in range(n)] for a in range(n)]


def parse(path: Path) -> Instance:
    """The original Solomon text format: name, VEHICLE block (number, capacity),
    CUSTOMER block (number, x, y, demand, ready time, due date, service time)."""
    lines = [line.split() for line in path.read_text().splitlines()]
    rows = [line for line in lines if line]
    name = rows[0][0]
    vehicle_header = next(i for i, row in enumerate(rows) if row[0] == "VEHICLE")
    vehicles, capacity = (int(value) for value in rows[vehicle_header + 2])
    customer_header = next(i for i, row in enumerate(rows) if row[0] == "CUSTOMER")
    customers = [
        Customer(int(n), float(x), float(y), int(q), int(e), int(lat), int(s))
        for n, x, y, q, e, lat, s in rows[customer_header + 2 :]
    ]
    if [c.number for c in customers] != list(range(len(customers))):
        raise ValueError(f"{path.name}: customers are not numbered 0..n-1")
    return Instance(name=name, vehicles=vehicles, capacity=capacity, customers=customers)


# --- solvers: each returns routes as lists of customer numbers, or None ---


def solve_klantreis(instance: Instance, seconds: float, seed: int) -> list[list[int]] | None:
    depot = instance.customers[0]
    vehicles = [
        routing.Vehicle(
            id=f"vehicle-{k}",
            start_location=0,
            end_location=0,
            shift_start=depot.ready * SCALE,
            shift_end=depot.due * SCALE,
            capacity=instance.capacity,
        )
        for k in range(instance.vehicles)
    ]
    stops = [
        routing.Stop(
            id=str(c.number),
            location=c.number,
            service_duration=c.service * SCALE,
            earliest=c.ready * SCALE,
            latest=c.due * SCALE,
            demand=c.demand,
        )
        for c in instance.customers[1:]
    ]
    problem = routing.Problem(
        durations=instance.scaled_durations(),
        distances=instance.scaled_distances(),
        vehicles=vehicles,
        stops=stops,
    )
    solution = routing.solve(problem, seconds=seconds, seed=seed)
    if not solution.feasible or solution.unassigned:
        return None
    return [[int(visit.stop_id) for visit in route.visits] for route in solution.routes]


def solve_ortools(instance: Instance, seconds: float, seed: int) -> list[list[int]] | None:
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    n = len(instance.customers)
    depot = instance.customers[0]
    distances = instance.scaled_distances()
    durations = instance.scaled_durations()
    manager = pywrapcp.RoutingIndexManager(n, instance.vehicles, 0)
    model = pywrapcp.RoutingModel(manager)
    model.SetArcCostEvaluatorOfAllVehicles(model.RegisterTransitMatrix(distances))

    # Time at a node is the start of service there; travel from a node includes its service.
    transit = [[instance.customers[a].service * SCALE + durations[a][b] for b in range(n)] for a in range(n)]
    horizon = depot.due * SCALE
    model.AddDimension(model.RegisterTransitMatrix(transit), horizon, horizon, False, "Time")
    time_dimension = model.GetDimensionOrDie("Time")
    for customer in instance.customers[1:]:
        index = manager.NodeToIndex(customer.number)
        time_dimension.CumulVar(index).SetRange(customer.ready * SCALE, customer.due * SCALE)
    for vehicle in range(instance.vehicles):
        time_dimension.CumulVar(model.Start(vehicle)).SetRange(depot.ready * SCALE, horizon)
        time_dimension.CumulVar(model.End(vehicle)).SetRange(depot.ready * SCALE, horizon)

    demands = [customer.demand for customer in instance.customers]
    model.AddDimensionWithVehicleCapacity(
        model.RegisterUnaryTransitVector(demands), 0, [instance.capacity] * instance.vehicles, True, "Load"
    )

    parameters = pywrapcp.DefaultRoutingSearchParameters()
    parameters.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    parameters.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    parameters.time_limit.FromMilliseconds(round(seconds * 1000))
    # OR-Tools' routing search is deterministic and takes no seed.
    del seed
    assignment = model.SolveWithParameters(parameters)
    if assignment is None:
        return None
    routes = []
    for vehicle in range(instance.vehicles):
        index = assignment.Value(model.NextVar(model.Start(vehicle)))
        route = []
        while not model.IsEnd(index):
            route.append(manager.IndexToNode(index))
            index = assignment.Value(model.NextVar(index))
        if route:
            routes.append(route)
    return routes


# --- independent check, in the original (real-valued) units ---


def check(instance: Instance, routes: list[list[int]]) -> tuple[bool, float]:
    """Returns (feasible, distance) of a plan, recomputed from the instance."""
    depot = instance.customers[0]
    served = sorted(number for route in routes for number in route)
    feasible = served == list(range(1, len(instance.customers))) and len(routes) <= instance.vehicles
    total = 0.0
    for route in routes:
        load = sum(instance.customers[number].demand for number in route)
        feasible = feasible and load <= instance.capacity
        clock, here = float(depot.ready), 0
        for number in route:
            customer = instance.customers[number]
            arrival = clock + instance.distance(here, number)
            start = max(arrival, customer.ready)
            feasible = feasible and start <= customer.due + EPSILON
            total += instance.distance(here, number)
            clock, here = start + customer.service, number
        total += instance.distance(here, 0)
        feasible = feasible and clock + instance.distance(here, 0) <= depot.due + EPSILON
    return feasible, total


# --- running and reporting ---


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
        "pyvrp": metadata.version("pyvrp"),
        "ortools": metadata.version("ortools"),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def run(names: list[str], seconds: float, seed: int) -> dict[str, Any]:
    bks = json.loads((DATA / "BKS.json").read_text())
    solvers = {"klantreis": solve_klantreis, "ortools": solve_ortools}
    info = machine()
    rows: list[dict[str, object]] = []
    print(f"{'instance':9} {'best-known':>10} {'klantreis':>10} {'gap %':>7} {'OR-Tools':>10} {'gap %':>7}")
    for name in names:
        instance = parse(DATA / f"{name}.txt")
        best = bks[f"{name}_distance"]["best_known_cost"]
        line = f"{name:9} {best:10.2f}"
        for solver in SOLVERS:
            began, began_cpu = time.perf_counter(), time.process_time()
            routes = solvers[solver](instance, seconds, seed)
            wall, cpu = time.perf_counter() - began, time.process_time() - began_cpu
            feasible, distance = check(instance, routes) if routes is not None else (False, math.nan)
            gap = 100 * (distance - best) / best if feasible else None
            rows.append(
                {
                    "name": name,
                    "solver": solver,
                    "distance": round(distance, 2) if feasible else None,
                    "bks": best,
                    "gap_pct": None if gap is None else round(gap, 3) + 0.0,  # no "-0.0"
                    "feasible": feasible,
                    "vehicles": len(routes) if routes is not None else None,
                    "wall_s": round(wall, 3),
                    # Below wall_s when other work on the machine took the CPU.
                    "cpu_s": round(cpu, 3),
                    # The plan itself, so anyone can re-check it: customer numbers per route.
                    "routes": routes,
                }
            )
            line += f" {distance:10.2f} {gap:7.2f}" if gap is not None else f" {'infeasible':>10} {'-':>7}"
        print(line, flush=True)

    summary: dict[str, dict[str, float | int | None]] = {}
    for solver in SOLVERS:
        gaps = [row["gap_pct"] for row in rows if row["solver"] == solver and row["feasible"]]
        summary[solver] = {
            "mean_gap_pct": round(statistics.fmean(gaps), 3) if gaps else None,
            "median_gap_pct": round(statistics.median(gaps), 3) if gaps else None,
            "feasible": len(gaps),
            "instances": len(names),
        }
        mean, median = summary[solver]["mean_gap_pct"], summary[solver]["median_gap_pct"]
        print(f"{solver}: mean gap {mean}%, median {median}%, feasible {len(gaps)}/{len(names)}")
    info["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    return {
        "seconds": seconds,
        "seed": seed,
        "mean_gap_pct": {solver: summary[solver]["mean_gap_pct"] for solver in SOLVERS},
        "summary": summary,
        "instances": rows,
        "machine": info,
    }


def to_json(results: dict[str, Any]) -> str:
    """Indented JSON with one line per solve, so a result file reads (and diffs) as a table."""
    rows = results["instances"]
    head = json.dumps({**results, "instances": []}, indent=2)
    body = ",\n".join("    " + json.dumps(row) for row in rows)
    return head.replace('"instances": []', '"instances": [\n' + body + "\n  ]", 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time limit per instance and solver")
    parser.add_argument("--instances", help="comma-separated names, e.g. R101,C201 (default: all 56)")
    parser.add_argument("--quick", action="store_true", help=f"only {','.join(QUICK)}")
    parser.add_argument("--seed", type=int, default=0, help="klantreis's random seed")
    parser.add_argument("--json", type=Path, help="where to write the results")
    args = parser.parse_args(argv)

    available = sorted(path.stem for path in DATA.glob("*.txt"))
    if args.instances:
        names = [name.strip().upper() for name in args.instances.split(",") if name.strip()]
        unknown = sorted(set(names) - set(available))
        if unknown:
            parser.error(f"unknown instances: {', '.join(unknown)}")
        suffix = "-subset"
    elif args.quick:
        names, suffix = QUICK, "-quick"
    else:
        names, suffix = available, ""
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    try:
        metadata.version("ortools")
    except metadata.PackageNotFoundError:
        parser.error("OR-Tools is missing: run `make bench`, or `uv sync --group bench` first")

    results = run(names, args.seconds, args.seed)
    if args.seed:
        suffix += f"-seed{args.seed}"
    path = args.json or RESULTS / f"solomon-{args.seconds:g}s{suffix}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(to_json(results) + "\n")
    temporary.replace(path)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
