"""Distributed runs on machines that share no disk: a master and two workers, each worker in its
own mount namespace with a fresh tmpfs over every path the master reads or writes, against a
real `orderflow serve`. The master's run directory must hold every request of both workers,
exactly once, as a single-process run of the same schedule does; a worker killed mid-run gives
an incomplete but readable run directory and exit 4."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import psutil
import pyarrow.parquet as pq
import pytest

from loadtest.hdr import from_tables
from loadtest.launcher import LOCUSTFILE, free_port
from tests.loadtest.conftest import REPO, Server, env, loadtest
from tests.loadtest.rundir import read_run
from tests.loadtest.test_journeys import EVERY_PATH

SCHEDULE = ["--speedup", "600", "--duration", "3", "--seed", "3", "--background", "0"]


def _unshare_prefix() -> list[str] | None:
    """``unshare --mount`` as root, or in a user namespace where that is allowed."""
    if not shutil.which("unshare"):
        return None
    for prefix in (["unshare", "--mount"], ["unshare", "--user", "--map-root-user", "--mount"]):
        probe = subprocess.run([*prefix, "true"], capture_output=True)
        if probe.returncode == 0:
            return prefix
    return None


UNSHARE = _unshare_prefix()


def planned_calls(requests: pd.DataFrame) -> Counter[tuple[str, str]]:
    planned = requests[requests["planned"]]
    return Counter(zip(planned["journey_id"], planned["endpoint"], strict=True))


@pytest.mark.skipif(UNSHARE is None, reason="needs unshare --mount (root or user namespaces)")
def test_workers_in_their_own_mount_namespaces_send_every_row_to_the_master(
    server: Server, tmp_path: Path
) -> None:
    assert UNSHARE is not None
    master_dir = tmp_path / "master"  # every path the master reads or writes is under here
    master_dir.mkdir()
    scenario = master_dir / "every_path.toml"
    shutil.copy(EVERY_PATH, scenario)
    out = master_dir / "run"
    port = free_port()
    master = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", server.url,
         "--master", "--headless", "--only-summary", "--expect-workers", "2",
         "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
         "--csv", str(out / "locust"), "--scenario", str(scenario), "--out", str(out),
         *SCHEDULE],
        cwd=master_dir, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    workers = []
    for i in range(2):
        work = tmp_path / f"worker{i}"
        work.mkdir()
        # The tmpfs hides the master's directory; what the worker wrote there (it should write
        # nothing) is listed before the namespace, and the tmpfs with it, goes away.
        script = (
            f"mount -t tmpfs tmpfs {master_dir} && cd {work} && "
            f"{sys.executable} -m locust -f {LOCUSTFILE} --worker --master-host 127.0.0.1 "
            f"--master-port {port}; rc=$?; find {master_dir} -mindepth 1 > {work}/leaked.txt; "
            "exit $rc"
        )
        cmd = [*UNSHARE, "sh", "-c", script]
        workers.append(
            subprocess.Popen(
                cmd,
                cwd=work,
                env=env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    try:
        master_log, _ = master.communicate(timeout=120)
        worker_logs = [w.communicate(timeout=30)[0] for w in workers]
    finally:
        for p in (master, *workers):
            if p.poll() is None:
                p.kill()
    assert master.returncode == 0, master_log
    for i, w in enumerate(workers):
        assert w.returncode == 0, worker_logs[i]
        assert (tmp_path / f"worker{i}" / "leaked.txt").read_text() == "", "a worker wrote to disk"
        assert not any((tmp_path / f"worker{i}").rglob("*.parquet"))

    run = read_run(out)
    assert run.manifest["workers"] == 2 and run.manifest["complete"] is True
    assert run.manifest["lost_workers"] == [] and run.manifest["transport"]["mismatched"] == []
    received = run.manifest["transport"]["rows_received"]
    assert set(received) == {"0", "1"}
    assert sum(c["requests"] for c in received.values()) == len(run.requests)
    j = run.journeys
    assert set(j["worker"]) == {0, 1}
    assert not j["journey_id"].duplicated().any()
    assert set(j["journey_id"]) == set(run.planned["journey_id"])
    assert (j["outcome"] == "ok").all(), j[j["outcome"] != "ok"].to_string()
    r = run.requests
    assert not r.duplicated(["journey_id", "endpoint", "intended_ts", "start_ts"]).any()

    # The same schedule in one process: the same journeys and the same scripted calls.
    single = tmp_path / "single"
    proc = loadtest([EVERY_PATH, "--host", server.url, *SCHEDULE, "--out", str(single)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    one = read_run(single)
    assert set(one.journeys["journey_id"]) == set(j["journey_id"])
    assert planned_calls(one.requests) == planned_calls(r)

    # One definition of percentiles: the merged histograms hold exactly the rows.
    rebuilt = from_tables(pq.read_table(out / "requests.parquet"))
    stored = json.loads((out / "histograms.json").read_text())
    assert {k: v["hist"] for k, v in rebuilt.encode().items()} == {
        k: v["hist"] for k, v in stored.items() if not k.startswith("ws|")
    }
    p99 = run.summary["by_endpoint"]["POST /api/orders/"]["corrected_ms"]["p99"]
    assert p99 == rebuilt.block("POST /api/orders/")["corrected_ms"]["p99"]


def _worker_pids(parent: int) -> list[int]:
    procs = psutil.Process(parent).children(recursive=True)
    return [p.pid for p in procs if "--worker" in p.cmdline()]


def _two_worker_run(server: Server, out: Path, duration: str) -> subprocess.Popen[str]:
    """`orderflow loadtest --workers 2` in the background, long enough to act on a worker."""
    return subprocess.Popen(
        [sys.executable, "-m", "orderflow", "loadtest", EVERY_PATH, "--host", server.url,
         "--workers", "2", "--speedup", "120", "--duration", duration, "--seed", "5",
         "--background", "0", "--out", str(out)],
        cwd=REPO, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _a_worker_once_rows_arrive(proc: subprocess.Popen[str], out: Path) -> int:
    """The pid of one of the two workers, once the master has written rows they sent."""
    deadline = time.time() + 60
    while time.time() < deadline:
        parts = list((out / "parts").glob("requests.w*.parquet")) if out.exists() else []
        pids = _worker_pids(proc.pid)
        if len(pids) == 2 and parts:
            return pids[0]
        time.sleep(0.2)
    raise AssertionError("the workers never sent rows")


def test_a_worker_killed_mid_run_leaves_an_incomplete_readable_run_and_exit_4(
    server: Server, tmp_path: Path
) -> None:
    out = tmp_path / "killed"
    proc = _two_worker_run(server, out, "12")
    try:
        victim = _a_worker_once_rows_arrive(proc, out)
        os.kill(victim, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=150)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 4, stdout + stderr
    assert "lost during the run" in stderr
    run = read_run(out)
    m = run.manifest
    assert m["complete"] is False and len(m["lost_workers"]) == 1
    lost = m["lost_workers"][0]
    assert m["counts"]["lost_journeys"] > 0
    assert run.summary["incomplete"]["lost_workers"] == [lost]
    # the surviving share ran all of its journeys; the lost one's unfinished are counted
    planned = run.planned.groupby("journey_id")["share"].first()
    ran = set(run.journeys["journey_id"])
    survivors = set(planned[planned != lost].index)
    assert survivors <= ran
    never = set(planned[planned == lost].index) - ran
    assert len(never) == m["counts"]["lost_journeys"]


def test_a_worker_paused_for_a_few_seconds_is_not_lost(server: Server, tmp_path: Path) -> None:
    """Locust marks a worker missing after ~4 s without a heartbeat and clears it when they
    resume; a pause shorter than the grace period must not make the run incomplete."""
    out = tmp_path / "paused"
    proc = _two_worker_run(server, out, "10")
    try:
        paused = _a_worker_once_rows_arrive(proc, out)
        os.kill(paused, signal.SIGSTOP)
        time.sleep(6.5)  # missing for Locust (about 4 s), within our grace period
        os.kill(paused, signal.SIGCONT)
        stdout, stderr = proc.communicate(timeout=150)
    finally:
        if proc.poll() is None:
            proc.kill()
    run = read_run(out)
    assert run.manifest["lost_workers"] == [], stderr
    assert run.manifest["complete"] is True and run.manifest["transport"]["mismatched"] == []
    assert set(run.journeys["journey_id"]) == set(run.planned["journey_id"])
    assert proc.returncode == 0, stdout + stderr


def test_a_request_bound_distributed_run_accounts_for_every_journey(
    server: Server, tmp_path: Path
) -> None:
    """The bound stops the run early: journeys it never started are recorded as unfinished
    before each worker reports its count, so the master's count agrees with the workers'."""
    out = tmp_path / "bounded"
    proc = loadtest([EVERY_PATH, "--host", server.url, "--workers", "2", *SCHEDULE,
                     "--max-requests", "60", "--out", str(out)])  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = read_run(out)
    assert len(run.requests) <= 60
    assert run.manifest["complete"] is True and run.manifest["transport"]["mismatched"] == []
    j = run.journeys
    assert len(j) == len(set(run.planned["journey_id"])) and not j["journey_id"].duplicated().any()
    assert (j["outcome"] == "unfinished").any()
    assert j[j["outcome"] == "unfinished"]["failure_reason"].str.contains("bound").all()
