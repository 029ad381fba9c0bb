"""Instruction counts of the hot paths, for settling differences the clock cannot (this VM's
speed drifts by tens of percent within minutes; ``valgrind --tool=cachegrind`` counts the same
for the same binary and inputs).

Runs one workload from a source tree (``--tree``, default this checkout), so the same command
measures an older checkout side by side:

    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \\
        .venv/bin/python benchmarks/count_instructions.py journey complete 24

Two sizes and a difference take start-up out: instructions per journey are
``(I(24 waves) - I(4 waves)) / (20 * 50)``; per simulated order ``(I(8000) - I(2000)) / 6000``
for ``sim-day``. ``PYTHONHASHSEED=0`` keeps string hashing, and so dict layouts, the same
between runs. NumPy's BLAS threads would spin-wait under valgrind and add a varying count
(several percent a journey), so this script pins them to one before anything imports NumPy.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

for _threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")


def _load(tree: Path, name: str) -> object:
    spec = importlib.util.spec_from_file_location(name, tree / "benchmarks" / f"{name}.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"no benchmarks/{name}.py under {tree}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workload", choices=["journey", "sim-day"])
    parser.add_argument("kind", help="journey: complete or refunded; sim-day: dense")
    parser.add_argument("size", type=int, help="journey: waves of 50; sim-day: orders")
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parent.parent)
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
        parser.error("sim-day kind: dense")
    from sim.model import Model

    day = _load(tree, "bench_sim").dense_day(args.size)  # type: ignore[attr-defined]
    Model(day, 1, 0).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
