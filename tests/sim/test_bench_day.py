"""``benchmarks/bench_sim.py`` measures the model on a day of its own making; these tests hold that
day to what its documentation says, so the speed figures describe the path planners simulate:
the dense day's riders can carry its orders (most are delivered, riders are busy but not
saturated), while the older dinner day at the same counts is overloaded (most orders wait out
the pickup timeout)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pyarrow as pa
import pytest

from sim.model import Model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_sim", ROOT / "benchmarks" / "bench_sim.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_sim"] = module
    spec.loader.exec_module(module)
    return module


def shares(bench: ModuleType, day: str, orders: int) -> tuple[dict[str, float], float]:
    result = Model(bench.DAYS[day](orders), 1, 0).run()
    status = result.recorder.orders().column("final_status").to_pylist()
    counts = {s: status.count(s) / len(status) for s in set(status)}
    u = result.utilisation
    return counts, u["rider_busy_s"] / u["rider_on_s"]


def test_the_dense_day_is_served_by_its_riders(bench: ModuleType) -> None:
    s = bench.dense_day(10_000)
    assert s.fleet.riders == 50  # 5,000 riders per 1M orders, as issue 4 sets
    assert s.vendors.count == 25
    counts, busy = shares(bench, "dense", 10_000)
    assert counts["DELIVERED"] > 0.9
    assert 0.45 < busy < 0.85


def test_the_dinner_day_is_overloaded_at_the_same_counts(bench: ModuleType) -> None:
    counts, busy = shares(bench, "dinner", 10_000)
    assert counts.get("DELIVERED", 0.0) < 0.2
    assert busy > 0.97


def test_outcome_mix_names_every_status_largest_first(bench: ModuleType) -> None:
    col = pa.chunked_array([pa.array(["DELIVERED", "CANCELLED", "DELIVERED", "DELIVERED"])])
    assert bench.outcome_mix(col) == "delivered 75.0 %, cancelled 25.0 %"
