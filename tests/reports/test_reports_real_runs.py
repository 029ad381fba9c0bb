"""Reports built from real small runs (orderflow simulate / sweep / loadtest against a live
reference server): summary figures checked against figures computed here from the raw tables,
thresholds passing and breaching through the CLI, and the pages rendered in headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hdrh.histogram import HdrHistogram

from orderflow.cli import main
from reports.build import ReportResult, build_report
from reports.check import check_run
from reports.screenshot import check_pages, chromium_path
from reports.sweeprun import LONG_COLUMNS as LONG_SWEEP_COLUMNS
from scenarios.thresholds import BREACH_EXIT_CODE, parse_flag

EP = "GET /api/orders/[id]/"


def hdr_percentile(values_ms: pd.Series, pct: float) -> float:
    """The load run's percentile definition, asked of a real HdrHistogram (1 us .. 1 h)."""
    h = HdrHistogram(1, 3_600_000_000, 3)
    for v in np.clip(np.rint(values_ms.to_numpy() * 1000), 1, None).astype(int):
        h.record_value(int(v))
    return float(h.get_value_at_percentile(pct)) / 1000.0


def _measured_orders(sim_run: Path) -> pd.DataFrame:
    orders = pd.read_parquet(sim_run / "orders.parquet")
    return orders[orders["in_window"]]


def test_simulation_summary_matches_orders_table(
    sim_run: Path, built: dict[str, ReportResult]
) -> None:
    result = built[sim_run.name]
    summary = json.loads(result.summary.read_text())
    orders = _measured_orders(sim_run)
    c2d = ((orders["delivered"] - orders["placed"]) / 60).dropna().to_numpy()
    phase = summary["phases"]["click_to_door"]
    assert phase["orders"] == c2d.size
    assert phase["p95_min"] == pytest.approx(np.percentile(c2d, 95), rel=1e-6)
    assert phase["p50_min"] == pytest.approx(np.median(c2d), rel=1e-6)
    assert phase["sla_min"] == 40.0
    assert phase["breach_rate"] == pytest.approx((c2d > 40).mean(), rel=1e-6)
    wait = ((orders["picked_up"] - orders["rider_arrived"]) / 60).dropna().to_numpy()
    assert summary["phases"]["rider_wait_at_restaurant"]["p99_min"] == pytest.approx(
        np.percentile(wait, 99), rel=1e-6
    )
    assert summary["funnel"]["placed"] == len(orders)
    assert summary["funnel"]["delivered"] == int(orders["delivered"].notna().sum())
    assert summary["funnel"]["payment failed"] == int(
        (orders["final_status"].astype(str) == "PAYMENT_FAILED").sum()
    )
    sim_summary = json.loads((sim_run / "summary.json").read_text())
    for kpi in ("click_to_door_p95_min", "rider_utilisation", "late_share"):
        assert summary["kpis"][kpi]["mean"] == pytest.approx(sim_summary["kpis"][kpi]["mean"])
        assert summary["kpis"][kpi]["ci_high"] == pytest.approx(sim_summary["kpis"][kpi]["ci_high"])
    by_name = {t["metric"]: t for t in summary["thresholds"]}
    # The shipped baseline scenario's [thresholds] are applied without any flag.
    assert by_name["click_to_door"]["source"] == "scenario [thresholds]"
    assert by_name["click_to_door"]["value"] == pytest.approx(np.percentile(c2d, 95) * 60_000)
    cancelled = orders["cancel_reason"].astype(str).isin(
        ["customer_changed_mind", "customer_impatient", "restaurant_out_of_stock",
         "confirm_timeout", "pickup_timeout"]
    )  # fmt: skip
    assert by_name["cancellation_rate"]["value"] == pytest.approx(cancelled.mean(), rel=1e-6)
    for name in ("kpis.csv", "phases.csv", "funnel.csv", "states.csv", "thresholds.csv"):
        assert (result.out_dir / name).stat().st_size > 0


