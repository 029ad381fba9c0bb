"""``orderflow compare BASELINE_RUN CANDIDATE_RUN``: two runs of one kind side by side, so a
release can be asked "is this build slower than the last one?" and CI can gate on the answer.

This is the one entry point the command calls: it opens both run directories (errors name the
directory and what is wrong with it), compares them by kind (``compare_load``: bootstrap
intervals by journey; ``compare_sim``: paired or Welch t intervals over replications), judges
every ``--max-regression`` (a regression is a difference whose whole interval lies beyond the
tolerance, so noise alone never fails a build), prints the table a CI log shows and writes
compare.json, compare.csv and compare.html, deterministically (the same runs and options give
the same bytes).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from reports.compare_load import MIN_JOURNEYS
from reports.compare_rows import (
    COLUMNS,
    NO_DATA,
    REGRESSION,
    Comparison,
    Row,
    cells,
    show,
    show_interval,
)
from reports.compare_spec import RegressionSpec
from reports.rundir import RunDir, RunDirError, open_run
from sim.kpis import HEADLINE_KPIS, json_ready

DEFAULT_SEED = 1
DEFAULT_RESAMPLES = 2000
COMPARABLE = {"loadtest": "load-test", "simulation": "simulation"}
#: Rows the terminal always shows (beside every checked, regressed or worse row).
LOAD_HEADLINE = ("service p95", "latency p95", "error rate")
LOAD_OVERALL = {
    ("requests", "throughput"),
    ("journeys", "failed share"),
    ("ws_delay", "delay p95"),
}


@dataclass(frozen=True)
class CompareFiles:
    out_dir: Path
    json: Path
    csv: Path
    html: Path


def open_pair(baseline: Path | str, candidate: Path | str) -> tuple[RunDir, RunDir]:
    """Both runs, checked to be comparable: the same kind, and a kind compare reads."""
    a, b = open_run(baseline), open_run(candidate)
    for run in (a, b):
        if run.kind not in COMPARABLE:
            raise RunDirError(
                f"{run.path} is a {run.kind} run; compare takes two simulate or two load-test "
                "runs (compare the runs a sweep or plan points to, e.g. two orderflow simulate "
                "runs of its settings)"
            )
    if a.kind != b.kind:
        raise RunDirError(
            f"{a.path} is a {COMPARABLE[a.kind]} run and {b.path} a {COMPARABLE[b.kind]} run; "
            "compare takes two runs of the same kind"
        )
    return a, b


def compare_runs(
    baseline: Path | str,
    candidate: Path | str,
    specs: Sequence[RegressionSpec] = (),
    seed: int = DEFAULT_SEED,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
) -> Comparison:
    """Compare two run directories. Raises ``RunDirError`` for a run that cannot be compared
    and ``ThresholdError`` for a spec that does not parse or names nothing the runs have."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"--confidence: must lie strictly between 0 and 1, got {confidence}")
    if resamples < 100:
        raise ValueError(f"--resamples: must be >= 100 (got {resamples})")
    a, b = open_pair(baseline, candidate)
    notes = _notes(a, b)
    if a.kind == "loadtest":
        from reports import compare_load

        rows = compare_load.compare(a, b, specs, seed, resamples, confidence)
        method = (
            f"bootstrap by journey: {resamples} resamples of each run's journeys (seed {seed}), "
            f"{confidence:.0%} percentile intervals of the candidate minus the baseline; "
            "percentiles from the runs' HdrHistograms"
        )
        comparison = Comparison(
            a.kind, a.path.name, b.path.name, rows, method, confidence, list(specs), notes,
            seed, resamples,
        )  # fmt: skip
    else:
        from reports import compare_sim

        rows, method, _ = compare_sim.compare(a, b, specs, confidence)
        comparison = Comparison(
            a.kind, a.path.name, b.path.name, rows, method, confidence, list(specs), notes
        )
    for row in comparison.checked:
        if row.verdict == NO_DATA:
            comparison.notes.append(
                f"{row.label}: {_why_no_interval(a.kind, row)}, so "
                f"--max-regression {row.spec.text if row.spec else ''!r} could not judge it"
            )
    return comparison


