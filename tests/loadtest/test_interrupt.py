"""Ctrl-C in the middle of a run leaves a complete, readable run directory."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from tests.loadtest.conftest import REPO, Server, env
from tests.loadtest.rundir import read_run
from tests.loadtest.test_journeys import EVERY_PATH


def test_sigint_leaves_a_complete_run_dir(server: Server, tmp_path: Path) -> None:
    out = tmp_path / "interrupted"
    proc = subprocess.Popen(
        [sys.executable, "-m", "orderflow", "loadtest", EVERY_PATH, "--host", server.url,
         "--speedup", "60", "--duration", "120", "--background", "0.2", "--out", str(out)],
        cwd=REPO, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not list((out / "parts").glob("requests.*.parquet")):
            time.sleep(0.2)
        assert list((out / "parts").glob("requests.*.parquet")), "no requests before the deadline"
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr
    assert "interrupted" in stderr
    run = read_run(out)
    assert run.manifest["interrupted"] is True and run.manifest["complete"] is True
    assert len(run.requests) > 0
    assert "unfinished" in set(run.journeys["outcome"])
    assert len(run.journeys) < run.manifest["counts"]["planned_journeys"]


def test_killed_cli_leaves_no_load_generator_running(server: Server, tmp_path: Path) -> None:
    out = tmp_path / "orphaned"
    proc = subprocess.Popen(
        [sys.executable, "-m", "orderflow", "loadtest", EVERY_PATH, "--host", server.url,
         "--speedup", "60", "--duration", "120", "--out", str(out)],
        cwd=REPO, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    children: list[psutil.Process] = []
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not (out / "locust.log").exists():
            time.sleep(0.2)
        time.sleep(2.0)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children, "no Locust process was started"
        proc.kill()  # SIGKILL: no chance to forward anything
        proc.wait(10)
        _, alive = psutil.wait_procs(children, timeout=30)
        assert not alive, f"still running after the CLI died: {[p.pid for p in alive]}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for child in children:  # only what this test started
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
    assert json.loads((out / "manifest.json").read_text())["kind"] == "loadtest"
