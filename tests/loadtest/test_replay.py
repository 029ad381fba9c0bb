"""Replaying a small simulation timeline reproduces its request mix per endpoint."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.loadtest.conftest import REPO, Server, env, loadtest
from tests.loadtest.rundir import read_run

SPEEDUP, DURATION = 1200.0, 5.0


def test_trace_replay_reproduces_the_request_mix(server: Server, tmp_path: Path) -> None:
    sim_dir = tmp_path / "sim"
    sim = subprocess.run(
        [sys.executable, "-m", "orderflow", "simulate", "baseline", "--replications", "1",
         "--quiet", "--set", "fleet.riders=30", "--out", str(sim_dir)],
        cwd=REPO, env=env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert sim.returncode == 0, sim.stderr
    out = tmp_path / "replay"
    proc = loadtest(
        ["--trace", str(sim_dir), "--host", server.url, "--speedup", str(SPEEDUP),
         "--duration", str(DURATION), "--out", str(out)]
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = read_run(out)
    assert run.manifest["trace"] == str(sim_dir)
    failed = run.journeys[run.journeys["outcome"] != "ok"]
    assert failed.empty, failed[["kind", "failure_reason"]].to_string()

    timeline = pd.read_parquet(sim_dir / "timeline.parquet")
    timeline = timeline[
        (timeline["replication"] == 0) & (timeline["arrival_s"] < SPEEDUP * DURATION)
    ]
    want = timeline["endpoint"].astype(str).value_counts()
    want = want[want > 0]
    got = run.requests["endpoint"].value_counts()
    assert len(timeline) > 500  # a meaningful mix
    for endpoint, n in want.items():
        assert abs(got.get(endpoint, 0) - n) <= max(1, 0.05 * n), (endpoint, n, got.get(endpoint))
    extra = got[~got.index.isin(want.index)].sum()  # e.g. reading the order to find its rider
    assert extra <= 0.05 * len(timeline)
    # the planned schedule is the timeline's, call for call
    assert len(run.planned) == len(timeline)
