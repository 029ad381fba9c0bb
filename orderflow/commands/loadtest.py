"""`orderflow loadtest`: Locust journeys against a live deployment, headless, into a run dir."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from loadtest.options import DEFAULT_SCENARIO, add_arguments

    p = sub.add_parser(
        "loadtest",
        help="replay order journeys over HTTP/WebSocket with Locust (open model)",
        description="Run the load-test journeys headless against --host, with orders arriving "
        "on the scenario's demand curve (or a simulation's --trace), compressed by --speedup; "
        "writes a run directory (requests, journeys, WebSocket delays, Locust CSVs).",
    )
    p.add_argument(
        "scenario",
        nargs="?",
        default=DEFAULT_SCENARIO,
        help="scenario name or TOML file (default: %(default)s)",
    )
    p.add_argument("--host", required=True, help="base URL of the deployment under test")
    p.add_argument("--workers", type=int, default=1, help="Locust worker processes (default 1)")
    add_arguments(p, scenario_flag=False)
    p.add_argument(
        "--check",
        action="store_true",
        help="evaluate the scenario's [thresholds] afterwards; exit 3 if any is breached",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from loadtest import launcher
    from loadtest.identities import IdentityError
    from loadtest.options import MissingFileError, OptionError, default_out, from_namespace
    from loadtest.plan import PlanError
    from loadtest.preflight import TargetError, check_host, check_target, prepare
    from scenarios.exit_codes import ExitCode

    def fail(message: str, code: ExitCode) -> int:
        print(f"orderflow loadtest: {message}", file=sys.stderr)
        return int(code)

    if not 1 <= args.workers <= 64:
        return fail(f"--workers: must be between 1 and 64, got {args.workers}", ExitCode.USAGE)
    try:
        opts = from_namespace(args)
        host = check_host(args.host)
    except MissingFileError as exc:
        return fail(str(exc), ExitCode.BAD_INPUT)
    except (OptionError, TargetError) as exc:
        return fail(str(exc), ExitCode.USAGE)
    try:
        identities, plan = prepare(opts)
    except (IdentityError, PlanError) as exc:
        return fail(str(exc), ExitCode.BAD_INPUT)
    try:
        check_target(host, identities)
    except TargetError as exc:
        return fail(str(exc), ExitCode.RUN_FAILED)
    run_dir: Path = opts.out or default_out()
    if (run_dir / "manifest.json").exists():
        return fail(f"--out {run_dir}: already holds a run (pick a new directory)", ExitCode.USAGE)
    from dataclasses import replace

    opts = replace(opts, out=run_dir)
    bound = plan.wall_window() + (opts.drain or 0.0) + 30.0
    print(
        f"{len(plan.orders)} journeys planned from {plan.source} at speedup {opts.speedup:g} "
        f"({sum(len(o.calls) for o in plan.orders)} requests), {args.workers} Locust "
        f"process(es) -> {run_dir}/",
        flush=True,
    )
    code = launcher.run(host, opts, args.workers, run_dir, len(plan.orders), bound)
    if code == ExitCode.OK and args.check:
        from reports.check import check_run

        return check_run(run_dir)
    return code
