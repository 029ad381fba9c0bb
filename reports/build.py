"""Turn a run directory into ``report.html``, ``summary.json`` and CSV tables.

This is the one entry point the CLI, the ``--check`` flags and the notebooks call. The summary is
deterministic (no wall-clock stamps, sorted keys, rounded floats) so two reports of the same run
compare equal and a summary can be committed as a golden file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reports.breaches import breach_intervals
from reports.evaluate import Evaluation, MetricData, evaluate
from reports.kind_report import KindReport
from reports.page import render
from reports.rundir import RunDir, RunDirError, open_run
from scenarios.thresholds import Threshold, ThresholdError, merge
from sim.kpis import json_ready

DEFAULT_PERCENTILES = (50.0, 95.0, 99.0)


@dataclass(frozen=True)
class ReportResult:
    out_dir: Path
    html: Path
    summary: Path
    tables: list[Path]
    evaluation: Evaluation
    kind: str


def _endpoint_names() -> dict[str, str]:
    from reference_api.endpoints import ENDPOINTS

    return {e.name: "loadtest" for e in ENDPOINTS.values()}


def known_elsewhere(kind: str) -> dict[str, str]:
    """Metric names measured by the other run kinds (for 'not applicable' instead of an error)."""
    from reports.loadrun import LOAD_METRICS
    from reports.simrun import SIM_METRICS

    load = {**dict.fromkeys(LOAD_METRICS, "loadtest"), **_endpoint_names()}
    sim = dict.fromkeys(SIM_METRICS, "simulation")
    if kind == "loadtest":
        return sim
    if kind == "simulation":
        return load
    return {**load, **sim}


def thresholds_for(run: RunDir, flags: Sequence[Threshold]) -> list[Threshold]:
    return merge(run.scenario_thresholds(), flags)


def check_metrics(
    run: RunDir, thresholds: Sequence[Threshold], metrics: dict[str, MetricData]
) -> Evaluation:
    try:
        return evaluate(thresholds, metrics, known_elsewhere(run.kind), run.kind)
    except ThresholdError as exc:
        raise RunDirError(str(exc)) from None


def evaluate_thresholds(run: RunDir, flags: Sequence[Threshold]) -> Evaluation:
    """Only the threshold evaluation (no charts): what ``--check`` needs."""
    thresholds = thresholds_for(run, flags)
    if run.kind == "loadtest":
        from reports import loadrun

        return check_metrics(
            run, thresholds, loadrun.analyse(run, DEFAULT_PERCENTILES, None).metrics
        )
    if run.kind == "simulation":
        from reports import simrun

        s = simrun.analyse(run, thresholds, DEFAULT_PERCENTILES)
        return check_metrics(run, thresholds, s.metrics)
    return Evaluation()


def analyse_run(
    run: RunDir,
    flags: Sequence[Threshold],
    percentiles: Sequence[float],
    bucket_s: float | None,
) -> tuple[KindReport, Evaluation]:
    thresholds = thresholds_for(run, flags)
    if run.kind == "loadtest":
        from reports import load_report, loadrun

        a = loadrun.analyse(run, percentiles, bucket_s)
        ev = check_metrics(run, thresholds, a.metrics)
        breaches = breach_intervals(thresholds, a.metrics, a.bucket_s)
        report = load_report.build(run, a, breaches)
        report.summary["breach_intervals"] = [b.as_dict() for b in breaches]
        return report, ev
    if run.kind == "simulation":
        from reports import sim_report, simrun

        s = simrun.analyse(run, thresholds, percentiles)
        ev = check_metrics(run, thresholds, s.metrics)
        return sim_report.build(run, s), ev
    if run.kind == "plan":
        from reports import plan_report, planrun

        if flags:
            raise RunDirError(
                "a plan run is judged on its own --sla targets (plan.json); --threshold does "
                "not apply to it"
            )
        # Gated on the plan's own answer: each target at the recommended (or closest) value.
        p = planrun.analyse(run)
        return plan_report.build(run, p), p.evaluation
    from reports import sweep_report, sweeprun

    # A sweep chooses a setting rather than passing or failing: its thresholds pick the
    # smallest setting that meets them (see the sweep report), so nothing is gated here.
    w = sweeprun.analyse(run, thresholds)
    return sweep_report.build(run, w), Evaluation()


def build_report(
    run_dir: Path | str,
    out_dir: Path | str | None = None,
    flags: Sequence[Threshold] = (),
    percentiles: Sequence[float] = DEFAULT_PERCENTILES,
    bucket_s: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> ReportResult:
    """``progress`` receives a line per stage (the CLI prints them; a long run takes seconds)."""
    say = progress or (lambda _line: None)
    run = open_run(run_dir)
    out = Path(out_dir) if out_dir is not None else run.path / "report"
    say(f"reading the {run.kind} run's tables and drawing the charts ...")
    report, ev = analyse_run(run, flags, percentiles, bucket_s)
    say(f"writing report.html, summary.json and {len(report.tables) + 1} CSV tables ...")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"cannot create the report directory {out}: {exc}") from None
    summary: dict[str, Any] = {
        "kind": run.kind,
        "run": run.path.name,
        "passed": ev.passed,
        "thresholds": [r.as_dict() for r in ev.results],
        "breaches": [r.as_dict() for r in ev.breaches],
        **report.summary,
    }
    summary_path = out / "summary.json"
    # 9 significant digits: exact enough for any check, whatever the value's scale.
    plain = json_ready(summary, 9, significant=True)
    summary_path.write_text(
        json.dumps(plain, indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8"
    )
    tables: list[Path] = []
    for name, frame in {**report.tables, "thresholds.csv": _threshold_frame(ev)}.items():
        path = out / name
        frame.to_csv(path, index=False, float_format="%.6g", lineterminator="\n")
        tables.append(path)
    html_path = out / "report.html"
    html_path.write_text(
        render(report.title, report.meta, ev, report.sections, report.verdict), encoding="utf-8"
    )
    return ReportResult(out, html_path, summary_path, tables, ev, run.kind)


def _threshold_frame(ev: Evaluation) -> Any:
    import pandas as pd

    cols = ["metric", "condition", "source", "status", "value", "shown"]
    return pd.DataFrame([r.as_dict() for r in ev.results], columns=cols)
