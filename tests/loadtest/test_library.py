"""The journeys run with Locust used as a library (``locust.env.Environment``), not the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.loadtest.conftest import REPO, Server, env
from tests.loadtest.rundir import read_run
from tests.loadtest.test_journeys import EVERY_PATH


def test_environment_runs_the_schedule(server: Server, tmp_path: Path) -> None:
    out = tmp_path / "lib"
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("library_run.py")), server.url, str(out),
         "--scenario", EVERY_PATH, "--speedup", "600", "--duration", "2", "--seed", "5",
         "--background", "0"],
        cwd=REPO, env=env(), capture_output=True, text=True, timeout=150,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = read_run(out, locust_csv=False)
    j = run.journeys
    assert len(j) == run.manifest["counts"]["planned_journeys"] > 5
    assert (j["outcome"] == "ok").all(), j[j["outcome"] != "ok"].to_string()
    assert "load run finished" in proc.stderr
