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


def test_capacity_planning_runs_the_plan_and_records_its_answer(tmp_path: Path) -> None:
    plan_dir = tmp_path / "plan"
    nb = _run(
        "capacity_planning.ipynb",
        tmp_path / "capacity.ipynb",
        sla=["wait_for_rider=avg < 2min"],
        vary="fleet.riders=10:60",
        replications=3,
        max_replications=8,
        out=str(plan_dir),
    )
    plan = json.loads((plan_dir / "plan.json").read_text())
    answer = [
        o["data"]["application/json"]
        for c in nb.cells
        if "recommendation" in c.metadata.get("tags", [])
        for o in c.get("outputs", [])
        if "application/json" in o.get("data", {})
    ]
    assert answer == [{"recommended": plan["recommended"], "met": plan["met"], "confidence": 0.95}]
    text = _text(nb)
    if plan["met"]:
        value = plan["recommended"]["fleet.riders"]
        assert f"Recommended: fleet.riders = {value}" in text
        tidy = pd.read_parquet(plan_dir / "candidates.parquet")
        assert value in set(tidy["fleet_riders"])
    else:
        assert "No setting in 10..60 meets every target" in text
    assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", [])), (
        "the evidence chart was not drawn"
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
    # its percentiles are the run's own (summary.json's HdrHistograms), not another definition
    summary = json.loads((run / "summary.json").read_text())
    busiest = requests["endpoint"].value_counts().index[0]
    p95 = summary["by_endpoint"][busiest]["service_ms"]["p95"]
    html = "\n".join(
        o.get("data", {}).get("text/html", "") for c in nb.cells for o in c.get("outputs", [])
    )  # the whole table (the plain-text view elides columns)
    row = html[html.index(f"<th>{busiest}</th>") :].split("</tr>", 1)[0]
    assert f"<td>{round(p95, 2):.2f}</td>" in row, (busiest, p95, row)


def test_loadtest_review_without_run_dir_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(pm.PapermillExecutionError, match="run_dir: set it to a load-test run"):
        _run("loadtest_review.ipynb", tmp_path / "review.ipynb")
