"""`orderflow conform` against a real `orderflow serve`: the reference server passes every rule
it can be checked on, within the bounds, and the run leaves no order of its own holding a
rider."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from reference_api.statuses import ACTIVE
from tests.conformance.conftest import SECRET, conform

MAX_REQUESTS = 5000
TIME_LIMIT_S = 120


def test_the_reference_server_passes_every_testable_rule(server: str, tmp_path: Path) -> None:
    run = conform(
        ["--host", server, "--max-requests", str(MAX_REQUESTS), "--time-limit", str(TIME_LIMIT_S)],
        tmp_path,
    )
    assert run.code == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert run.report is not None and run.junit is not None
    assert not run.rules("fail")
    assert len(run.rules("pass")) >= 60
    assert run.report["requests"] <= MAX_REQUESTS
    assert run.report["seconds"] <= TIME_LIMIT_S
    # the test server's short policy brings the waits within the run: observed, not skipped
    for rule in (
        "otp.pickup.expired_refused",
        "otp.delivery.expired_refused",
        "otp.pickup.resend_invalidates_old",
        "otp.resend.resets_attempts",
        "refund.completes",
        "transition.refund_completed->confirmed.by_restaurant.refused",
        "cancel.preparing.by_customer.refused",
        "otp.pickup.wrong_code_refused",
        "sequence.steps_match_model",
        "ws.status_changed_after_each_change",
        "status_endpoint.refund_completed_refused",
        "status_endpoint.wrong_otp_refused",
        "refund.paid_reject_pending",
        "list.pages_partition",
    ):
        assert run.outcome(rule) == "pass", rule
    # expired tokens can be minted here, so nothing needs a secret it lacks
    assert run.outcome("auth.expired_token_401") == "pass"
    assert len(run.junit.findall(".//testcase")) == len(run.report["rules"])
    assert not run.junit.findall(".//failure")
    assert "cancel.preparing.by_customer.refused" in run.stdout
    assert "0 failed" in run.stdout
    # the clean-up cancelled every order the run still held, so no rider stays taken
    held = {
        status: httpx.get(
            f"{server}/api/orders/", params={"status": status}, headers=customer_headers()
        ).json()["count"]
        for status in ACTIVE
    }
    assert held == dict.fromkeys(ACTIVE, 0)


def customer_headers() -> dict[str, str]:
    """The run's customer (the first fixture customer), as its tokens were minted."""
    from reference_api.fixtures import build_fixtures
    from reference_api.http.auth import issue_token

    actor = build_fixtures().customers[0]
    return {"Authorization": "Bearer " + issue_token(actor, SECRET.encode(), now=time.time())}
