"""Speed-up of a sweep on a Dask cluster of 2 workers over 1, side by side in one sitting.

    python benchmarks/bench_sweep.py                 # dinner_peak slice, 4 points x 2 reps
    python benchmarks/bench_sweep.py --points 30,35,40,45 --scenario baseline --reps 4

Both runs start a ``distributed.LocalCluster`` of single-threaded worker processes on
127.0.0.1 (``--dask local:N``), submit the same tasks (every grid point and replication) and
wait for all of them; the cluster start-up is timed apart. The ratio is what matters: this VM's
speed drifts, so only the two runs of one sitting are compared. Their outputs are checked to be
identical.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scenarios.loader import load_scenario  # noqa: E402
from sim.executors import executor_for  # noqa: E402
from sim.runner import run_many  # noqa: E402

#: A slice of dinner_peak big enough that one task is seconds of work, small enough for CI.
DINNER_SLICE = [
    "period.duration_h=1.5",
    "period.warmup_min=20",
    "period.cooldown_min=10",
    "demand.scale=0.25",
    "vendors.count=150",
    "customers.count=8000",
]


def tasks(scenario: str, points: list[int], reps: int, sets: list[str]) -> list[tuple]:  # type: ignore[type-arg]
    out = []
    for riders in points:
        s = load_scenario(scenario, [*sets, f"fleet.riders={riders}"]).scenario
        out += [(s, s.seed, r) for r in range(reps)]
    return out


def timed(work: list[tuple], workers: int) -> tuple[float, float, list[dict[str, float]]]:  # type: ignore[type-arg]
    start = time.perf_counter()
    with executor_for(workers, f"local:{workers}") as executor:
        ready = time.perf_counter()
        outputs = run_many(work, with_tables=False, desc=f"{workers} worker(s)", executor=executor)
        done = time.perf_counter()
    return ready - start, done - ready, [o.kpis for o in outputs]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="dinner_peak")
    parser.add_argument("--points", default="500,600,700,800", help="fleet.riders values")
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args(argv)
    points = [int(p) for p in args.points.split(",")]
    sets = DINNER_SLICE if args.scenario == "dinner_peak" else []
    work = tasks(args.scenario, points, args.reps, sets)
    print(
        f"sweep: {args.scenario}, fleet.riders={args.points}, {args.reps} reps: {len(work)} tasks"
    )
    start1, run1, kpis1 = timed(work, 1)
    start2, run2, kpis2 = timed(work, 2)
    same = kpis1 == kpis2
    print(f"1 worker : {run1:7.2f} s (cluster start {start1:.2f} s)")
    print(f"2 workers: {run2:7.2f} s (cluster start {start2:.2f} s)")
    print(f"speed-up : {run1 / run2:.2f}x (target >= 1.7x); same results: {same}")
    return 0 if same else 4


if __name__ == "__main__":
    sys.exit(main())
