"""`locust -f loadtest/locustfile.py` with its web UI: the load shape drives the test (no user
count to type in), statistics are grouped by endpoint template, and the run directory is
written when the shape ends the test."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from orderflow.served import stop_process
from tests.loadtest.conftest import REPO, Server, env
from tests.loadtest.rundir import read_run
from tests.loadtest.test_journeys import EVERY_PATH


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_web_ui_runs_the_schedule(server: Server, tmp_path: Path) -> None:
    port, out = _free_port(), tmp_path / "webui"
    proc = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", str(REPO / "loadtest" / "locustfile.py"),
         "--host", server.url, "--web-host", "127.0.0.1", "--web-port", str(port),
         "--autostart", "--autoquit", "1", "--scenario", EVERY_PATH, "--speedup", "600",
         "--duration", "2", "--seed", "11", "--background", "0", "--out", str(out)],
        cwd=REPO, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        seen: set[str] = set()
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            try:
                stats = httpx.get(f"http://127.0.0.1:{port}/stats/requests", timeout=2).json()
            except (httpx.HTTPError, ValueError):
                time.sleep(0.3)
                continue
            seen |= {row["name"] for row in stats.get("stats", [])}
            if stats.get("state") == "stopped" and seen:
                break
            time.sleep(0.3)
        assert "POST /api/orders/" in seen and "POST /api/restaurants/orders/[id]/confirm/" in seen
        output, _ = proc.communicate(timeout=60)
    finally:
        stop_process(proc)
    assert proc.returncode in (0, 1), output
    run = read_run(out, locust_csv=False)
    assert len(run.journeys) == run.manifest["counts"]["planned_journeys"]
    assert (run.journeys["outcome"] == "ok").all()
