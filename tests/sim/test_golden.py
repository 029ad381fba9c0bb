"""Golden summaries: each shipped scenario, run with a fixed seed (and small overrides to keep it
fast), must reproduce its stored ``summary.json`` in ``tests/sim/golden/``.

The goldens were recorded with ``refunds.failure_rate=0`` and keep it, so that they stay the
same bytes across the change that gave refund outcomes a stream of their own (``refunds`` in
``sim/streams.py``, through the service's injected refund gateway); they no longer need it:
``test_invariants`` checks that failed refunds happen and do not depend on the service's draws.

A deliberate model change changes these numbers. Regenerate them, then review the diff:

    ORDERFLOW_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/sim/test_golden.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from orderflow.cli import main

GOLDEN = Path(__file__).parent / "golden"
NO_SERVICE_DRAWS = ["--set", "refunds.failure_rate=0"]
CASES: dict[str, list[str]] = {
    "baseline": ["-r", "2", *NO_SERVICE_DRAWS],
    "cancellations": ["-r", "2", *NO_SERVICE_DRAWS],
    "dinner_peak": [
        "-r",
        "2",
        *NO_SERVICE_DRAWS,
        "--set",
        "period.duration_h=1.5",
        "--set",
        "period.warmup_min=20",
        "--set",
        "period.cooldown_min=10",
        "--set",
        "demand.scale=0.1",
        "--set",
        "fleet.riders=250",
        "--set",
        "customers.count=4000",
        "--set",
        "vendors.count=80",
    ],
}


def close(actual: Any, expected: Any, where: str = "") -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and set(actual) == set(expected), where
        for key in expected:
            close(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            close(a, e, f"{where}[{i}]")
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, rel=1e-9, abs=1e-9), where
    else:
        assert actual == expected, where


@pytest.mark.parametrize("name", sorted(CASES))
def test_shipped_scenario_matches_its_golden_summary(name: str, tmp_path: Path) -> None:
    out = tmp_path / name
    assert main(["simulate", name, "--quiet", "--jobs", "1", "--out", str(out), *CASES[name]]) == 0
    summary = json.loads((out / "summary.json").read_text())
    golden = GOLDEN / f"{name}.summary.json"
    if os.environ.get("ORDERFLOW_REGEN_GOLDEN"):
        golden.write_text((out / "summary.json").read_text())
    assert golden.is_file(), f"no golden file {golden}; see this module's docstring"
    close(summary, json.loads(golden.read_text()), name)


def test_every_headline_kpi_is_one_the_simulation_reports() -> None:
    """The simulate table, the simulation report and the sweep charts show ``HEADLINE``: a name
    there that no summary holds would leave an empty row or panel without an error."""
    from sim.kpis import HEADLINE_KPIS

    for name in CASES:
        kpis = json.loads((GOLDEN / f"{name}.summary.json").read_text())["kpis"]
        assert set(HEADLINE_KPIS) <= set(kpis), name
