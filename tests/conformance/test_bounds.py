"""The bounds: a tiny --max-requests is kept (counted by a faithful proxy, clean-up included),
leaves the rules it did not reach not testable, saying why, exits 4 and leaves no order of the
run active; a tiny --time-limit likewise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from reference_api.statuses import ACTIVE
from tests.conformance.conftest import conform
from tests.conformance.test_against_serve import customer_headers


def active_orders(host: str) -> set[str]:
    """The ids of the run's customer's orders still active (the server is shared by the
    session's tests: compare before and after)."""
    found: set[str] = set()
    for status in ACTIVE:
        body = httpx.get(
            f"{host}/api/orders/",
            params={"status": status, "page_size": 100},
            headers=customer_headers(),
        ).json()
        found |= {r["id"] for r in body["results"]}
    return found


def test_a_tiny_request_bound_is_kept_and_reported(
    server: str, wrong_server: Any, tmp_path: Path
) -> None:
    url = wrong_server("none")
    held = active_orders(server)
    before = httpx.get(f"{url}/__proxy__/count").json()["requests"]
    run = conform(["--host", url, "--max-requests", "40"], tmp_path)
    sent = httpx.get(f"{url}/__proxy__/count").json()["requests"] - before
    # a bound cut the check short: the run could not be judged whole (exit 4), and says so
    assert run.code == 4, run.stdout[-4000:] + run.stderr[-2000:]
    assert "bound reached (--max-requests 40)" in run.stderr
    assert "rules left untested" in run.stderr
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
    # the clean-up's reserve held: every order the run made is cancelled again
    assert active_orders(server) <= held


def test_a_tiny_time_limit_leaves_rules_not_testable(server: str, tmp_path: Path) -> None:
    run = conform(["--host", server, "--time-limit", "1"], tmp_path)
    assert run.code == 4, run.stdout[-4000:] + run.stderr[-2000:]
    assert "--time-limit 1s" in run.stderr
    assert run.report is not None
    reasons = [r["reason"] for r in run.rules("not testable")]
    assert any("time limit" in reason or "--time-limit" in reason for reason in reasons)
