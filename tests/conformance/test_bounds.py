"""The bounds: a tiny --max-requests is kept (counted by a faithful proxy, clean-up included)
and leaves the rules it did not reach not testable, saying why; a tiny --time-limit likewise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.conformance.conftest import conform


def test_a_tiny_request_bound_is_kept_and_reported(wrong_server: Any, tmp_path: Path) -> None:
    url = wrong_server("none")
    before = httpx.get(f"{url}/__proxy__/count").json()["requests"]
    run = conform(["--host", url, "--max-requests", "40"], tmp_path)
    sent = httpx.get(f"{url}/__proxy__/count").json()["requests"] - before
    assert run.code == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert run.report is not None and run.junit is not None
    assert sent <= 40
    assert run.report["requests"] == sent
    assert not run.rules("fail")
    assert run.rules("pass")  # what fitted was checked ...
    untestable = run.rules("not testable")  # ... and the rest is said, not dropped
    assert len(untestable) + len(run.rules("pass")) == len(run.report["rules"])
    assert sum("bound reached (--max-requests 40)" in r["reason"] for r in untestable) > 400
    assert len(run.junit.findall(".//skipped")) == len(untestable)
    assert "stopped early: bound reached (--max-requests 40)" in run.stdout


def test_a_tiny_time_limit_leaves_rules_not_testable(server: str, tmp_path: Path) -> None:
    run = conform(["--host", server, "--time-limit", "1"], tmp_path)
    assert run.code == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert run.report is not None
    reasons = [r["reason"] for r in run.rules("not testable")]
    assert any("time limit" in reason or "--time-limit" in reason for reason in reasons)