def test_simulation_thresholds_pass_and_breach(sim_run: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    ok = ["--threshold", "click_to_door=p95 < 300min", "--threshold", "cancellation_rate=rate<50%"]
    assert main(["report", str(sim_run), "--out", str(tmp_path / "a"), *ok]) == 0
    assert "thresholds: passed" in capsys.readouterr().out
    bad = ["--threshold", "click_to_door=p50 < 1min", "--threshold", "late_share=rate < 0%"]
    code = main(["report", str(sim_run), "--out", str(tmp_path / "b"), *bad])
    assert code == BREACH_EXIT_CODE
    out = capsys.readouterr().out
    c2d = (_measured_orders(sim_run)["delivered"] - _measured_orders(sim_run)["placed"]) / 60
    p50 = float(np.percentile(c2d.dropna(), 50))
    assert f"BREACH         click_to_door p50 < 1min  (value {p50:.4g}min" in out
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary["passed"] is False
    assert [b["metric"] for b in summary["breaches"]] == ["click_to_door", "late_share"]


def test_load_summary_matches_requests_table(
    load_run: Path, built: dict[str, ReportResult]
) -> None:
    result = built[load_run.name]
    summary = json.loads(result.summary.read_text())
    req = pd.read_parquet(load_run / "requests.parquet")
    assert summary["requests"]["count"] == len(req)
    service = (req["end_ts"] - req["start_ts"]) * 1000
    latency = (req["end_ts"] - req["intended_ts"]) * 1000
    lateness = (req["start_ts"] - req["intended_ts"]) * 1000
    r = summary["requests"]
    assert r["service_ms_p95"] == pytest.approx(hdr_percentile(service, 95), rel=1e-6)
    assert r["latency_ms_p99"] == pytest.approx(hdr_percentile(latency, 99), rel=1e-6)
    assert r["lateness_ms_p50"] == pytest.approx(hdr_percentile(lateness, 50), rel=1e-6)
    # one definition: the report says what the run's own summary.json (its histograms) says
    run_summary = json.loads((load_run / "summary.json").read_text())
    assert r["latency_ms_p99"] == run_summary["overall"]["corrected_ms"]["p99"]
    assert r["service_ms_p95"] == run_summary["overall"]["service_ms"]["p95"]
    failed = (req["status"] == 0) | (req["status"] >= 500) | req["error"].fillna("").ne("")
    assert r["errors"] == int(failed.sum())
    one = req["endpoint"] == EP
    assert summary["endpoints"][EP]["count"] == int(one.sum())
    assert summary["endpoints"][EP]["service_ms_p50"] == pytest.approx(
        hdr_percentile(service[one], 50), rel=1e-6
    )
    planned = pd.read_parquet(load_run / "planned.parquet").groupby("endpoint").size()
    pvo = summary["planned_vs_observed"]
    assert {k: v["planned"] for k, v in pvo.items()} == {k: int(v) for k, v in planned.items()}
    sent = req[req["planned"]].groupby("endpoint").size()
    assert {k: v["observed"] for k, v in pvo.items()} == {
        k: int(sent.get(k, 0)) for k in planned.index
    }
    ws = pd.read_parquet(load_run / "ws_events.parquet")
    assert summary["websocket"]["events"] == len(ws)
    journeys = pd.read_parquet(load_run / "journeys.parquet")
    assert summary["journeys"]["by_outcome"] == {
        str(k): int(v) for k, v in journeys["outcome"].value_counts().items()
    }
    assert "planned_vs_observed.csv" in {p.name for p in result.tables}
    # The replayed simulation's scenario thresholds are read; they measure simulations only.
    statuses = {t["metric"]: t["status"] for t in summary["thresholds"]}
    assert statuses == {"click_to_door": "not applicable", "cancellation_rate": "not applicable"}


def test_load_thresholds_pass_and_breach(load_run: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    ok = ["--threshold", "errors=rate < 5%", "--threshold", f"{EP}=p95 < 5s"]
    assert main(["report", str(load_run), "--out", str(tmp_path / "a"), *ok]) == 0
    capsys.readouterr()
    req = pd.read_parquet(load_run / "requests.parquet")
    worst = float(((req["end_ts"] - req["start_ts"]) * 1000)[req["endpoint"] == EP].max())
    assert check_run(load_run, [f"{EP}=max < 0.001ms", "errors=rate < 5%"]) == BREACH_EXIT_CODE
    out = capsys.readouterr().out
    assert "thresholds: FAILED (1 breached)" in out
    assert f"BREACH         {EP} max < 0.001ms  (value {worst:.4g}ms" in out
    assert "PASS           errors rate < 5%" in out


def _wide(run: Path) -> pd.DataFrame:
    """A sweep's long ``sweep.parquet`` as one row per grid point: the settings (as named in
    the file) and each KPI's mean."""
    long = pd.read_parquet(run / "sweep.parquet")
    settings = [c for c in long.columns if c not in LONG_SWEEP_COLUMNS]
    long["kpi"] = long["kpi"].astype(str)
    return long.pivot(index=settings, columns="kpi", values="mean").reset_index()


def test_sweep_report_picks_smallest_fleet(sweep_run: Path, tmp_path: Path) -> None:
    table = _wide(sweep_run).sort_values("fleet_riders")
    # A limit between the best and the worst grid point, so the answer is neither trivial end.
    values = table["sla_breach_click_to_door"].to_numpy()
    limit = float((values.min() + values.max()) / 2)
    flag = parse_flag(f"sla_breach_click_to_door=avg < {limit * 100:.6f}%")
    result = build_report(sweep_run, tmp_path, [flag])
    summary = json.loads(result.summary.read_text())
    expected = int(table["fleet_riders"][table["sla_breach_click_to_door"] < limit].iloc[0])
    choice = next(c for c in summary["smallest_setting"] if c["metric"] == flag.name)
    assert choice["smallest_by_mean"] == f"fleet.riders={expected}"
    assert summary["points"] == len(table) == 3
    assert result.evaluation.results == []  # a sweep is not gated


@pytest.mark.skipif(
    chromium_path() is None, reason="no Chromium installed (apt-get install chromium)"
)
def test_reports_render_in_chromium(built: dict[str, ReportResult], tmp_path: Path) -> None:
    expected_charts = {"loadtest": 8, "simulation": 6, "sweep": 1}
    pages: list[tuple[Path, Path | None]] = [
        (r.html, tmp_path / f"{name}.png") for name, r in built.items()
    ]
    checks = check_pages(pages)
    for (name, result), check in zip(built.items(), checks, strict=True):
        shot = tmp_path / f"{name}.png"
        assert check.console_errors == [] and check.page_errors == []
        assert check.network == []
        assert check.charts >= expected_charts[result.kind], result.kind
        assert check.title.endswith(name)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_simulate_check_gates_on_the_scenario_thresholds(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    base = ["simulate", "baseline", "-r", "1", "--jobs", "1", "--quiet", "--check"]
    breach = ["--set", 'thresholds.click_to_door="p50 < 1min"']
    assert main([*base, "--out", str(tmp_path / "bad"), *breach]) == BREACH_EXIT_CODE
    out = capsys.readouterr().out
    assert "BREACH         click_to_door p50 < 1min" in out
    lenient = ["--set", 'thresholds.click_to_door="p50 < 600min"']
    lenient += ["--set", 'thresholds.cancellation_rate="rate < 90%"']
    assert main([*base, "--out", str(tmp_path / "ok"), *lenient]) == 0
    assert "thresholds: passed" in capsys.readouterr().out


def test_two_parameter_sweep_orders_settings_and_draws_one_line_each(tmp_path: Path) -> None:
    run2 = tmp_path / "sweep22"
    vary = ["--vary", "fleet.riders=20,30", "--vary", "vendors.kitchen_slots=2,3"]
    assert (
        main(["sweep", "baseline", "-r", "1", "-j", "1", "--quiet", "--out", str(run2), *vary]) == 0
    )
    table = _wide(run2)
    limit = float(table["click_to_door_p95_min"].median())
    result = build_report(run2, tmp_path / "r", [parse_flag(f"click_to_door=p95 < {limit}min")])
    summary = json.loads(result.summary.read_text())
    ordered = table.sort_values(["fleet_riders", "vendors_kitchen_slots"])
    first = ordered[ordered["click_to_door_p95_min"] < limit].iloc[0]
    expected = (
        f"fleet.riders={int(first['fleet_riders'])}, "
        f"vendors.kitchen_slots={int(first['vendors_kitchen_slots'])}"
    )
    choice = next(c for c in summary["smallest_setting"] if c["metric"] == "click_to_door")
    assert choice["smallest_by_mean"] == expected
    page = result.html.read_text()
    assert "vendors.kitchen_slots=2" in page and "vendors.kitchen_slots=3" in page  # legend


def test_sweep_over_dispatch_policies_shows_them_side_by_side(tmp_path: Path) -> None:
    """A categorical axis (issue 13): every policy runs the same orders (common random
    numbers), and the report charts each policy's mean and interval at its own tick."""
    run = tmp_path / "policies"
    vary = ["--vary", "dispatch.policy=at_confirm,just_in_time,rolling_horizon"]
    args = ["sweep", "baseline", "-r", "2", "-j", "1", "--quiet", "--out", str(run), *vary]
    assert main(args) == 0
    table = _wide(run)
    assert list(table["dispatch_policy"]) == ["at_confirm", "just_in_time", "rolling_horizon"]
    assert table["orders_placed"].nunique() == 1  # the same demand under every policy
    by = table.set_index("dispatch_policy")
    assert by.loc["rolling_horizon", "orders_per_bundle"] > 1.0
    assert by.loc["at_confirm", "orders_per_bundle"] == 1.0
    assert (
        by.loc["just_in_time", "rider_wait_at_restaurant_mean_min"]
        < by.loc["at_confirm", "rider_wait_at_restaurant_mean_min"]
    )
    result = build_report(run, tmp_path / "r", [])
    page = result.html.read_text()
    for policy in ("at_confirm", "just_in_time", "rolling_horizon"):
        assert f">{policy}<" in page  # an axis tick per policy, and a row of the grid table
