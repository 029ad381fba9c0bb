"""`orderflow simulate`: run a scenario's replications and write a run directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "simulate",
        help="run a scenario in the SimPy model and write a run directory",
        description="Run SCENARIO (a shipped name such as baseline, dinner_peak, cancellations, "
        "or a path to a .toml file) for K replications and write Parquet tables, summary.json, "
        "the resolved scenario and a manifest.",
    )
    add_common(p)
    p.add_argument("--out", type=Path, help="run directory (default runs/sim-<scenario>-s<seed>)")
    p.add_argument(
        "--check",
        action="store_true",
        help="evaluate the scenario's [thresholds] afterwards; exit 3 if any is breached",
    )
    add_precision(p)
    p.set_defaults(handler=run)


def add_precision(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--precision",
        metavar="REL",
        help="sequential replications: run batches until every --precision-kpi's 95%% "
        "interval half-width is within REL of its mean (e.g. 5%%), or --max-replications",
    )
    p.add_argument(
        "--precision-kpi",
        action="append",
        default=[],
        metavar="KPI",
        help="a KPI --precision applies to (repeatable; default: the scenario's threshold "
        "metrics, else click_to_door_p95_min)",
    )
    p.add_argument(
        "--max-replications",
        type=int,
        metavar="N",
        help=f"upper bound for --precision (default {40})",
    )


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "scenario",
        help="shipped scenario name, path to a scenario .toml, or an MDRP instance directory",
    )
    p.add_argument("--seed", type=int, help="root seed (default: the scenario's seed)")
    p.add_argument("--replications", "-r", type=int, help="replications (default: the scenario's)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a scenario field, e.g. --set fleet.riders=40 (repeatable)",
    )
    p.add_argument(
        "--jobs", "-j", type=int, help="worker processes (default: min(reps, usable CPUs))"
    )
    p.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run replications on a Dask cluster: a scheduler address (tcp://host:8786) or "
        "local:N to start N local worker processes; results are the same bytes as a local run",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run_failures() -> tuple[type[BaseException], ...]:
    """What a run raises when it fails rather than its input being wrong: an ``except``
    clause evaluates this only when something was raised, so the imports stay lazy."""
    from concurrent.futures import BrokenExecutor

    from sim.executors import ExecutorError
    from sim.model import SimulationBug

    return (ExecutorError, BrokenExecutor, SimulationBug)


def run_failed(exc: BaseException) -> int:
    """Say why the run failed (a simulation bug, a lost worker, no cluster); exit 4."""
    from scenarios.exit_codes import ExitCode
    from sim.model import SimulationBug

    if isinstance(exc, SimulationBug):
        print(f"error: simulation bug: {exc}", file=sys.stderr)
    else:
        print(f"error: the run failed: {exc or type(exc).__name__}", file=sys.stderr)
    return ExitCode.RUN_FAILED


def precision_arg(args: argparse.Namespace) -> tuple[float | None, str | None]:
    """``--precision`` as a relative half-width, or the usage problem with it."""
    from sim.sequential import parse_precision

    if args.precision is None:
        return None, None
    try:
        return parse_precision(args.precision), None
    except ValueError as exc:
        return None, str(exc)


def check_counts(args: argparse.Namespace) -> str | None:
    from sim.executors import check_dask

    if getattr(args, "dask", None):
        problem = check_dask(args.dask)
        if problem:
            return problem
    for name in ("replications", "jobs", "max_replications"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            return f"--{name}: must be >= 1 (got {value})"
    if args.seed is not None and args.seed < 0:
        return f"--seed: must be >= 0 (got {args.seed})"
    return None


def fmt(value: Any, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "%":
        return f"{100 * value:.1f}%"
    return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"


def headline_table(kpis: dict[str, dict[str, Any]]) -> str:
    """The headline KPIs with their intervals (every KPI is in summary.json)."""
    from sim.kpis import HEADLINE

    lines = [f"{'KPI':<28} {'mean':>10} {'95% CI':>23}"]
    for key, label, unit in HEADLINE:
        ci = kpis.get(key, {})
        mean = ci.get("mean")
        lo, hi = ci.get("ci_low"), ci.get("ci_high")
        band = "" if lo is None else f"[{fmt(lo, unit)}, {fmt(hi, unit)}]"
        suffix = f" {unit}" if unit == "min" else ""
        lines.append(f"{label + suffix:<28} {fmt(mean, unit):>10} {band:>23}")
    return "\n".join(lines)


#: The MDRP's measures, as the end-of-run table shows them.
MDRP_HEADLINE = (
    ("mdrp_undelivered_share", "MDRP undelivered", "%"),
    ("mdrp_click_to_door_mean_min", "MDRP click->door mean", "min"),
    ("mdrp_click_to_door_p90_min", "MDRP click->door p90", "min"),
    ("mdrp_ready_to_pickup_mean_min", "MDRP ready->pickup mean", "min"),
    ("mdrp_courier_utilisation", "MDRP courier utilisation", "%"),
    ("mdrp_orders_per_bundle", "MDRP orders per bundle", ""),
    ("mdrp_cost_per_order", "MDRP cost per order", ""),
)


def mdrp_table(kpis: dict[str, dict[str, Any]]) -> str:
    lines = ["", f"{'MDRP KPI':<28} {'mean':>10}"]
    for key, label, unit in MDRP_HEADLINE:
        suffix = f" {unit}" if unit == "min" else ""
        lines.append(f"{label + suffix:<28} {fmt(kpis.get(key, {}).get('mean'), unit):>10}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:

    from scenarios import ScenarioError, load_scenario
    from sim.executors import executor_for
    from sim.mdrp import MdrpSolutionError
    from sim.rundir import default_out, write_simulation
    from sim.runner import combine, default_jobs, run_many
    from sim.sequential import (
        BATCH,
        DEFAULT_MAX_REPLICATIONS,
        UnknownKpi,
        precision_kpis,
        replicate,
        warmup_check,
    )

    problem = check_counts(args)
    target = None
    if problem is None:
        target, problem = precision_arg(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        loaded = load_scenario(args.scenario, args.overrides)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    s = loaded.scenario
    seed = s.seed if args.seed is None else args.seed
    reps = args.replications or s.replications
    max_reps = args.max_replications or DEFAULT_MAX_REPLICATIONS
    jobs = args.jobs or default_jobs(max_reps if target is not None else reps)
    out = args.out or default_out("sim", s.name, seed)
    extra: dict[str, Any] = {}
    try:
        with executor_for(jobs, args.dask) as executor:

            def batch(indices: list[int]) -> list[Any]:
                return run_many(
                    [(s, seed, r) for r in indices],
                    jobs=jobs,
                    with_tables=True,
                    desc=f"simulate {s.name}",
                    show_progress=not args.quiet,
                    executor=executor,
                )

            if target is None:
                outputs = batch(list(range(reps)))
            else:
                kpis = precision_kpis(s, args.precision_kpi)
                outputs, stopping = replicate(
                    batch,
                    first=reps,
                    target=target,
                    kpis=kpis,
                    max_replications=max_reps,
                    batch=BATCH,
                )
                extra["precision"] = stopping.as_dict()
    except UnknownKpi as exc:
        print(f"error: --precision-kpi {exc.args[0]}: not a KPI of this run", file=sys.stderr)
        return 2
    except run_failures() as exc:
        return run_failed(exc)
    except MdrpSolutionError as exc:
        print(f"error: MDRP solution: {exc}", file=sys.stderr)
        return 1
    tables = combine(outputs)
    extra["warmup"] = warmup_check(tables["resources"], s)
    result = write_simulation(out, loaded, seed, outputs, tables, extra)
    placed = sum(o.placed for o in outputs)
    print(f"\n{s.name}: seed {seed}, {len(outputs)} replication(s), {placed:,} orders placed")
    print(headline_table(result["kpis"]))
    if "precision" in extra:
        print(stopping.line())
    warm = extra["warmup"]
    if warm["short"]:
        print(
            f"warning: period.warmup_min is {warm['configured_min']:g} but MSER-5 on the "
            f"orders in the system suggests {warm['suggested_min']:g} min; consider "
            f"--set period.warmup_min={warm['suggested_min']:g}",
            file=sys.stderr,
        )
    print(
        f"\nrun directory: {out}/ (orders, events, api_calls, resources, timeline, "
        "replications .parquet; summary.json, scenario.toml, manifest.json)"
    )
    if s.mdrp is not None:
        print(mdrp_table(result["kpis"]))
        print(
            f"MDRP solution (replication 0): {out}/mdrp/ (score it with Grubhub's "
            "compute_performance_summary.py; docs/real-data.md)"
        )
    if getattr(args, "check", False):
        from reports.check import check_run

        return check_run(out)
    return 0
