"""`orderflow sweep`: one scenario over a grid of overrides, one KPI row per grid point."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from orderflow.commands.simulate import add_common, check_counts, fmt


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a scenario over a grid of settings (common random numbers)",
        description="Run SCENARIO at every point of the grid given by --vary (start:stop:step "
        "with stop included, or a comma list) and write sweep.parquet / sweep.csv with a 95% "
        "confidence interval per KPI per point.",
    )
    add_common(p)
    p.add_argument(
        "--vary",
        action="append",
        required=True,
        metavar="PATH=SPEC",
        help="e.g. --vary fleet.riders=20:200:20 or --vary vendors.kitchen_slots=2,3,4",
    )
    p.add_argument(
        "--out", type=Path, help="output directory (default runs/sweep-<scenario>-s<seed>)"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from scenarios import ScenarioError
    from sim.model import SimulationBug
    from sim.sweep import parse_vary, run_sweep

    problem = check_counts(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        out, table = run_sweep(
            args.scenario,
            args.vary,
            args.overrides,
            seed=args.seed,
            replications=args.replications,
            jobs=args.jobs,
            out=args.out,
            show_progress=not args.quiet,
        )
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except SimulationBug as exc:
        print(f"error: simulation bug: {exc}", file=sys.stderr)
        return 1
    varied = [parse_vary(v)[0] for v in args.vary]
    head = ["click_to_door_p95_min", "sla_breach_click_to_door", "rider_utilisation"]
    print(f"\n{table.num_rows} grid point(s):")
    print("  ".join([*(f"{v:>18}" for v in varied), *(f"{h:>26}" for h in head)]))
    for row in table.to_pylist():
        cells = [f"{row[v]!s:>18}" for v in varied]
        cells += [f"{fmt(row[h], 'min' if h.endswith('_min') else '%'):>26}" for h in head]
        print("  ".join(cells))
    print(f"\nsweep table: {out}/sweep.parquet and sweep.csv (manifest.json, scenario.toml)")
    return 0
