"""The `simulate` and `sweep` commands: run directories, determinism, errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from orderflow.cli import main

SMALL = ["--set", "period.duration_h=1", "--set", "period.cooldown_min=5"]
FILES = (
    "orders.parquet",
    "events.parquet",
    "api_calls.parquet",
    "resources.parquet",
    "timeline.parquet",
    "replications.parquet",
    "summary.json",
    "scenario.toml",
    "manifest.json",
)


def test_same_scenario_and_seed_give_identical_bytes_whatever_the_jobs(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    common = ["simulate", "baseline", "--seed", "3", "-r", "2", "--quiet", *SMALL]
    assert main([*common, "--jobs", "1", "--out", str(a)]) == 0
    assert main([*common, "--jobs", "2", "--out", str(b)]) == 0
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    c = tmp_path / "c"
    assert (
        main(["simulate", "baseline", "--seed", "4", "-r", "2", "--quiet", *SMALL, "--out", str(c)])
        == 0
    )
    assert (a / "orders.parquet").read_bytes() != (c / "orders.parquet").read_bytes()


def test_run_directory_contents(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(["simulate", "baseline", "-r", "2", "--quiet", "--out", str(out), *SMALL]) == 0
    printed = capsys.readouterr().out
    assert "click->door p95" in printed and str(out) in printed
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "simulation" and manifest["scenario"] == "baseline"
    assert manifest["seed"] == 1 and manifest["replications"] == 2
    assert manifest["overrides"] == ["period.duration_h=1", "period.cooldown_min=5"]
    summary = json.loads((out / "summary.json").read_text())
    ci = summary["kpis"]["click_to_door_p95_min"]
    assert ci["n"] == 2 and ci["ci_low"] <= ci["mean"] <= ci["ci_high"]
    assert summary["thresholds"]["click_to_door"] == "p95 < 50min"
    orders = pq.read_table(out / "orders.parquet")
    assert orders.num_rows == manifest["orders_placed"]
    assert set(orders.column("replication").to_pylist()) == {0, 1}
    # warm-up and cool-down by arrival time
    placed = orders.column("placed").to_numpy()
    in_window = orders.column("in_window").to_numpy(zero_copy_only=False)
    assert ((placed >= 15 * 60) & (placed < 55 * 60) == in_window).all()
    assert summary["kpis"]["orders_in_window"]["mean"] == in_window.sum() / 2
    assert "duration_h = 1.0" in (out / "scenario.toml").read_text()


def test_bad_input_is_a_clear_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", "baseline", "--set", "fleet.riders=-3", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "scenarios/baseline.toml: fleet.riders: must be > 0 (got -3)" in err
    assert "Traceback" not in err
    assert main(["simulate", "nowhere"]) == 1
    assert "not a shipped scenario name" in capsys.readouterr().err
    assert main(["simulate", "baseline", "-r", "0"]) == 2
    assert "--replications: must be >= 1" in capsys.readouterr().err
    assert main(["sweep", "baseline", "--vary", "fleet.riders=a:b:c"]) == 1
    assert "--vary fleet.riders=a:b:c: 'a' is not a number" in capsys.readouterr().err
    assert main(["sweep", "baseline", "--vary", "fleet.riderz=1,2"]) == 1
    assert "fleet.riderz: unknown field" in capsys.readouterr().err


def test_sweep_writes_one_row_per_grid_point_and_kpi_with_intervals(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    args = [
        "sweep",
        "baseline",
        "--vary",
        "fleet.riders=15:45:30",
        "--vary",
        "vendors.kitchen_slots=2,3",
        "-r",
        "2",
        "--jobs",
        "1",
        "--quiet",
        "--out",
        str(out),
    ]
    assert main([*args, *SMALL]) == 0
    table = pq.read_table(out / "sweep.parquet").to_pylist()
    points = list(dict.fromkeys((r["fleet_riders"], r["vendors_kitchen_slots"]) for r in table))
    assert points == [(15, 2), (15, 3), (45, 2), (45, 3)]
    by = {(r["fleet_riders"], r["vendors_kitchen_slots"], r["kpi"]): r for r in table}
    for point in points:
        row = by[(*point, "click_to_door_p95_min")]
        assert row["n"] == 2
        assert row["ci_low"] <= row["mean"] <= row["ci_high"]
    # more riders, same random numbers: utilisation goes down
    assert by[(45, 2, "rider_utilisation")]["mean"] < by[(15, 2, "rider_utilisation")]["mean"]
    assert (out / "sweep.csv").read_text().startswith('"fleet_riders","vendors_kitchen_slots"')
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "sweep" and manifest["grid_points"] == 4
    assert manifest["columns"]["vendors_kitchen_slots"] == "vendors.kitchen_slots"
