"""Deliberately wrong servers (``wrong_server.py`` in front of `orderflow serve`) are caught by
the exact rule each breaks, reported failed on the terminal and in the JUnit file, while the
rules next to it still pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conformance.conftest import conform


@pytest.mark.parametrize(
    ("fault", "broken", "intact"),
    [
        (
            "cancel-while-cooking",
            # only the customer's cancellation in PREPARING is bent (the machine's random
            # draws leave cancellations to the 1-in-5 "any move" draws and meet none there)
            ["cancel.preparing.by_customer.refused"],
            ["cancel.confirmed.by_customer.allowed", "cancel.preparing.by_restaurant.allowed"],
        ),
        (
            "any-otp",
            [
                "otp.pickup.wrong_code_refused",  # pickup with a wrong code: 200
                "otp.delivery.wrong_code_refused",  # complete-delivery with a wrong code: 200
                # /otp/verify/ is rewritten too: a wrong code verifies ...
                "otp.verify.wrong_code_refused",
                # ... and so does the malformed "12345" (made the real code), not a 422
                "otp.malformed_422_not_counted",
                # the state machine's wrong codes on live OTPs answer 200, not 400/423
                "sequence.steps_match_model",
            ],
            ["otp.pickup.readers", "transition.ready_for_pickup->picked_up.by_rider.allowed"],
        ),
    ],
)
def test_a_wrong_server_fails_the_rule_it_breaks(
    wrong_server: Any, tmp_path: Path, fault: str, broken: list[str], intact: list[str]
) -> None:
    run = conform(["--host", wrong_server(fault), "--time-limit", "90"], tmp_path)
    assert run.code == 3, run.stdout[-4000:] + run.stderr[-2000:]
    assert run.junit is not None
    # exactly these rules, no more: the others next to them still pass or are not testable
    assert {r["id"] for r in run.rules("fail")} == set(broken)
    for rule in broken:
        assert run.outcome(rule) == "fail", rule
        assert f"FAIL          {rule}" in run.stdout
        case = run.junit.find(f".//testcase[@name='{rule}']")
        assert case is not None
        failure = case.find("failure")
        assert failure is not None and failure.text is not None
        assert "POST /api/orders/" in failure.text  # the request that broke it ...
        assert "response 200" in failure.text  # ... and the answer it got
        assert case.get("time") is not None
    for rule in intact:
        assert run.outcome(rule) == "pass", rule
