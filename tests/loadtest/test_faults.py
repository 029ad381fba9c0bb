"""A slow, failing, connection-resetting target: every failure is recorded with what happened,
the run stops by itself within its bounds, and the run directory is complete."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from orderflow.served import LISTEN, stop_process
from tests.loadtest.conftest import REPO, env, loadtest
from tests.loadtest.rundir import read_run
from tests.loadtest.test_journeys import EVERY_PATH


@pytest.fixture
def faulty() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("fault_server.py"))],
        cwd=REPO, env=env(), stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    match = LISTEN.search(proc.stdout.readline())
    try:
        assert match, "fault server did not start"
        yield match.group(1)
    finally:
        stop_process(proc)


def tokens_file(path: Path) -> Path:
    """Identities for a target that knows nobody: the format, nothing more."""
    ident = {"token": "t", "user_id": "u"}
    path.write_text(
        json.dumps(
            {
                "customers": [ident],
                "restaurants": [{**ident, "vendor_id": "v1"}],
                "riders": [ident],
                "system": [ident],
                "vendors": [{"id": "v1", "name": "V", "latitude": 19.07, "longitude": 72.87,
                             "menu": [{"name": "Dosa", "unit_price": "120.00"}]}],
                "addresses": [{"title": "Home", "address_line_1": "1 Road",
                               "latitude": 19.08, "longitude": 72.88}],
            }
        )
    )  # fmt: skip
    return path


def test_failing_target_is_recorded_and_fails_the_run(faulty: str, tmp_path: Path) -> None:
    out = tmp_path / "faults"
    proc = loadtest(
        [EVERY_PATH, "--host", faulty, "--tokens", str(tokens_file(tmp_path / "t.json")),
         "--speedup", "600", "--duration", "3", "--seed", "3", "--request-timeout", "0.5",
         "--rider-wait", "1", "--background", "0.02", "--max-requests", "400",
         "--out", str(out)]
    )  # fmt: skip
    # the run ends by itself with everything recorded, and says it failed (exit 4)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "failed the spec's checks" in proc.stderr
    run = read_run(out)
    r = run.requests
    errors = r["error"].dropna()
    assert (r["status"] == 503).any() and (r["status"] == 0).any()
    assert errors.str.contains("expected 200, got 503").any()
    assert errors.str.contains("connection error").any()  # resets and timeouts
    assert errors.str.contains("should report|OTP should be 6 digits").any()  # a bogus 200
    slow = r[(r["status"] == 0) & (r["end_ts"] - r["start_ts"] >= 0.45)]
    assert len(slow) > 0, "timeouts are recorded as status 0 after the request timeout"
    j = run.journeys
    assert (j["outcome"] == "failed").any()
    assert j[j["outcome"] == "failed"]["failure_reason"].notna().all()
    assert len(j) == run.manifest["counts"]["planned_journeys"]
    assert run.manifest["complete"] is True
    assert run.summary["overall"]["errors"] == len(errors)
    # Locust's own statistics see the same failures, with the same reasons (loadtest.sender)
    failures = (out / "locust_failures.csv").read_text()
    assert "expected 200, got 503" in failures and "connection error" in failures
