"""Sweeps that use the pairing (issue 15): long tables with typed setting columns and no dots in
any column name, paired differences between neighbouring grid points checked against a hand
computation from ``replications.parquet``, common random numbers across points, the same bytes
for the same inputs (and whatever runs the replications), and the sweep report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats as sps

from orderflow.cli import main
from reports.build import build_report
from reports.rundir import RunDirError, open_run
from reports.sweeprun import analyse
from scenarios import ScenarioError
from sim.executors import ExecutorError
from sim.sweep import axes_of, neighbours

SMALL = ["--set", "period.duration_h=1", "--set", "period.cooldown_min=5"]
VARY = ["--vary", "fleet.riders=30,40", "--vary", "dispatch.policy=at_confirm,just_in_time"]
PARQUETS = ("replications.parquet", "sweep.parquet", "differences.parquet")
FILES = (*PARQUETS, "sweep.csv", "differences.csv", "scenario.toml", "manifest.json")


def _sweep(out: Path, *extra: str) -> Path:
    args = ["sweep", "baseline", *VARY, "-r", "3", "--quiet", "--out", str(out), *SMALL]
    assert main([*args, *extra]) == 0
    return out


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two riders counts by two dispatch policies, three replications each."""
    return _sweep(tmp_path_factory.mktemp("sweep") / "grid", "--jobs", "1")


def _kpis(run: Path) -> int:
    return len(set(pq.read_table(run / "sweep.parquet").column("kpi").to_pylist()))


def test_tables_are_long_with_typed_settings_and_no_dots(swept: Path) -> None:
    assert sorted(p.name for p in swept.iterdir()) == sorted(FILES)
    for name in PARQUETS:
        schema = pq.read_schema(swept / name)
        assert not [c for c in schema.names if "." in c], name
        assert schema.field("fleet_riders").type == pa.int64(), name
        assert schema.field("dispatch_policy").type == pa.string(), name
        assert pa.types.is_dictionary(schema.field("kpi").type), name
    kpis = _kpis(swept)
    assert kpis > 50
    reps = pq.read_table(swept / "replications.parquet")
    assert reps.schema.names == ["fleet_riders", "dispatch_policy", "replication", "kpi", "value"]
    assert reps.schema.field("replication").type == pa.int32()
    assert reps.schema.field("value").type == pa.float64()
    assert reps.num_rows == 4 * 3 * kpis
    points = pq.read_table(swept / "sweep.parquet")
    assert points.schema.names == [
        *("fleet_riders", "dispatch_policy", "kpi", "mean", "ci_low", "ci_high"),
        *("half_width", "n", "method"),
    ]
    assert points.schema.field("n").type == pa.int32()
    assert points.num_rows == 4 * kpis
    settings = points.select(["fleet_riders", "dispatch_policy"]).to_pylist()
    assert list(dict.fromkeys(tuple(r.values()) for r in settings)) == [
        (30, "at_confirm"),
        (30, "just_in_time"),
        (40, "at_confirm"),
        (40, "just_in_time"),
    ]
    diffs = pq.read_table(swept / "differences.parquet")
    assert diffs.schema.names == [
        *("axis", "fleet_riders", "dispatch_policy", "to_fleet_riders", "to_dispatch_policy"),
        *("kpi", "mean", "ci_low", "ci_high", "half_width", "n", "significant"),
    ]
    assert diffs.schema.field("to_fleet_riders").type == pa.int64()
    assert diffs.schema.field("significant").type == pa.bool_()
    # two pairs along each axis (one per value of the other), every KPI
    assert diffs.num_rows == 4 * kpis
    assert (swept / "sweep.csv").read_text().startswith('"fleet_riders","dispatch_policy","kpi"')
    manifest = json.loads((swept / "manifest.json").read_text())
    assert manifest["columns"] == {
        "fleet_riders": "fleet.riders",
        "dispatch_policy": "dispatch.policy",
    }
    assert manifest["kind"] == "sweep" and manifest["grid_points"] == 4
    assert manifest["replications"] == 3 and manifest["seed"] == 1
    assert sorted(manifest["files"]) == sorted(FILES)


