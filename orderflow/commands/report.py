"""`orderflow report RUN_DIR`: an HTML page, summary.json and CSV tables for a run directory.

Exit codes: 0 every threshold holds (or none is set), 1 bad input (a run directory missing a file,
a threshold that does not parse), 2 usage, 3 at least one threshold breached
(``scenarios.thresholds.BREACH_EXIT_CODE``), so CI can gate on a run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "report",
        help="write an HTML report, summary.json and CSV tables for a run directory",
        description="Build a self-contained HTML report with summary.json and CSV tables for a "
        "simulation, sweep, plan or load-test run directory, and check its thresholds. Exit code 3 "
        "when a threshold is breached, 1 on bad input.",
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run directory (manifest.json)")
    p.add_argument(
        "--out", type=Path, default=None, help="output directory (default RUN_DIR/report)"
    )
    p.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="NAME=EXPR",
        help="add or override a threshold, e.g. 'errors=rate < 1%%' or "
        "'GET /api/orders/[id]/=p95 < 300ms' (repeatable)",
    )
    p.add_argument(
        "--percentiles",
        default="50,95,99",
        help="latency percentiles to chart and tabulate (default 50,95,99)",
    )
    p.add_argument(
        "--bucket",
        type=float,
        default=None,
        metavar="SECONDS",
        help="time bucket for charts over time (default: chosen from the run's length)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from reports.check import print_evaluation
    from reports.rundir import RunDirError
    from reports.timebuckets import parse_percentiles
    from scenarios.thresholds import BREACH_EXIT_CODE, ThresholdError, parse_flag

    try:
        flags = [parse_flag(t) for t in args.threshold]
        percentiles = parse_percentiles(args.percentiles)
        if args.bucket is not None and not args.bucket > 0:
            raise ValueError(f"--bucket: must be a positive number of seconds, got {args.bucket}")
        from reports.build import build_report

        def progress(line: str) -> None:
            print(line, file=sys.stderr, flush=True)

        result = build_report(args.run_dir, args.out, flags, percentiles, args.bucket, progress)
    except (RunDirError, ThresholdError, ValueError) as exc:
        print(f"orderflow report: {exc}", file=sys.stderr)
        return 1
    print_evaluation(result.evaluation)
    print(f"report ({result.kind}): {result.html}")
    print(f"summary:  {result.summary}")
    print(f"tables:   {', '.join(p.name for p in result.tables)} in {result.out_dir}")
    return BREACH_EXIT_CODE if result.evaluation.breaches else 0
