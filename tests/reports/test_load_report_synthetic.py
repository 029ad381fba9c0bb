"""Load-run reports on synthetic tables: aggregation against independent numpy figures, breach
intervals where the slow window was put, determinism and CLI exit codes. The real-run tests are
in test_reports_real_runs.py; these pin the arithmetic on data whose shape we control."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hdrh.histogram import HdrHistogram

from orderflow.cli import main
from reports.build import ReportResult, build_report
from reports.check import evaluate_run as check_run_evaluation
from reports.rundir import RunDirError
from reports.synthetic import write_load_run
from scenarios.thresholds import BREACH_EXIT_CODE, parse_flag

EP = "GET /api/orders/[id]/"


def hdr_percentile(values_ms: pd.Series, pct: float) -> float:
    """The load run's percentile definition, asked of a real HdrHistogram (1 us .. 1 h)."""
    h = HdrHistogram(1, 3_600_000_000, 3)
    for v in np.clip(np.rint(values_ms.to_numpy() * 1000), 1, None).astype(int):
        h.record_value(int(v))
    return float(h.get_value_at_percentile(pct)) / 1000.0


FLAGS = [parse_flag("requests=p50 < 60ms"), parse_flag("errors=rate < 1%")]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_load_run(tmp_path_factory.mktemp("load") / "run", rows=6000, trace=True)


@pytest.fixture(scope="module")
def report(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ReportResult:
    out = tmp_path_factory.mktemp("report")
    return build_report(run_dir, out, FLAGS, percentiles=(50, 90, 99.9), bucket_s=30)


def test_summary_matches_raw_tables(run_dir: Path, report: ReportResult) -> None:
    result = report
    summary = json.loads(result.summary.read_text())
    req = pd.read_parquet(run_dir / "requests.parquet")
    service = (req["end_ts"] - req["start_ts"]) * 1000
    latency = (req["end_ts"] - req["intended_ts"]) * 1000
    failed = (req["status"] == 0) | (req["status"] >= 500) | req["error"].notna()
    r = summary["requests"]
    assert r["count"] == len(req)
    assert r["errors"] == int(failed.sum())
    assert r["service_ms_p99.9"] == pytest.approx(hdr_percentile(service, 99.9), rel=1e-6)
    assert r["latency_ms_p50"] == pytest.approx(hdr_percentile(latency, 50), rel=1e-6)
    one = req["endpoint"] == EP
    ep = summary["endpoints"][EP]
    assert ep["count"] == int(one.sum())
    assert ep["service_ms_p90"] == pytest.approx(hdr_percentile(service[one], 90), rel=1e-6)
    assert ep["error_rate"] == pytest.approx(failed[one].mean(), rel=1e-6)
    planned = pd.read_parquet(run_dir / "planned.parquet")
    pvo = summary["planned_vs_observed"][EP]
    assert pvo == {"planned": int((planned["endpoint"] == EP).sum()), "observed": int(one.sum())}
    ts = pd.read_csv(result.out_dir / "timeseries.csv")
    assert ts["count"].sum() == len(req)
    assert summary["bucket_s"] == 30


def test_breach_intervals_cover_the_slow_window(report: ReportResult) -> None:
    # The synthetic run is 5x slower from 40% to 50% of its 600 s: 240 s to 300 s.
    summary = json.loads(report.summary.read_text())
    intervals = [
        (b["start_s"], b["end_s"]) for b in summary["breach_intervals"] if b["metric"] == "requests"
    ]
    assert (240.0, 300.0) in intervals
    assert all(start >= 210 and end <= 330 for start, end in intervals)
    page = report.html.read_text()
    assert "Breach intervals" in page and "threshold breached" in page


def test_reports_are_deterministic(run_dir: Path, report: ReportResult, tmp_path: Path) -> None:
    a = report
    b = build_report(run_dir, tmp_path / "b", FLAGS, percentiles=(50, 90, 99.9), bucket_s=30)
    for name in ["report.html", "summary.json", "endpoints.csv", "thresholds.csv"]:
        assert (a.out_dir / name).read_bytes() == (b.out_dir / name).read_bytes(), name
    page = (a.out_dir / "report.html").read_text()
    for needle in ("<script", "<link", "<img", 'src="http', 'href="http', "url(http"):
        assert needle not in page, needle


def test_cli_exit_codes_and_messages(run_dir: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = str(tmp_path / "cli")
    assert main(["report", str(run_dir), "--out", out, "--threshold", "errors=rate < 50%"]) == 0
    code = main(["report", str(run_dir), "--out", out, "--threshold", f"{EP}=p99 < 1ms"])
    assert code == BREACH_EXIT_CODE
    text = capsys.readouterr().out
    assert f"BREACH         {EP} p99 < 1ms  (value " in text
    assert main(["report", str(tmp_path / "nope")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["report", str(run_dir), "--out", out, "--threshold", "errors=rate < 5 ms"]) == 1
    assert "'rate' is a fraction" in capsys.readouterr().err
    assert main(["report", str(run_dir), "--out", out, "--threshold", "eror=rate < 1%"]) == 1
    assert "unknown metric 'eror' for a loadtest run" in capsys.readouterr().err
    assert main(["report", str(run_dir), "--out", out, "--percentiles", "50,x"]) == 1
    assert "--percentiles: 'x' is not a number" in capsys.readouterr().err


def test_run_dir_missing_a_file_is_named(run_dir: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text((run_dir / "manifest.json").read_text())
    assert main(["report", str(broken)]) == 1
    assert f"run directory {broken} has no requests.parquet" in capsys.readouterr().err


def test_scenario_named_by_a_load_run_supplies_thresholds(run_dir: Path, tmp_path: Path) -> None:
    import shutil

    named = tmp_path / "named"
    shutil.copytree(run_dir, named)
    manifest = json.loads((named / "manifest.json").read_text())
    (named / "manifest.json").write_text(json.dumps({**manifest, "scenario": "baseline"}))
    ev = check_run_evaluation(named)
    assert {r.metric: r.status for r in ev.results} == {
        "click_to_door": "not applicable",
        "cancellation_rate": "not applicable",
    }
    (named / "manifest.json").write_text(json.dumps({**manifest, "scenario": "no_such"}))
    with pytest.raises(RunDirError, match="scenario 'no_such': no_such: not a scenario file"):
        check_run_evaluation(named)
