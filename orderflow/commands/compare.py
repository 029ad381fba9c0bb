"""`orderflow compare BASELINE_RUN CANDIDATE_RUN`: two simulate or two load-test runs side by
side, with an interval on every difference, gated by ``--max-regression``.

Exit codes: 0 no regression beyond tolerance, 1 bad input (a directory that is not a run, runs
of different kinds, a missing table, a spec that does not parse or names nothing the runs
have), 2 usage, 3 at least one regression beyond tolerance
(``scenarios.thresholds.BREACH_EXIT_CODE``), so CI can gate a release on it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "compare",
        help="compare two runs of the same kind; exit 3 on a regression beyond tolerance",
        description="Compare a candidate run with a baseline run of the same kind (two load "
        "tests: per-endpoint percentiles, error rates and throughput with bootstrap intervals "
        "by journey; two simulations: every KPI, with paired differences when the seeds "
        "match). Writes compare.json, compare.csv and compare.html. Exit code 3 when a "
        "--max-regression is exceeded by the whole interval of the difference, 1 on bad input.",
    )
    p.add_argument("baseline", type=Path, metavar="BASELINE_RUN", help="the run to compare with")
    p.add_argument("candidate", type=Path, metavar="CANDIDATE_RUN", help="the run under test")
    p.add_argument(
        "--max-regression",
        action="append",
        default=[],
        metavar="SPEC",
        help="how far a metric may get worse, e.g. 'GET /api/orders/[id]/=p95 10%%', "
        "'*=p99 +50ms', 'errors=rate +1pp', 'click_to_door_p95_min=+5%%' (repeatable)",
    )
    p.add_argument(
        "--out", type=Path, default=None, help="output directory (default CANDIDATE_RUN/compare)"
    )
    p.add_argument(
        "--seed", type=int, default=None, help="bootstrap seed for load tests (default 1)"
    )
    p.add_argument(
        "--resamples",
        type=int,
        default=None,
        help="bootstrap resamples for load tests (default 2000, at least 100)",
    )
    p.add_argument(
        "--confidence",
        type=float,
        default=0.95,
        help="confidence level of the intervals (default 0.95)",
    )
    p.add_argument("--all", action="store_true", help="print every row, not only the headline")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from reports.compare import (
        DEFAULT_RESAMPLES,
        DEFAULT_SEED,
        compare_runs,
        regression_lines,
        table,
        write,
    )
    from reports.compare_rows import NO_DATA
    from reports.compare_spec import parse_regression
    from reports.rundir import RunDirError
    from scenarios.thresholds import BREACH_EXIT_CODE, ThresholdError

    seed = DEFAULT_SEED if args.seed is None else args.seed
    resamples = DEFAULT_RESAMPLES if args.resamples is None else args.resamples
    problem = None
    if seed < 0:
        problem = f"--seed: must be >= 0 (got {seed})"
    elif resamples < 100:
        problem = f"--resamples: must be >= 100 (got {resamples})"
    elif not 0.0 < args.confidence < 1.0:
        problem = f"--confidence: must lie strictly between 0 and 1 (got {args.confidence})"
    if problem:
        print(f"orderflow compare: {problem}", file=sys.stderr)
        return 2
    try:
        specs = [parse_regression(s) for s in args.max_regression]
        comparison = compare_runs(
            args.baseline, args.candidate, specs, seed, resamples, args.confidence
        )
        out = args.out if args.out is not None else args.candidate / "compare"
        files = write(comparison, out)
    except (RunDirError, ThresholdError) as exc:
        print(f"orderflow compare: {exc}", file=sys.stderr)
        return 1
    print(table(comparison, every=args.all))
    print()
    for line in regression_lines(comparison):
        print(line)
    checked = comparison.checked
    unjudged = [r for r in checked if r.verdict == NO_DATA]
    judged = len(checked) - len(unjudged)
    if comparison.regressions:
        print(f"FAIL: {len(comparison.regressions)} regression(s) beyond tolerance")
    elif checked:
        print(f"PASS: no regression beyond tolerance ({judged} row(s) judged)")
    if unjudged:  # a gate that could not look is said, not counted as passed
        names = ", ".join(r.name for r in unjudged[:5]) + (" ..." if len(unjudged) > 5 else "")
        print(f"NOT JUDGED: {len(unjudged)} checked row(s) with no interval ({names}): too few "
              "journeys, or a metric only one run has")  # fmt: skip
    print(f"compare: {files.html}")
    print(f"tables:  {files.json.name}, {files.csv.name} in {files.out_dir}")
    return BREACH_EXIT_CODE if comparison.regressions else 0
