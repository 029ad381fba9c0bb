"""`orderflow sweep`: one scenario over a grid of overrides, paired by common random numbers."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orderflow.commands.simulate import add_common, check_counts, fmt, run_failed, run_failures

if TYPE_CHECKING:
    from sim.sweep import Axis, SweepResult

#: The KPIs the end-of-sweep table shows per grid point (every KPI is in sweep.parquet).
HEAD = ("click_to_door_p95_min", "sla_breach_click_to_door", "rider_utilisation")
#: The KPI whose paired differences along the first axis the summary prints.
PAIRED_KPI = "click_to_door_p95_min"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a scenario over a grid of settings (common random numbers)",
        description="Run SCENARIO at every point of the grid given by --vary (start:stop:step "
        "with stop included, or a comma list), replication r of every point with the same "
        "random numbers, and write replications.parquet, sweep.parquet / sweep.csv (a 95% "
        "confidence interval per KPI per point) and differences.parquet / differences.csv "
        "(paired differences between neighbouring points).",
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
    from sim.sweep import run_sweep

    problem = check_counts(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        result = run_sweep(
            args.scenario,
            args.vary,
            args.overrides,
            seed=args.seed,
            replications=args.replications,
            jobs=args.jobs,
            out=args.out,
            dask=args.dask,
            show_progress=not args.quiet,
        )
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except run_failures() as exc:
        return run_failed(exc)
    print("\n".join(summary_lines(result)))
    out = result.out
    print(
        f"\nsweep tables: {out}/sweep.parquet (and .csv), differences.parquet (and .csv), "
        "replications.parquet (manifest.json, scenario.toml)"
    )
    return 0


def _unit(kpi: str) -> str:
    return "min" if kpi.endswith("_min") else "%"


def _setting(axis: Axis, value: Any) -> str:
    return f"{axis.path}={value}"


def summary_lines(result: SweepResult) -> list[str]:
    """Per grid point the ``HEAD`` KPIs' means; then, along the first axis, each neighbouring
    pair's paired difference of ``PAIRED_KPI`` and whether its 95% interval excludes 0."""
    axes = result.axes
    columns = [a.column for a in axes]
    means: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in result.points.to_pylist():
        means.setdefault(tuple(row[c] for c in columns), {})[row["kpi"]] = row["mean"]
    lines = [f"\n{len(means)} grid point(s):"]
    lines.append("  ".join([*(f"{a.path:>18}" for a in axes), *(f"{h:>26}" for h in HEAD)]))
    for key, kpis in means.items():
        cells = [f"{v!s:>18}" for v in key]
        cells += [f"{fmt(kpis.get(h), _unit(h)):>26}" for h in HEAD]
        lines.append("  ".join(cells))
    first = axes[0]
    pairs = [
        row
        for row in result.differences.to_pylist()
        if row["axis"] == first.column and row["kpi"] == PAIRED_KPI
    ]
    if pairs:
        lines.append(
            f"\npaired differences along {first.path} ({PAIRED_KPI}, next minus this, "
            "same replications):"
        )
        lines += [_pair_line(axes, row) for row in pairs]
    return lines


def _pair_line(axes: Sequence[Axis], row: dict[str, Any]) -> str:
    first, rest = axes[0], axes[1:]
    where = ", ".join(_setting(a, row[a.column]) for a in rest)
    step = f"{first.path} {row[first.column]} -> {row[f'to_{first.column}']}"
    mean = fmt(row["mean"], "min")
    if row["ci_low"] is None:
        band, verdict = "(no interval: one replication)", ""
    else:
        band = f"[{fmt(row['ci_low'], 'min')}, {fmt(row['ci_high'], 'min')}]"
        verdict = "significant" if row["significant"] else "not significant"
    text = f"  {step}{f' ({where})' if where else ''}: {mean} min {band} {verdict}"
    return text.rstrip()
