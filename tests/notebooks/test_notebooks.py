"""The notebooks are stored without outputs, take papermill parameters, and run end to end on
small parameters (a real sweep; a real load-test run directory)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd
import papermill as pm
import pytest

from tests.reports import real_runs

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = ["capacity_planning.ipynb", "loadtest_review.ipynb"]


def _run(name: str, executed: Path, **parameters: object) -> nbformat.NotebookNode:
    pm.execute_notebook(
        str(NOTEBOOKS / name),
        str(executed),
        parameters=parameters,
        kernel_name="python3",  # ipykernel's own kernel: the interpreter running the tests
        progress_bar=False,
        cwd=str(executed.parent),
    )
    return nbformat.read(executed, as_version=4)


def _text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            parts.append(o.get("text", "") or o.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


@pytest.mark.parametrize("name", NAMES)
def test_stored_without_outputs_and_parameterised(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), name
    assert "parameters" in code[0].metadata.get("tags", []), name
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_capacity_planning_picks_the_smallest_fleet(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    nb = _run(
        "capacity_planning.ipynb",
        tmp_path / "capacity.ipynb",
        riders="10:20:5",
        replications=2,
        out=str(sweep_dir),
        thresholds={"sla_breach_click_to_door": "avg < 80%"},
    )
    table = pd.read_parquet(sweep_dir / "sweep.parquet").sort_values("fleet.riders")
    meets = table[table["sla_breach_click_to_door"] < 0.8]
    text = _text(nb)
    if meets.empty:
        assert "No fleet in the sweep meets every threshold" in text
    else:
        confident = table[table["sla_breach_click_to_door.ci_high"] < 0.8]
        expected = int((confident if not confident.empty else meets)["fleet.riders"].iloc[0])
        assert f"Recommended fleet: {expected} riders" in text
    assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", [])), (
        "the KPI chart was not drawn"
    )


def test_loadtest_review_breaks_down_a_real_run(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    run = real_runs.load_run(tmp_path_factory)
    nb = _run("loadtest_review.ipynb", tmp_path / "review.ipynb", run_dir=str(run))
    requests = pd.read_parquet(run / "requests.parquet")
    text = _text(nb)
    assert f"{len(requests):,} requests" in text
    for phase in ("kitchen", "rider", "tracking"):
        assert phase in text
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["kind"] == "loadtest"


def test_loadtest_review_without_run_dir_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(pm.PapermillExecutionError, match="run_dir: set it to a load-test run"):
        _run("loadtest_review.ipynb", tmp_path / "review.ipynb")
