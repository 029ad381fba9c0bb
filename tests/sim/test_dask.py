"""Replications on a real Dask cluster: a ``dask scheduler`` and two ``dask worker`` processes
on 127.0.0.1, started here and stopped afterwards. A run through them writes the same bytes as a
local run, and the workers read nothing from the test's directory (the scenario travels with
each task, data files included)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orderflow.cli import main
from sim.executors import ExecutorError, check_dask, executor_for

ROOT = Path(__file__).parents[2]
DASK = Path(sys.executable).with_name("dask")
SMALL_MDRP = ROOT / "data" / "mdrp" / "instances" / "0o50t75s1p100"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A scheduler and two single-threaded workers, each in a directory of its own."""
    base = tmp_path_factory.mktemp("dask")
    info = base / "scheduler.json"
    procs = [
        subprocess.Popen(
            [
                *(str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0"),
                *("--no-dashboard", "--scheduler-file", str(info)),
            ],
            cwd=base,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert info.exists(), "the scheduler did not start"
        address = json.loads(info.read_text())["address"]
        for i in range(2):
            work = base / f"worker{i}"
            work.mkdir()
            procs.append(
                subprocess.Popen(
                    [
                        *(str(DASK), "worker", address, "--nthreads", "1", "--nworkers", "1"),
                        *("--no-dashboard", "--host", "127.0.0.1", "--local-directory", str(work)),
                    ],
                    cwd=work,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        from distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def _files(run: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(run)): p.read_bytes()
        for p in sorted(run.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


def test_a_run_on_the_cluster_is_byte_identical_to_a_local_run(
    cluster: str, tmp_path: Path
) -> None:
    local, remote = tmp_path / "local", tmp_path / "remote"
    args = ["simulate", "baseline", "-r", "4", "--quiet"]
    assert main([*args, "--jobs", "1", "--out", str(local)]) == 0
    assert main([*args, "--dask", cluster, "--out", str(remote)]) == 0
    a, b = _files(local), _files(remote)
    assert set(a) == set(b), set(a) ^ set(b)
    assert len(a) >= 8
    for name in a:
        assert a[name] == b[name], name


def test_a_sweep_on_the_cluster_gives_byte_identical_tables(cluster: str, tmp_path: Path) -> None:
    local, remote = tmp_path / "local", tmp_path / "remote"
    args = ["sweep", "baseline", "--vary", "fleet.riders=30,40", "-r", "2", "--quiet"]
    assert main([*args, "--jobs", "1", "--out", str(local)]) == 0
    assert main([*args, "--dask", cluster, "--out", str(remote)]) == 0
    a, b = _files(local), _files(remote)
    assert {"sweep.parquet", "replications.parquet", "differences.parquet"} <= set(a)
    assert a == b


def test_data_files_travel_with_the_task(cluster: str, tmp_path: Path) -> None:
    """An MDRP instance is read here; the workers run in their own directories and never see
    the instance's files."""
    local, remote = tmp_path / "local", tmp_path / "remote"
    args = ["simulate", str(SMALL_MDRP), "-r", "2", "--quiet"]
    assert main([*args, "--jobs", "1", "--out", str(local)]) == 0
    assert main([*args, "--dask", cluster, "--out", str(remote)]) == 0
    assert _files(local) == _files(remote)


def test_a_local_cluster_gives_the_same_bytes(tmp_path: Path) -> None:
    local, dask = tmp_path / "local", tmp_path / "dask"
    args = ["simulate", "baseline", "-r", "2", "--quiet"]
    assert main([*args, "--jobs", "1", "--out", str(local)]) == 0
    assert main([*args, "--dask", "local:2", "--out", str(dask)]) == 0
    assert _files(local) == _files(dask)


def test_bad_dask_values_are_usage_errors_and_an_unreachable_scheduler_fails_the_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert check_dask("local:0") is not None and check_dask("localhost") is not None
    assert check_dask("tcp://127.0.0.1:8786") is None and check_dask("local:3") is None
    assert main(["simulate", "baseline", "--dask", "local:x", "--quiet"]) == 2
    assert "expected local:N" in capsys.readouterr().err
    with (
        pytest.raises(ExecutorError, match="cannot reach the scheduler"),
        executor_for(1, "tcp://127.0.0.1:9", connect_timeout_s=2),
    ):
        pass