def _why_no_interval(kind: str, row: Row) -> str:
    if row.baseline is None and row.candidate is None:
        return "neither run has a value"
    if row.baseline is None or row.candidate is None:
        return f"only the {'candidate' if row.baseline is None else 'baseline'} run has it"
    if kind == "loadtest":
        return f"no interval (fewer than {MIN_JOURNEYS} journeys with it in a run)"
    return "no interval (fewer than 2 replications with a value in a run)"


def _notes(a: RunDir, b: RunDir) -> list[str]:
    """What differs between the runs beside the build, and runs that did not finish."""
    notes: list[str] = []
    for role, run in (("baseline", a), ("candidate", b)):
        m = run.manifest
        if a.kind == "loadtest" and (
            m.get("complete") is False or m.get("interrupted") or m.get("lost_workers")
        ):
            notes.append(
                f"the {role} run {run.path.name} did not finish (complete: "
                f"{m.get('complete')}, interrupted: {m.get('interrupted')}, lost workers: "
                f"{m.get('lost_workers') or 'none'}): its figures cover what it recorded"
            )
    keys = (
        ("scenario", "trace", "speedup", "duration", "background", "workers")
        if a.kind == "loadtest"
        else ("scenario", "overrides")
    )
    for key in keys:
        va, vb = a.manifest.get(key), b.manifest.get(key)
        if va != vb:
            notes.append(f"the runs differ in {key}: {va!r} (baseline) and {vb!r} (candidate)")
    return notes


def write(c: Comparison, out_dir: Path) -> CompareFiles:
    """compare.json, compare.csv and compare.html into ``out_dir`` (created)."""
    from reports.compare_report import render

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"cannot create the output directory {out_dir}: {exc}") from None
    json_path = out_dir / "compare.json"
    plain = json_ready(c.as_dict(), 9, significant=True)
    json_path.write_text(
        json.dumps(plain, indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8"
    )
    csv_path = out_dir / "compare.csv"
    frame = pd.DataFrame([r.as_dict() for r in c.rows], columns=list(COLUMNS))
    frame.to_csv(csv_path, index=False, float_format="%.6g", lineterminator="\n")
    html_path = out_dir / "compare.html"
    html_path.write_text(render(c), encoding="utf-8")
    return CompareFiles(out_dir, json_path, csv_path, html_path)


def _shown(c: Comparison, row: Row) -> bool:
    if row.spec is not None or row.verdict == REGRESSION:
        return True
    if c.kind == "loadtest":
        return row.metric in LOAD_HEADLINE or (row.name, row.metric) in LOAD_OVERALL
    return row.name in HEADLINE_KPIS


def table(c: Comparison, every: bool = False) -> str:
    """The terminal table: every checked row, the p95s and error rates (load tests) or the
    headline KPIs (simulations); ``every`` for all rows (compare.csv has them all)."""
    rows = [r for r in c.rows if every or _shown(c, r)]
    head: tuple[str, ...] = ("metric", "baseline", "candidate", "difference")
    head += (f"{c.confidence:.0%} interval", "change", "tolerance", "verdict")
    table_cells = [
        (*cells(r), r.verdict.upper() if r.verdict == REGRESSION else r.verdict) for r in rows
    ]
    widths = [max(len(x) for x in col) for col in zip(head, *table_cells, strict=True)]
    kind = COMPARABLE[c.kind]
    lines = [
        f"{kind} runs: baseline {c.baseline}, candidate {c.candidate}",
        f"  {c.method}",
        *(f"  note: {n}" for n in c.notes),
        "",
    ]
    for line in (head, *table_cells):
        parts = [line[0].ljust(widths[0])]
        parts += [v.rjust(w) for v, w in zip(line[1:-1], widths[1:-1], strict=True)]
        parts.append(line[-1])
        lines.append("  ".join(parts).rstrip())
    hidden = len(c.rows) - len(rows)
    if hidden:
        lines.append(f"({hidden} more rows in compare.csv and compare.html; --all prints them)")
    return "\n".join(lines)


def regression_lines(c: Comparison) -> list[str]:
    """One sentence per regression: what, both values, the interval, the tolerance."""
    out = []
    for r in c.regressions:
        spec = r.spec.text if r.spec else ""
        out.append(
            f"regression: {r.label}: baseline {show(r.baseline, r.scale)}, candidate "
            f"{show(r.candidate, r.scale)}, difference {show(r.difference, r.scale, True)} "
            f"{show_interval(r)} is beyond the tolerance {show(r.limit, r.scale, True)} "
            f"(--max-regression {spec!r})"
        )
    return out