def test_point_estimates_are_the_replications_aggregated(swept: Path) -> None:
    reps = pd.read_parquet(swept / "replications.parquet")
    points = pd.read_parquet(swept / "sweep.parquet").set_index(
        ["fleet_riders", "dispatch_policy", "kpi"]
    )
    kpi = "click_to_door_p95_min"  # a t interval (not a pooled share)
    means = reps[reps["kpi"] == kpi].groupby(["fleet_riders", "dispatch_policy"])["value"].mean()
    rows = points.xs(kpi, level="kpi")
    assert list(rows.index) == list(means.index)
    assert rows["mean"].to_numpy() == pytest.approx(means.to_numpy(), abs=1e-6)
    assert (rows["n"] == 3).all() and rows["method"].str.startswith("t").all()
    share = points.xs("sla_breach_click_to_door", level="kpi")
    assert share["method"].str.startswith("wilson").all()


def test_paired_differences_match_a_hand_computation(swept: Path) -> None:
    reps = pd.read_parquet(swept / "replications.parquet")
    reps["kpi"] = reps["kpi"].astype(str)
    value = reps.set_index(["fleet_riders", "dispatch_policy", "kpi", "replication"])["value"]
    diffs = pd.read_parquet(swept / "differences.parquet")
    diffs["kpi"] = diffs["kpi"].astype(str)
    checked = 0
    for row in diffs.to_dict(orient="records"):
        if row["kpi"] not in ("click_to_door_p95_min", "rider_utilisation", "late_share"):
            continue
        if row["axis"] == "fleet_riders":
            assert row["dispatch_policy"] == row["to_dispatch_policy"]
            assert (row["fleet_riders"], row["to_fleet_riders"]) == (30, 40)
        else:
            assert row["axis"] == "dispatch_policy"
            assert row["fleet_riders"] == row["to_fleet_riders"]
            assert (row["dispatch_policy"], row["to_dispatch_policy"]) == (
                "at_confirm",
                "just_in_time",
            )
        low = (row["fleet_riders"], row["dispatch_policy"], row["kpi"])
        high = (row["to_fleet_riders"], row["to_dispatch_policy"], row["kpi"])
        d = [value[(*high, r)] - value[(*low, r)] for r in range(3)]
        mean = sum(d) / 3
        sd = math.sqrt(sum((x - mean) ** 2 for x in d) / 2)
        half = float(sps.t.ppf(0.975, 2)) * sd / math.sqrt(3)
        assert row["mean"] == pytest.approx(mean, abs=1e-6)
        assert row["ci_low"] == pytest.approx(mean - half, abs=1e-6)
        assert row["ci_high"] == pytest.approx(mean + half, abs=1e-6)
        assert row["half_width"] == pytest.approx(half, abs=1e-6)
        assert row["n"] == 3
        assert row["significant"] == (row["ci_low"] > 0 or row["ci_high"] < 0)
        checked += 1
    assert checked == 3 * 4


def test_grid_points_share_each_replications_random_numbers(swept: Path) -> None:
    reps = pd.read_parquet(swept / "replications.parquet")
    placed = reps[reps["kpi"] == "orders_placed"].pivot_table(
        index="replication", columns=["fleet_riders", "dispatch_policy"], values="value"
    )
    assert placed.shape == (3, 4)
    # replication r places the same orders at every point; replications differ from each other
    assert (placed.nunique(axis=1) == 1).all()
    assert placed.iloc[:, 0].nunique() > 1
    diffs = pd.read_parquet(swept / "differences.parquet")
    same = diffs[diffs["kpi"] == "orders_placed"]
    assert (same["mean"] == 0).all() and (same["half_width"] == 0).all()
    assert not same["significant"].any()


def test_same_inputs_give_the_same_bytes_whatever_runs_them(swept: Path, tmp_path: Path) -> None:
    again = _sweep(tmp_path / "again", "--jobs", "2")
    for name in FILES:
        assert (swept / name).read_bytes() == (again / name).read_bytes(), name


def test_a_dask_cluster_writes_the_same_bytes(swept: Path, tmp_path: Path) -> None:
    remote = _sweep(tmp_path / "dask", "--dask", "local:1")
    for name in FILES:
        assert (swept / name).read_bytes() == (remote / name).read_bytes(), name


