"""`orderflow demo`: the README's main command. A short run of everything on the embedded
defaults: simulate the baseline scenario, serve the reference API on a free local port, replay
the simulation's timeline against it with the load test, and report on both runs.
``--tour`` keeps the older in-process tour of every order path."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

DEFAULT_OUT = Path("runs") / "demo"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="run everything on the embedded defaults (about a minute)",
        description="Simulate the baseline scenario, serve the reference API on a free local "
        "port, replay the simulation's timeline against it, and write a report of each run. "
        f"Files go to --out (default {DEFAULT_OUT}/; its sim/, loadtest/ and server.db are "
        "replaced).",
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="demo directory")
    p.add_argument(
        "--speedup", type=float, default=240.0, help="simulated seconds per wall second (240)"
    )
    p.add_argument(
        "--duration", type=float, default=15.0, help="wall seconds of replayed arrivals (15)"
    )
    p.add_argument(
        "--tour", action="store_true", help="instead: drive one order down every path in-process"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from scenarios.exit_codes import ExitCode

    if args.tour:
        return tour()
    if not args.speedup > 0 or not args.duration > 0:
        print("orderflow demo: --speedup and --duration must be > 0", file=sys.stderr)
        return ExitCode.USAGE
    from orderflow import runs
    from reports.build import build_report
    from reports.check import print_evaluation
    from reports.rundir import RunDirError
    from scenarios import load_scenario

    out: Path = args.out
    sim_dir, load_dir, db = out / "sim", out / "loadtest", out / "server.db"
    for old in (sim_dir, load_dir):
        if old.exists():
            shutil.rmtree(old)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        print("1/4 simulating the baseline scenario ...", flush=True)
        runs.simulate(sim_dir, replications=3, quiet=False)
        print("\n2/4 starting the reference server on a free local port ...", flush=True)
        fleet = load_scenario("baseline").scenario.rider_count
        with runs.served(db, riders=fleet) as url:
            print(f"    {fleet} riders on duty, as in the scenario", flush=True)
            print(f"    {url}", flush=True)
            print("\n3/4 replaying the simulation's timeline against it ...", flush=True)
            runs.loadtest(url, load_dir, sim_dir, speedup=args.speedup, duration=args.duration)
        print("\n4/4 reports ...", flush=True)
        sim_report = build_report(sim_dir)
        load_report = build_report(load_dir)
    except (runs.RunFailed, RunDirError) as exc:
        print(f"orderflow demo: {exc}", file=sys.stderr)
        return ExitCode.RUN_FAILED
    for title, result in (("simulation", sim_report), ("load test", load_report)):
        print(f"\n{title} report: {result.html}")
        print_evaluation(result.evaluation)
    breached = sim_report.evaluation.breaches or load_report.evaluation.breaches
    print(f"\ndone in {time.monotonic() - started:.0f} s; everything is under {out}/:")
    print(f"  simulation run   {sim_dir}/   report {sim_report.html}")
    print(f"  load-test run    {load_dir}/   report {load_report.html}")
    if breached:
        print("  (a breached threshold makes `orderflow report` exit with 3; the demo exits 0)")
    return 0


def tour() -> int:
    from orderflow import inprocess_demo

    finals = inprocess_demo.run()
    print(f"\n{len(finals)} paths driven through the in-process API:")
    for title, status in finals.items():
        print(f"  {status:<20} {title}")
    return 0
