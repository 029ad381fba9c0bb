"""A real `orderflow serve` on 127.0.0.1 for the load-test tests (free port, temporary database,
killed afterwards), and a helper that runs `orderflow loadtest` in a subprocess."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SECRET = "orderflow-loadtest-tests-secret-0123456789"
LISTEN = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
#: More riders than the compressed schedules ever need at once, so no journey waits for one.
RIDERS = 60


def env() -> dict[str, str]:
    return {**os.environ, "ORDERFLOW_JWT_SECRET": SECRET, "PYTHONUNBUFFERED": "1"}


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[str]


def start_server(db: Path) -> Server:
    proc = subprocess.Popen(
        [sys.executable, "-m", "orderflow", "serve", "--host", "127.0.0.1", "--port", "0",
         "--db", str(db), "--riders", str(RIDERS)],
        cwd=REPO, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    deadline = time.time() + 30
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        match = LISTEN.search(line)
        if match:
            return Server(match.group(1), proc)
    stop(proc)
    raise RuntimeError("orderflow serve did not start")


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("serve") / "orderflow.db")
    try:
        yield srv
    finally:
        stop(srv.proc)


def loadtest(args: Sequence[str], timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """`orderflow loadtest ARGS` to completion (bounded), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "orderflow", "loadtest", *args],
        cwd=REPO, env=env(), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