def test_dask_and_grid_mistakes_are_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["sweep", "baseline", "--vary", "fleet.riders=30,40", "--quiet"]
    assert main([*args, "--dask", "10.0.0.5:8786"]) == 2
    assert "--dask 10.0.0.5:8786: expected a scheduler address" in capsys.readouterr().err
    assert main([*args, "--dask", "localhost"]) == 2
    assert "expected local:N" in capsys.readouterr().err
    assert main([*args, "--dask", "local:0"]) == 2
    assert "local:N needs N >= 1" in capsys.readouterr().err

    def unreachable(jobs: int, dask: str | None = None) -> None:
        raise ExecutorError(f"--dask {dask}: cannot reach the scheduler: refused")

    monkeypatch.setattr("sim.sweep.executor_for", unreachable)
    out = tmp_path / "never"
    assert main([*args, "--dask", "tcp://127.0.0.1:9", "--out", str(out), *SMALL]) == 4
    assert "cannot reach the scheduler" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(ScenarioError, match="both become the column a_b_c"):
        axes_of(["a.b_c=1,2", "a_b.c=1,2"])
    with pytest.raises(ScenarioError, match="taken by the sweep tables"):
        axes_of(["kpi=1,2"])


def test_neighbours_are_consecutive_values_along_one_axis() -> None:
    axes = axes_of(["a.x=1,2,3", "b.y=p,q"])  # grid: (1,p) (1,q) (2,p) (2,q) (3,p) (3,q)
    assert [a.column for a in axes] == ["a_x", "b_y"]
    assert list(neighbours(axes)) == [
        (0, 0, 2),
        (0, 1, 3),
        (0, 2, 4),
        (0, 3, 5),
        (1, 0, 1),
        (1, 2, 3),
        (1, 4, 5),
    ]


def test_summary_prints_the_paired_differences_of_the_first_axis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["sweep", "baseline", "--vary", "fleet.riders=30,40", "-r", "2", "-j", "1", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "s"), *SMALL]) == 0
    out = capsys.readouterr().out
    assert "2 grid point(s):" in out
    assert "paired differences along fleet.riders (click_to_door_p95_min" in out
    line = next(x for x in out.splitlines() if "fleet.riders 30 -> 40" in x)
    assert line.endswith("significant") and "[" in line


def test_report_charts_and_tabulates_the_paired_differences(tmp_path: Path) -> None:
    run = tmp_path / "small"
    args = ["sweep", "baseline", "--vary", "fleet.riders=30,40", "-r", "2", "-j", "1", "--quiet"]
    assert main([*args, "--out", str(run)]) == 0
    w = analyse(open_run(run), [])
    assert w.parameters == ["fleet.riders"]
    assert list(w.table["fleet.riders"]) == [30, 40]
    assert "click_to_door_p95_min.ci_low" in w.table.columns  # the in-memory pivot
    result = build_report(run, tmp_path / "report", [])
    page = result.html.read_text()
    assert 'id="paired-differences"' in page and 'data-chart="paired_differences"' in page
    summary = json.loads(result.summary.read_text())
    p95 = next(d for d in summary["differences"] if d["kpi"] == "click_to_door_p95_min")
    assert (p95["axis"], p95["from"], p95["to"], p95["n"]) == ("fleet.riders", 30, 40, 2)
    significant = sum(d["significant"] for d in summary["differences"])
    assert page.count("<td><b>yes</b></td>") == significant
    assert (tmp_path / "report" / "differences.csv").is_file()


def test_an_old_wide_sweep_table_is_named_as_such(tmp_path: Path) -> None:
    run = tmp_path / "old"
    run.mkdir()
    manifest = {"kind": "sweep", "vary": ["fleet.riders=30,40"], "grid_points": 2}
    (run / "manifest.json").write_text(json.dumps(manifest))
    wide = pa.table(
        {
            "fleet.riders": [30, 40],
            "replications": [2, 2],
            "click_to_door_p95_min": [50.0, 48.0],
            "click_to_door_p95_min.ci_low": [45.0, 44.0],
            "click_to_door_p95_min.ci_high": [55.0, 52.0],
        }
    )
    pq.write_table(wide, run / "sweep.parquet")
    with pytest.raises(RunDirError, match=r"old/sweep.parquet: not a long sweep table"):
        build_report(run, tmp_path / "report", [])
