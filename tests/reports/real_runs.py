"""Small real runs shared by the report and notebook tests: one simulation, one sweep, and one
load test replaying the simulation's timeline against ``orderflow serve`` on a free port. Made
once per test session (cached here, so the notebook tests reuse the report tests' runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orderflow import runs

_CACHE: dict[str, Path] = {}


def _root(factory: pytest.TempPathFactory) -> Path:
    if "root" not in _CACHE:
        _CACHE["root"] = factory.mktemp("real-runs")
    return _CACHE["root"]


def sim_run(factory: pytest.TempPathFactory) -> Path:
    if "sim" not in _CACHE:
        _CACHE["sim"] = runs.simulate(_root(factory) / "sim", replications=2)
    return _CACHE["sim"]


def sweep_run(factory: pytest.TempPathFactory) -> Path:
    if "sweep" not in _CACHE:
        _CACHE["sweep"] = runs.sweep(_root(factory) / "sweep", "fleet.riders=10:20:5")
    return _CACHE["sweep"]


def load_run(factory: pytest.TempPathFactory) -> Path:
    if "load" not in _CACHE:
        sim = sim_run(factory)
        with runs.served(_root(factory) / "server.db") as url:
            _CACHE["load"] = runs.loadtest(
                url, _root(factory) / "load", sim, speedup=300, duration=8, quiet=True, check=True
            )
    return _CACHE["load"]
