"""`orderflow compare` on real runs: load tests against a real `orderflow serve` (one of them
through a proxy that slows GET /api/orders/{id}/ by 100 ms), and small simulations of the
baseline scenario; the same seed passes, a slowed endpoint or fewer riders fail with exit 3
naming what regressed, bad input exits 1 or 2 with a message saying what is wrong.

The three load runs go at the same time against one server, so they share whatever else the
machine is doing: a bootstrap interval covers the sampling noise within a run, not a machine
that got busier between two runs (see docs/reports.md)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from loadtest import hdr
from orderflow.cli import main
from orderflow.served import stop_process
from reference_api.endpoints import ENDPOINTS
from reports.bootstrap import QuantileSample
from reports.compare_spec import parse_regression
from scenarios.thresholds import ThresholdError
from tests.loadtest.conftest import loadtest, start_server
from tests.reports.slow_proxy import slow_proxy

SLOWED = "GET /api/orders/[id]/"
#: GET /api/orders/{uuid}/ and nothing else (not /api/orders/available/, not .../eta/).
ORDER_PATH = r"/api/orders/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/"
DELAY_S = 0.1
LOAD = ["baseline", "--speedup", "600", "--duration", "3", "--seed", "5", "--background", "0.3"]
SMALL_SIM = ["--set", "period.duration_h=1", "--set", "period.cooldown_min=5"]


@dataclass(frozen=True)
class LoadRuns:
    baseline: Path
    same: Path  # same seed, same server, at the same time
    slowed: Path  # same seed, through the slowing proxy
    delayed: int  # requests the proxy held back


@pytest.fixture(scope="module")
def load_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadRuns]:
    root = tmp_path_factory.mktemp("compare-load")
    server = start_server(root / "orderflow.db")
    try:
        with slow_proxy(server.url, "GET", ORDER_PATH, DELAY_S) as proxy:
            outs = {name: root / name for name in ("baseline", "same", "slowed")}
            hosts = {"baseline": server.url, "same": server.url, "slowed": proxy.url}
            with ThreadPoolExecutor(3) as pool:
                done = {
                    name: pool.submit(loadtest, [*LOAD, "--host", hosts[name], "--out", str(out)])
                    for name, out in outs.items()
                }
                for name, future in done.items():
                    proc = future.result()
                    assert proc.returncode == 0, f"{name}: {proc.stdout}{proc.stderr}"
            yield LoadRuns(outs["baseline"], outs["same"], outs["slowed"], proxy.delayed)
    finally:
        stop_process(server.proc)


@dataclass(frozen=True)
class SimRuns:
    baseline: Path
    same: Path  # the same scenario and seed
    fewer_riders: Path  # the same seed, fleet.riders=12
    other_seed: Path  # the same scenario, seed 4


@pytest.fixture(scope="module")
def sim_runs(tmp_path_factory: pytest.TempPathFactory) -> SimRuns:
    root = tmp_path_factory.mktemp("compare-sim")
    common = ["simulate", "baseline", "-r", "3", "--jobs", "1", "--quiet", *SMALL_SIM]
    runs = {
        "baseline": ["--seed", "3"],
        "same": ["--seed", "3"],
        "fewer_riders": ["--seed", "3", "--set", "fleet.riders=12"],
        "other_seed": ["--seed", "4"],
    }
    for name, extra in runs.items():
        assert main([*common, *extra, "--out", str(root / name)]) == 0, name
    return SimRuns(*(root / name for name in runs))


def compare(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main(["compare", *(str(a) for a in args)])
    out, err = capsys.readouterr()
    return code, out, err


def read(path: Path) -> dict[str, object]:
    data = json.loads((path / "compare.json").read_text())
    assert isinstance(data, dict)
    return data


def rows(path: Path) -> dict[tuple[str, str], dict[str, object]]:
    data = read(path)
    assert isinstance(data["rows"], list)
    return {(str(r["name"]), str(r["metric"])): r for r in data["rows"]}


# (a) the same seed, no regression even with a tight tolerance


def test_same_seed_load_runs_pass_a_tight_tolerance(
    load_runs: LoadRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = compare(
        capsys, load_runs.baseline, load_runs.same,
        "--max-regression", f"{SLOWED}=p95 10%", "--max-regression", "errors=rate +1pp",
        "--max-regression", "journeys=rate +1pp",
    )  # fmt: skip
    assert code == 0, out + err
    assert "PASS: no regression beyond tolerance (3 row(s) judged)" in out
    assert "NOT JUDGED" not in out
    assert f"{SLOWED} service p95" in out and "bootstrap by journey" in out
    dest = load_runs.same / "compare"  # the default --out
    assert {p.name for p in dest.iterdir()} == {"compare.json", "compare.csv", "compare.html"}
    data = read(dest)
    assert data["passed"] is True and data["regressions"] == []
    table = rows(dest)
    checked = table[(SLOWED, "service p95")]
    assert checked["tolerance"] == f"{SLOWED}=p95 10%"
    assert checked["verdict"] != "regression"
    low, high = checked["ci_low"], checked["ci_high"]
    assert isinstance(low, float) and isinstance(high, float) and low <= high
    for key in (("requests", "error rate"), ("journeys", "failed share")):
        assert table[key]["baseline"] == 0 and table[key]["candidate"] == 0
    csv = (dest / "compare.csv").read_text().splitlines()
    assert csv[0].startswith("name,metric,unit,baseline,candidate,difference,ci_low,ci_high")
    assert len(csv) == len(table) + 1
    page = (dest / "compare.html").read_text()
    assert "PASS: no regression beyond tolerance" in page and "<svg" in page
    assert "<script" not in page


# (b) a slowed endpoint fails, an endpoint that was not slowed does not


def test_a_slowed_endpoint_fails_with_exit_3_naming_it(
    load_runs: LoadRuns, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert load_runs.delayed > 50  # the proxy did hold requests back
    code, out, err = compare(
        capsys, load_runs.baseline, load_runs.slowed, "--max-regression", "*=p95 +40ms",
        "--out", tmp_path,
    )  # fmt: skip
    assert code == 3, out + err
    assert f"regression: {SLOWED} service p95: baseline " in out
    assert "(--max-regression '*=p95 +40ms')" in out and "FAIL: 1 regression(s)" in out
    data = read(tmp_path)
    assert data["passed"] is False
    assert data["regressions"] == [f"{SLOWED} service p95"]
    table = rows(tmp_path)
    slowed = table[(SLOWED, "service p95")]
    assert isinstance(slowed["ci_low"], float) and slowed["ci_low"] > 40.0
    # the ETA of the same order, and the list of available orders, went through unslowed
    for name in ("GET /api/orders/[id]/eta/", "GET /api/orders/available/"):
        row = table[(name, "service p95")]
        assert row["tolerance"] == "*=p95 +40ms" and row["verdict"] != "regression", row
    assert "FAIL: 1 regression(s) beyond tolerance" in (tmp_path / "compare.html").read_text()


def test_an_exact_name_overrides_the_wildcard(
    load_runs: LoadRuns, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = compare(
        capsys, load_runs.baseline, load_runs.slowed, "--max-regression", "*=p95 +40ms",
        "--max-regression", f"{SLOWED}=p95 +1s", "--out", tmp_path,
    )  # fmt: skip
    assert code == 0, out
    assert rows(tmp_path)[(SLOWED, "service p95")]["tolerance"] == f"{SLOWED}=p95 +1s"


# (e) the point values are the run's HdrHistogram percentiles


def test_point_values_are_the_runs_hdr_percentiles(
    load_runs: LoadRuns, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = compare(capsys, load_runs.baseline, load_runs.same, "--out", tmp_path)
    assert code == 0, out
    table = rows(tmp_path)
    h = hdr.from_tables(pq.read_table(load_runs.baseline / "requests.parquet"))
    summary = json.loads((load_runs.baseline / "summary.json").read_text())
    checked = 0
    for endpoint in [*h.endpoints(), hdr.ALL]:
        name = "requests" if endpoint == hdr.ALL else endpoint
        block = summary["overall"] if endpoint == hdr.ALL else summary["by_endpoint"][endpoint]
        for measure, column in (("service", "service_ms"), ("latency", "corrected_ms")):
            expected = h.block(endpoint)[column]
            for p in ("p50", "p90", "p95", "p99"):
                assert table[(name, f"{measure} {p}")]["baseline"] == expected[p], (name, p)
                assert block[column][p] == expected[p], (name, p)  # summary.json: the same
                checked += 1
    assert checked >= 8 * 5


def test_every_weight_one_gives_the_point_value(
    load_runs: LoadRuns,
) -> None:
    table = pq.read_table(load_runs.baseline / "requests.parquet").to_pandas()
    ms = ((table["end_ts"] - table["intended_ts"]) * 1000.0).to_numpy(np.float64)
    ids, cluster = np.unique(table["journey_id"].astype(str), return_inverse=True)
    q = QuantileSample.build(ms, cluster.astype(np.int64), ids.size)
    ps = (50.0, 90.0, 95.0, 99.0, 99.9)
    ones = q.resampled(np.ones((1, ids.size)), ps)[:, 0]
    assert list(ones) == [hdr.percentile_ms(hdr.quantize_ms(ms), p) for p in ps]
    assert list(ones) == [q.point(p) for p in ps]


def test_same_runs_and_seed_give_the_same_bytes(
    load_runs: LoadRuns, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    outs = [tmp_path / "one", tmp_path / "two", tmp_path / "seed"]
    for out, seed in zip(outs, ("1", "1", "2"), strict=True):
        code, text, _ = compare(
            capsys, load_runs.baseline, load_runs.slowed, "--resamples", "500", "--seed", seed,
            "--out", out,
        )  # fmt: skip
        assert code == 0, text
    for name in ("compare.json", "compare.csv", "compare.html"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    one, other = rows(outs[0]), rows(outs[2])
    key = (SLOWED, "service p95")
    assert one[key]["baseline"] == other[key]["baseline"]  # points do not depend on the seed
    assert (one[key]["ci_low"], one[key]["ci_high"]) != (
        other[key]["ci_low"],
        other[key]["ci_high"],
    )


# (c) simulation runs: paired differences with the same seed


def test_same_seed_simulations_have_zero_paired_differences(
    sim_runs: SimRuns, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = compare(
        capsys, sim_runs.baseline, sim_runs.same, "--max-regression", "click_to_door_p95_min=+5%",
        "--max-regression", "delivered_share=rate 1pp", "--out", tmp_path,
    )  # fmt: skip
    assert code == 0, out + err
    assert "paired t interval over the 3 replications" in out
    data = read(tmp_path)
    assert str(data["method"]).startswith("paired t interval")
    table = rows(tmp_path)
    assert len(table) > 50
    compared = 0
    for key, row in table.items():
        if row["difference"] is not None:
            assert row["difference"] == 0, key
        if row["ci_low"] is not None:  # two or more replications with a value
            assert row["ci_low"] == 0 and row["ci_high"] == 0, key
            assert row["verdict"] == "no change", key
            compared += 1
    assert compared > 50
    assert table[("click_to_door_p95_min", "")]["tolerance"] == "click_to_door_p95_min=+5%"
    assert (tmp_path / "compare.html").read_text().count("<svg") == 1


def test_fewer_riders_is_a_kpi_regression(
    sim_runs: SimRuns, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = compare(
        capsys, sim_runs.baseline, sim_runs.fewer_riders,
        "--max-regression", "click_to_door=p95 +5%", "--max-regression", "delivered_share=rate 1pp",
        "--max-regression", "orders_in_window=+50%", "--out", tmp_path,
    )  # fmt: skip
    assert code == 3, out + err
    assert "regression: click_to_door_p95_min: baseline " in out
    assert "regression: delivered_share: baseline " in out  # lower is worse for this one
    assert "the runs differ in overrides" in out
    data = read(tmp_path)
    assert sorted(data["regressions"]) == ["click_to_door_p95_min", "delivered_share"]  # type: ignore[arg-type]
    table = rows(tmp_path)
    share = table[("delivered_share", "")]
    assert isinstance(share["ci_high"], float) and share["ci_high"] < -0.01
    assert share["limit"] == -0.01
    assert table[("orders_in_window", "")]["verdict"] == "no change"  # the same demand


def test_different_seeds_use_welch(
    sim_runs: SimRuns, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = compare(capsys, sim_runs.baseline, sim_runs.other_seed, "--out", tmp_path)
    assert code == 0, out
    assert (
        "Welch t interval on the replication means: the runs used different seeds (3 and 4)" in out
    )
    row = rows(tmp_path)[("orders_in_window", "")]
    assert row["difference"] != 0 and isinstance(row["ci_low"], float)


# (d) bad input and usage


def test_runs_of_different_kinds_are_bad_input(
    load_runs: LoadRuns, sim_runs: SimRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = compare(capsys, sim_runs.baseline, load_runs.baseline)
    assert code == 1
    assert (
        f"{sim_runs.baseline} is a simulation run and {load_runs.baseline} a load-test run" in err
    )
    assert "Traceback" not in err


def test_a_directory_that_is_not_a_run_or_a_sweep_is_bad_input(
    sim_runs: SimRuns, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = compare(capsys, tmp_path, sim_runs.baseline)
    assert code == 1 and f"run directory {tmp_path} has no manifest.json" in err
    code, _, err = compare(capsys, sim_runs.baseline, tmp_path / "nowhere")
    assert code == 1 and "does not exist" in err
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "manifest.json").write_text(json.dumps({"kind": "sweep"}))
    code, _, err = compare(capsys, sim_runs.baseline, sweep)
    assert code == 1
    assert f"{sweep} is a sweep run; compare takes two simulate or two load-test runs" in err


def test_a_missing_table_names_the_directory_and_the_table(
    load_runs: LoadRuns, sim_runs: SimRuns, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = tmp_path / "load"
    shutil.copytree(load_runs.same, broken, ignore=shutil.ignore_patterns("compare"))
    (broken / "ws_events.parquet").unlink()
    code, _, err = compare(capsys, load_runs.baseline, broken)
    assert code == 1 and f"run directory {broken} has no ws_events.parquet" in err
    sim = tmp_path / "sim"
    shutil.copytree(sim_runs.same, sim, ignore=shutil.ignore_patterns("compare"))
    (sim / "replications.parquet").unlink()
    code, _, err = compare(capsys, sim_runs.baseline, sim)
    assert code == 1 and f"run directory {sim} has no replications.parquet" in err


def test_specs_naming_nothing_the_runs_have_are_bad_input(
    load_runs: LoadRuns, sim_runs: SimRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    called = {
        str(e)
        for run in (load_runs.baseline, load_runs.same)
        for e in pq.read_table(run / "requests.parquet", columns=["endpoint"]).column(0).to_pylist()
    }
    uncalled = next(e.name for e in ENDPOINTS.values() if e.name not in called)
    code, _, err = compare(
        capsys, load_runs.baseline, load_runs.same, "--max-regression", f"{uncalled}=p95 10%"
    )
    assert code == 1
    assert f"neither run has requests to endpoint {uncalled!r}" in err
    code, _, err = compare(
        capsys, load_runs.baseline, load_runs.same, "--max-regression", "GET /nope/=p95 10%"
    )
    assert code == 1 and "unknown metric 'GET /nope/'" in err
    code, _, err = compare(
        capsys, load_runs.baseline, load_runs.same, "--max-regression", "click_to_door_p95_min=+5%"
    )
    assert code == 1 and "unknown metric 'click_to_door_p95_min'" in err
    code, _, err = compare(capsys, load_runs.baseline, load_runs.same, "--max-regression", "*=+5%")
    assert code == 1 and "a load-test metric needs an aggregation" in err
    code, _, err = compare(
        capsys, sim_runs.baseline, sim_runs.same, "--max-regression", "click_to_doorr_p95_min=+5%"
    )
    assert code == 1 and "neither run has a KPI 'click_to_doorr_p95_min'" in err
    code, _, err = compare(
        capsys, sim_runs.baseline, sim_runs.same, "--max-regression", f"{SLOWED}=p95 10%"
    )
    assert code == 1 and "is a load-test metric; these are simulation runs" in err


def test_malformed_specs_and_bad_options(
    sim_runs: SimRuns, capsys: pytest.CaptureFixture[str]
) -> None:
    base, same = sim_runs.baseline, sim_runs.same
    cases = {
        f"{SLOWED}=p95 < 300ms": "not a limit on its value",
        "click_to_door_p95_min": "expected NAME=[service|latency] [AGGREGATION] TOLERANCE",
        "click_to_door_p95_min=+5 furlongs": "expected NAME=",
        "delivered_share=rate +1pp": "a lower delivered_share is worse, so its tolerance says "
        "how far it may fall: write '-1pp' or '1pp'",
        "rider_utilisation=5pp": "rider_utilisation is neither better higher nor lower",
        "click_to_door_p95_min=+5": "is a duration; give the tolerance a unit",
        "click_to_door_p95_min=+5pp": "'pp' (percentage points) is for rates and shares",
        "cancelled=+2ms": "cancelled is not a duration",
    }
    for spec, message in cases.items():
        code, _, err = compare(capsys, base, same, "--max-regression", spec)
        assert code == 1, spec
        assert f"--max-regression {spec!r}: " in err and message in err, (spec, err)
    code, _, err = compare(capsys, base, same, "--resamples", "10")
    assert code == 2 and "--resamples: must be >= 100 (got 10)" in err
    code, _, err = compare(capsys, base, same, "--confidence", "1.5")
    assert code == 2 and "--confidence: must lie strictly between 0 and 1" in err
    with pytest.raises(SystemExit) as exc:
        main(["compare", str(base)])
    assert exc.value.code == 2


def test_the_grammar() -> None:
    s = parse_regression("GET /api/orders/[id]/=latency p99.9 +10%")
    assert (s.name, s.measure, s.aggregation, s.sign, s.amount, s.unit) == (
        "GET /api/orders/[id]/", "latency", "p99.9", 1, 10.0, "%",
    )  # fmt: skip
    s = parse_regression("errors=rate 1pp")
    assert (s.aggregation, s.sign, s.amount, s.unit, s.tolerance) == ("rate", 0, 1.0, "pp", "1pp")
    assert parse_regression("click_to_door=med -2min").aggregation == "p50"
    assert parse_regression("x=+5%").aggregation is None
    for bad, message in (
        ("x=p0 5%", "percentile 'p0' must lie between p0 and p100"),
        ("x=latency rate 1pp", "'latency' chooses the duration a percentile reads"),
        ("x=rate 5ms", "'rate' is a fraction"),
        ("x=p95 5pp", "a percentile is a duration"),
        ("=p95 5%", "expected NAME="),
    ):
        with pytest.raises(ThresholdError, match=message):
            parse_regression(bad)


def test_rows_without_an_interval_are_said_not_judged(
    load_runs: LoadRuns, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gate that could not look (too few journeys for an interval) is printed as not judged,
    never counted among the rows that passed."""
    import reports.compare_load as compare_load

    monkeypatch.setattr(compare_load, "MIN_JOURNEYS", 10**9)
    code, out, err = compare(
        capsys, load_runs.baseline, load_runs.same, "--max-regression", f"{SLOWED}=p95 10%"
    )
    assert code == 0, out + err
    assert "(0 row(s) judged)" in out
    assert "NOT JUDGED: 1 checked row(s) with no interval" in out and SLOWED in out
