"""Threshold checks for ``orderflow simulate --check`` / ``orderflow loadtest --check``.

Same evaluation as ``orderflow report`` (same metrics, same percentile definition) without
writing the page, so a run and its gate cannot disagree.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from reports.build import evaluate_thresholds
from reports.evaluate import Evaluation
from reports.rundir import RunDirError, open_run
from scenarios.thresholds import BREACH_EXIT_CODE, Threshold, ThresholdError, parse_flag


def evaluate_run(run_dir: Path | str, flags: Sequence[Threshold] = ()) -> Evaluation:
    return evaluate_thresholds(open_run(run_dir), flags)


def print_evaluation(ev: Evaluation, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    if not ev.results:
        print("thresholds: none set", file=out)
        return
    verdict = f"FAILED ({len(ev.breaches)} breached)" if ev.breaches else "passed"
    print(f"thresholds: {verdict}", file=out)
    for line in ev.lines():
        print(line, file=out)


def check_run(run_dir: Path | str, threshold_flags: Sequence[str] = ()) -> int:
    """Evaluate and print; return 0, ``BREACH_EXIT_CODE`` (3) on a breach, 1 on bad input."""
    try:
        ev = evaluate_run(run_dir, [parse_flag(t) for t in threshold_flags])
    except (RunDirError, ThresholdError) as exc:
        print(f"threshold check: {exc}", file=sys.stderr)
        return 1
    print_evaluation(ev)
    return BREACH_EXIT_CODE if ev.breaches else 0
