"""Sequential replications, the warm-up check, tidy per-replication values and intervals that
respect their range, through ``orderflow simulate``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from orderflow.cli import main
from scenarios import load_scenario
from sim.runner import ReplicationOutput
from sim.sequential import parse_precision, precision_kpis, replicate, warmup_check


def test_batches_run_until_the_precision_is_reached() -> None:
    rng = np.random.default_rng(3)
    stream = (10 + rng.normal(0, 1, 200)).tolist()
    asked: list[list[int]] = []

    def run(indices: list[int]) -> list[ReplicationOutput]:
        asked.append(indices)
        return [ReplicationOutput(i, {"x_min": stream[i]}, 0, 0.0) for i in indices]

    outputs, stop = replicate(
        run, first=3, target=0.05, kpis=["x_min"], max_replications=100, batch=4
    )
    assert stop.reached and stop.kpis["x_min"] <= 0.05
    assert asked[0] == [0, 1, 2] and all(len(b) <= 4 for b in asked[1:])
    flat = [i for b in asked for i in b]
    assert flat == list(range(len(outputs)))  # replications 0.. in order, none twice
    # one batch fewer would not have been enough
    half = stream[: len(outputs) - len(asked[-1])]
    m, s = float(np.mean(half)), float(np.std(half, ddof=1))
    from scipy import stats

    assert stats.t.ppf(0.975, len(half) - 1) * s / math.sqrt(len(half)) / m > 0.05


def test_the_run_says_when_the_maximum_stopped_it() -> None:
    def run(indices: list[int]) -> list[ReplicationOutput]:
        return [ReplicationOutput(i, {"x_min": float(i % 2) * 10}, 0, 0.0) for i in indices]

    outputs, stop = replicate(
        run, first=2, target=0.01, kpis=["x_min"], max_replications=5, batch=2
    )
    assert len(outputs) == 5 and not stop.reached and stop.replications == 5
    assert "NOT reached after 5" in stop.line()


def test_precision_text_and_default_kpis() -> None:
    assert parse_precision("5%") == 0.05 and parse_precision("0.1") == 0.1
    for bad in ("0", "100%", "five", "-3%"):
        with pytest.raises(ValueError, match="--precision"):
            parse_precision(bad)
    s = load_scenario("baseline").scenario  # click_to_door p95 and cancellation_rate thresholds
    assert precision_kpis(s) == ("click_to_door_p95_min", "cancellation_rate")
    assert precision_kpis(s, ["wait_for_rider_mean_min"]) == ("wait_for_rider_mean_min",)


def test_mser5_warns_when_the_warmup_is_short() -> None:
    s = load_scenario("baseline", ["period.warmup_min=5"]).scenario
    t = np.arange(0, 90 * 60, 60.0)
    rng = np.random.default_rng(1)
    level = 20 + 15 * (1 - np.exp(-t / 600.0)) + rng.normal(0, 0.5, t.size)  # fills ~30 min
    table = pa.table(
        {"replication": np.zeros(t.size, np.int32), "t": t, "orders_in_system": level.round()}
    )
    got = warmup_check(table, s)
    assert got["short"] and got["suggested_min"] > 10
    long_enough = load_scenario("baseline", ["period.warmup_min=60"]).scenario
    assert not warmup_check(table, long_enough)["short"]


def test_simulate_with_precision_writes_the_verdict_and_tidy_values(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["simulate", "baseline", "--quiet", "--jobs", "1", "--out", str(out)]
    assert main([*args, "--precision", "60%", "--precision-kpi", "click_to_door_p95_min"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    p = summary["precision"]
    assert p["reached"] and p["relative_half_width"]["click_to_door_p95_min"] <= 0.6
    assert summary["replications"] == p["replications"] >= 3
    tidy = pd.read_parquet(out / "replications.parquet")
    assert list(tidy.columns) == ["replication", "kpi", "value"]
    for row in summary["per_replication"]:
        mine = tidy[tidy["replication"] == row["replication"]].set_index("kpi")["value"]
        assert mine["click_to_door_p95_min"] == pytest.approx(row["click_to_door_p95_min"])
    assert "warmup" in summary and summary["warmup"]["method"].startswith("MSER-5")


def test_not_reaching_it_is_said_and_bounded(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["simulate", "baseline", "--quiet", "--jobs", "1", "--out", str(out)]
    assert main([*args, "--precision", "0.1%", "--max-replications", "3"]) == 0
    p = json.loads((out / "summary.json").read_text())["precision"]
    assert not p["reached"] and p["replications"] == 3


def test_intervals_never_leave_their_range(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["simulate", "baseline", "--quiet", "-r", "3", "--out", str(out)]) == 0
    kpis = json.loads((out / "summary.json").read_text())["kpis"]
    for name, ci in kpis.items():
        if ci["ci_low"] is None:
            continue
        if name.startswith("lateness"):
            continue
        assert ci["ci_low"] >= 0, name
        if name.endswith(("_share", "_rate")) or name.startswith("sla_breach"):
            assert ci["ci_high"] <= 1, name
    assert kpis["sla_breach_click_to_door"]["method"].startswith("wilson")
    assert kpis["cancelled"]["ci_low"] >= 0


def test_bad_precision_flags_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "baseline", "--precision", "abc", "--quiet"]) == 2
    assert "--precision abc" in capsys.readouterr().err
    assert main(["simulate", "baseline", "--max-replications", "0", "--quiet"]) == 2
    code = main(["simulate", "baseline", "--precision", "5%", "--precision-kpi", "nope", "--quiet"])
    assert code == 2 and "nope" in capsys.readouterr().err


def test_a_kpi_the_same_in_every_replication_needs_no_more() -> None:
    from sim.sequential import relative_widths

    outs = [ReplicationOutput(i, {"cancellation_rate": 0.0}, 0, 0.0) for i in range(3)]
    for o in outs:
        o.trials["cancellation_rate"] = 500.0
    assert relative_widths(outs, ["cancellation_rate"]) == {"cancellation_rate": 0.0}
