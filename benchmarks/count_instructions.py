"""Instruction counts of the hot paths, for settling differences the clock cannot (this VM's
speed drifts by tens of percent within minutes; ``valgrind --tool=cachegrind`` counts the same
for the same binary and inputs).

Runs one workload from a source tree (``--tree``, default this checkout), so the same command
measures an older checkout side by side:

    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \\
        .venv/bin/python benchmarks/count_instructions.py journey complete 24

Two sizes and a difference take start-up out: instructions per journey are
``(I(24 waves) - I(4 waves)) / (20 * 50)``; per simulated order ``(I(8000) - I(2000)) / 6000``
for ``sim-day`` (the full model), ``sim-skeleton`` (``bench_sim.py``'s bare SimPy pipeline) and
``sim-replay`` (the full model, then the replay of its calls, ``sim.replay``: the replay's own
count is ``sim-replay`` minus ``sim-day`` at the same size); ``--policy`` picks the dispatch
strategy. ``--hours H`` stops the SIZE-order day's arrivals after H hours: the same rate,
density and world as the whole day with fewer orders, so per-order counts of a large day come
from two short runs: ``(I(200000, --hours 2.4) - I(200000, --hours 0.6)) / 15175`` (they place
20,067 and 4,892 orders, as the 20,000-order day does in 24 and 6 hours). ``PYTHONHASHSEED=0``
keeps string hashing, and so dict layouts, the same between runs. NumPy's BLAS threads would
spin-wait under valgrind and add a varying count (several percent a journey), so this script
pins them to one before anything imports NumPy.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

for _threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")


def _load(tree: Path, name: str) -> object:
    spec = importlib.util.spec_from_file_location(name, tree / "benchmarks" / f"{name}.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"no benchmarks/{name}.py under {tree}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workload", choices=["journey", "sim-day", "sim-skeleton", "sim-replay"])
    parser.add_argument("kind", help="journey: complete or refunded; sim-*: dense")
    parser.add_argument("size", type=int, help="journey: waves of 50; sim-*: orders")
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument(
        "--policy", default="", help="sim-*: the dispatch strategy (default: the scenario's)"
    )
    parser.add_argument(
        "--hours",
        type=float,
        default=0.0,
        help="sim-*: stop arrivals after these hours of the SIZE-order day (its rate, density "
        "and world; default the whole 24 h)",
    )
    args = parser.parse_args(argv)
    if args.size < 1:
        parser.error("size must be at least 1")
    tree = args.tree.resolve()
    sys.path.insert(0, str(tree))
    if args.workload == "journey":
        if args.kind not in ("complete", "refunded"):
            parser.error("journey kind: complete or refunded")
        bench = _load(tree, "bench_service").Bench()  # type: ignore[attr-defined]
        run = getattr(bench, args.kind)
        for _ in range(args.size):
            run()
        return 0
    if args.kind != "dense":
        parser.error("sim-* kind: dense")
    from sim.model import Model

    bench: Any = _load(tree, "bench_sim")
    day = bench.dense_day(args.size)
    if args.policy:
        day = bench.with_policy(day, args.policy)
    if args.hours:
        edge = min(60.0, args.hours * 60 / 4)  # warm-up and cool-down: KPIs only, not cost
        period = day.period.model_copy(
            update={"duration_h": args.hours, "warmup_min": edge, "cooldown_min": edge}
        )
        day = day.model_copy(update={"period": period})
    if args.workload == "sim-skeleton":
        bench.skeleton(day, 1)
        return 0
    model = Model(day, 1, 0)
    result = model.run()
    if args.workload == "sim-replay":
        from sim.model import fewer_collections
        from sim.replay import Replay

        replay = Replay.of(model, result.end_time)
        with fewer_collections():
            done = replay.run()
        if done.mismatch_count:
            raise SystemExit(f"the replay differed from the run: {done.mismatches}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
