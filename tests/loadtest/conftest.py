"""A real `orderflow serve` on 127.0.0.1 for the load-test tests (free port, temporary database,
killed afterwards), and a helper that runs `orderflow loadtest` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from orderflow.served import ServedProcess, stop_process

REPO = Path(__file__).resolve().parents[2]
SECRET = "orderflow-loadtest-tests-secret-0123456789"
#: More riders than the compressed schedules ever need at once, so no journey waits for one.
RIDERS = 60


def env() -> dict[str, str]:
    return {**os.environ, "ORDERFLOW_JWT_SECRET": SECRET, "PYTHONUNBUFFERED": "1"}


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[str]


def start_server(db: Path) -> Server:
    served = ServedProcess(db, "--riders", str(RIDERS), env=env(), cwd=REPO).start(30)
    assert served.proc is not None
    return Server(served.url, served.proc)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("serve") / "orderflow.db")
    try:
        yield srv
    finally:
        stop_process(srv.proc)


def loadtest(args: Sequence[str], timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """`orderflow loadtest ARGS` to completion (bounded), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "orderflow", "loadtest", *args],
        cwd=REPO, env=env(), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
