"""A real `orderflow serve` on 127.0.0.1 for the conformance tests, with short OTP lives, resend
spacing and refund delays so that every rule, expiry and REFUND_COMPLETED included, can be seen
within a run's time limit; the deliberately wrong proxies of ``wrong_server.py`` in front of it;
and a helper that runs `orderflow conform` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orderflow.served import ServedProcess

REPO = Path(__file__).resolve().parents[2]
SECRET = "orderflow-conformance-tests-secret-0123456789"
WRONG_SERVER = Path(__file__).with_name("wrong_server.py")
#: Short enough to be seen within a run (resend spacing, code lives, refund settling), long
#: enough that nothing expires while the table uses it.
POLICY = (
    "otp_resend_interval_s=4",
    "pickup_otp_ttl_s=12",
    "delivery_otp_ttl_s=12",
    "refund_processing_delay_s=1",
    "refund_settle_delay_s=1",
)
RIDERS = 30


def env() -> dict[str, str]:
    return {**os.environ, "ORDERFLOW_JWT_SECRET": SECRET, "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    policy = [arg for p in POLICY for arg in ("--policy", p)]
    db = tmp_path_factory.mktemp("conform-serve") / "orderflow.db"
    with ServedProcess(db, "--riders", str(RIDERS), *policy, env=env(), cwd=REPO) as served:
        yield served.url


class WrongServer(ServedProcess):
    """``wrong_server.py UPSTREAM FAULT`` as a child process (the served-process helper reads
    the line it prints, waits until it answers, and stops it)."""

    def __init__(self, upstream: str, fault: str, scratch: Path) -> None:
        super().__init__(scratch / "unused.db", env=env(), cwd=REPO)
        self.args = [sys.executable, str(WRONG_SERVER), upstream, fault]


@pytest.fixture
def wrong_server(server: str, tmp_path: Path) -> Iterator[Any]:
    started: list[WrongServer] = []

    def start(fault: str) -> str:
        proxy = WrongServer(server, fault, tmp_path).start(30)
        started.append(proxy)
        return proxy.url

    try:
        yield start
    finally:
        for proxy in started:
            proxy.stop()


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    report: dict[str, Any] | None
    junit: ET.Element | None

    def outcome(self, rule: str) -> str:
        assert self.report is not None, self.stderr
        return next(r["outcome"] for r in self.report["rules"] if r["id"] == rule)

    def rules(self, outcome: str) -> list[dict[str, Any]]:
        assert self.report is not None, self.stderr
        return [r for r in self.report["rules"] if r["outcome"] == outcome]


def conform(args: Sequence[str], out: Path, timeout: float = 240.0) -> Run:
    """`orderflow conform ARGS --out OUT --junit OUT/junit.xml` to completion, output captured."""
    junit = out / "junit.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "orderflow", "conform", *args, "--out", str(out),
         "--junit", str(junit), "--quiet"],
        cwd=REPO, env=env(), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    report_file = out / "conform.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else None
    tree = ET.parse(junit).getroot() if junit.exists() else None
    return Run(proc.returncode, proc.stdout, proc.stderr, report, tree)
