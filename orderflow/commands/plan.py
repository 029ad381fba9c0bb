"""`orderflow plan`: the smallest setting that meets every SLA target with stated confidence.

Exit codes: 0 a recommendation was verified, 1 bad input (a scenario, an SLA or bounds that do
not parse), 2 usage, 3 no setting inside the bounds meets the SLA (nothing is recommended),
4 the run itself failed (a cluster that cannot be reached, a simulation bug).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from orderflow.commands.simulate import (
    add_common,
    check_counts,
    precision_arg,
    run_failed,
    run_failures,
)
from scenarios.thresholds import BREACH_EXIT_CODE

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from scenarios.loader import LoadedScenario
    from sim.capacity import TargetCheck
    from sim.planning import PlanRequest

#: A plan that cannot meet its SLA exits as a breached threshold does.
NOT_MET_EXIT_CODE = BREACH_EXIT_CODE


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "plan",
        help="find the smallest setting that meets SLA targets with stated confidence",
        description="Search one integer parameter (--vary PATH=LO:HI, e.g. fleet.riders=10:200) "
        "for the smallest value at which every --sla target is met with --confidence: bracket "
        "then bisect, each candidate replicated with common random numbers until its verdict "
        "is clear. --staffing hourly finds riders on duty per hour instead. Exit 3 when "
        "nothing inside the bounds meets the SLA.",
    )
    add_common(p)
    for action in p._actions:
        if action.dest == "replications":
            action.help = (
                "first batch of replications per candidate (default: the scenario's, at least 3)"
            )
    p.add_argument(
        "--sla",
        action="append",
        required=True,
        metavar="NAME=EXPR",
        help="a target, e.g. 'click_to_door=p95 < 40min' or 'wait_for_rider=avg < 2min, "
        "p95 < 5min' (repeatable; every condition must be met)",
    )
    p.add_argument(
        "--vary",
        required=True,
        metavar="PATH=LO:HI",
        help="the integer parameter and its bounds, both included, e.g. fleet.riders=10:200",
    )
    p.add_argument(
        "--confidence",
        type=float,
        default=0.95,
        help="one-sided confidence that each target holds (default 0.95)",
    )
    p.add_argument(
        "--max-replications",
        type=int,
        metavar="N",
        help="replications per candidate at most (default 20); undecided there = not met",
    )
    p.add_argument(
        "--precision",
        metavar="REL",
        help="a met candidate also needs every target's interval half-width within REL of "
        "its mean (e.g. 5%%), or --max-replications",
    )
    p.add_argument(
        "--staffing",
        choices=["hourly"],
        help="find riders on duty per hour of the period (--vary fleet.riders=LO:HI bounds "
        "each hour) with the iterative staffing algorithm; see docs/planning.md",
    )
    p.add_argument("--out", type=Path, help="run directory (default runs/plan-<scenario>-s<seed>)")
    p.set_defaults(handler=run)


def _usage(args: argparse.Namespace) -> str | None:
    from sim.capacity import DEFAULT_MAX_REPLICATIONS, MIN_FIRST

    problem = check_counts(args)
    if problem:
        return problem
    if not 0.5 < args.confidence < 1.0:
        return f"--confidence: must lie above 0.5 and below 1 (got {args.confidence:g})"
    if args.replications is not None and args.replications < MIN_FIRST:
        return (
            f"--replications: a plan needs at least {MIN_FIRST} per candidate for a usable "
            f"one-sided bound (got {args.replications})"
        )
    first = args.replications or MIN_FIRST
    most = args.max_replications or DEFAULT_MAX_REPLICATIONS
    if most < first:
        return f"--max-replications: {most} is below the first batch ({first})"
    return None


def run(args: argparse.Namespace) -> int:
    from scenarios import ScenarioError, load_scenario
    from scenarios.thresholds import ThresholdError
    from sim.capacity import DEFAULT_MAX_REPLICATIONS, MIN_FIRST, PlanError, Replication
    from sim.capacity import parse_bounds as bounds_of
    from sim.executors import executor_for
    from sim.planning import PlanRequest
    from sim.runner import default_jobs
    from sim.sla import parse_sla

    problem = _usage(args)
    precision = None
    if problem is None:
        precision, problem = precision_arg(args)
    if problem is None and args.staffing and args.precision is not None:
        problem = "--precision applies to a parameter plan, not to --staffing hourly"
    if problem is None and args.staffing and not args.vary.strip().startswith("fleet.riders="):
        problem = "--staffing hourly varies riders per hour: give --vary fleet.riders=LO:HI"
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        targets = [t for text in args.sla for t in parse_sla(text)]
        bounds = bounds_of(args.vary)
        base = load_scenario(args.scenario, args.overrides)
        if not args.staffing:
            for value in (bounds.lo, bounds.hi):
                load_scenario(args.scenario, [*args.overrides, f"{bounds.path}={value}"])
        elif bounds.lo < 1:
            raise PlanError(f"--vary {args.vary}: at least 1 rider per hour")
    except (ThresholdError, PlanError, ScenarioError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    s = base.scenario
    seed = s.seed if args.seed is None else args.seed
    most = args.max_replications or DEFAULT_MAX_REPLICATIONS
    first = args.replications or min(most, max(MIN_FIRST, s.replications))
    most = max(first, most)
    rule = Replication(first, most, first, args.confidence, precision)
    req = PlanRequest(
        args.scenario,
        tuple(args.overrides),
        tuple(args.sla),
        tuple(targets),
        bounds,
        seed,
        rule,
    )
    jobs = args.jobs or default_jobs(first)
    out: Path = args.out or Path("runs") / f"plan-{s.name}-s{seed}"
    started = time.monotonic()
    try:
        with executor_for(jobs, args.dask) as executor:
            if args.staffing:
                code = _staffing(req, base, out, jobs, executor, args.quiet)
            else:
                code = _parameter(req, base, out, jobs, executor, args.quiet)
    except (PlanError, ScenarioError, ThresholdError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except run_failures() as exc:
        return run_failed(exc)
    print(f"took {time.monotonic() - started:.1f} s; report: orderflow report {out}")
    return code


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def target_line(c: TargetCheck) -> str:
    """A target at a candidate: estimate, interval, the bound that decides, and the limit."""
    t = c.target
    mark = "ok" if c.holds else ("FAIL" if c.clearly_fails else "?")
    return (
        f"{t.kpi} {_num(c.mean)} [{_num(c.ci_low)}, {_num(c.ci_high)}] "
        f"bound {_num(c.bound)} vs {t.op} {t.limit:g}: {mark}"
    )


def _parameter(
    req: PlanRequest,
    base: LoadedScenario,
    out: Path,
    jobs: int,
    executor: Executor | None,
    quiet: bool,
) -> int:
    from sim.capacity import Candidate, search
    from sim.planning import ParameterEvaluator, write_parameter_plan

    path = req.bounds.path
    pct = f"{req.rule.confidence:.0%}"
    print(
        f"plan {base.scenario.name}: smallest {path} in {req.bounds.lo}..{req.bounds.hi} meeting "
        f"{'; '.join(t.text for t in req.targets)} with {pct} confidence (seed {req.seed}, "
        f"{req.rule.first}..{req.rule.max_replications} replications per candidate)"
    )
    evaluator = ParameterEvaluator(req, jobs=jobs, executor=executor, show_progress=not quiet)

    def show(c: Candidate) -> None:
        again = "+" if c.topped_up else " "
        head = f"  #{c.step:<2} {path}={c.value:<6}{again}{c.replications:>3} rep  {c.verdict:<10}"
        lines = [target_line(x) for x in c.checks]
        print(head + lines[0], flush=True)
        for line in lines[1:]:
            print(" " * len(head) + line, flush=True)

    result = search(req.bounds, evaluator, show)
    chosen = base if result.recommended is None else evaluator.loaded(result.recommended.value)
    write_parameter_plan(out, req, base, result, chosen)
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    tally = (
        f"{len(result.candidates)} candidates, {result.evaluations} evaluations, "
        f"{result.replications} replications"
    )
    files = f"run directory: {out}/ (plan.json, candidates.parquet, scenario.toml, manifest.json)"
    if result.recommended is not None:
        c = result.recommended
        print(
            f"\nrecommended: {path}={c.value}: every target's one-sided {pct} bound is inside "
            f"its limit at {c.replications} replications ({tally})"
        )
        print(files)
        return 0
    best = result.best
    print(
        f"\ncannot meet the SLA with {path} in {req.bounds.lo}..{req.bounds.hi}: no candidate "
        f"was met with {pct} confidence; the closest was {path}={best.value} ({best.verdict}: "
        f"{'; '.join(target_line(x) for x in best.checks)}); nothing is recommended ({tally})"
    )
    print(files)
    return NOT_MET_EXIT_CODE


def _staffing(
    req: PlanRequest,
    base: LoadedScenario,
    out: Path,
    jobs: int,
    executor: Executor | None,
    quiet: bool,
) -> int:
    from sim.planning import StaffingEvaluator, write_staffing_plan
    from sim.staffing import StaffingEvaluation, hourly_kpi, rider_hours, search_staffing

    for t in req.targets:
        hourly_kpi(t)  # only per-hour order times; fails before any run
    evaluator = StaffingEvaluator(req, base, jobs=jobs, executor=executor, show_progress=not quiet)
    hours, lo, hi = evaluator.hours, req.bounds.lo, req.bounds.hi
    evaluator.loaded([hi] * hours)  # the scenario must take a staffing at all
    pct = f"{req.rule.confidence:.0%}"
    print(
        f"plan {base.scenario.name} --staffing hourly: riders per hour ({hours} hours, "
        f"{lo}..{hi} each) meeting {'; '.join(t.text for t in req.targets)} in every hour "
        f"with {pct} confidence (seed {req.seed})"
    )

    def show(ev: StaffingEvaluation) -> None:
        verdicts = " ".join(
            f"{h.riders}{'' if h.met else '!' if h.verdict == 'failed' else '?'}" for h in ev.hours
        )
        state = "met" if ev.met else f"not met in hour(s) {', '.join(map(str, ev.failing))}"
        print(
            f"  #{ev.step:<2} {ev.stage:<8} {ev.replications:>3} rep  [{verdicts}]  {state}",
            flush=True,
        )

    result = search_staffing(evaluator, hours, lo, hi, on_evaluation=show)
    chosen = base if result.staffing is None else evaluator.loaded(result.staffing)
    write_staffing_plan(out, req, base, result, chosen)
    for note in result.notes:
        print(f"note: {note}")
    files = f"run directory: {out}/ (plan.json, hours.parquet, scenario.toml, manifest.json)"
    if result.staffing is not None:
        f = result.final
        print(
            f"\nrecommended staffing: {list(result.staffing)} "
            f"({rider_hours(result.staffing)} rider-hours): every hour met, each target with "
            f"{pct} confidence, on {f.replications} fresh replications "
            f"({f.first_replication}..{f.first_replication + f.replications - 1}); "
            f"{len(result.evaluations)} evaluations"
        )
        print(files)
        return 0
    print(
        f"\ncannot meet the SLA in every hour with {lo}..{hi} riders per hour: "
        f"{result.notes[-1] if result.notes else 'not met'}; nothing is recommended"
    )
    print(files)
    return NOT_MET_EXIT_CODE
