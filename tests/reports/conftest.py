from __future__ import annotations

from pathlib import Path

import pytest

from reports.build import ReportResult, build_report
from tests.reports import real_runs


@pytest.fixture(scope="session")
def sim_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return real_runs.sim_run(tmp_path_factory)


@pytest.fixture(scope="session")
def sweep_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return real_runs.sweep_run(tmp_path_factory)


@pytest.fixture(scope="session")
def load_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return real_runs.load_run(tmp_path_factory)


@pytest.fixture(scope="session")
def built(
    sim_run: Path, load_run: Path, sweep_run: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, ReportResult]:
    """Each real run's report with the default options, built once for the tests that only read."""
    out = tmp_path_factory.mktemp("reports")
    return {r.name: build_report(r, out / r.name) for r in (sim_run, load_run, sweep_run)}
