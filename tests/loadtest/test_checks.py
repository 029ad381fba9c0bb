"""What the journeys accept from a target, pinned (docs/spec-decisions.md, load-test rows)."""

from __future__ import annotations

from loadtest import checks


def test_spec_aliases_count_as_the_canonical_status() -> None:
    ok = {"success": True, "status": "RESTAURANT_CONFIRMED"}  # the spec's confirm section
    assert checks.check_success("confirm", 200, ok, {}, "cod") is None
    canonical = {"success": True, "status": "ORDER_CONFIRMED"}  # a target answering D1's old way
    assert checks.check_success("confirm", 200, canonical, {}, "cod") is None
    prep = {"status": "FOOD_BEING_PREPARED"}
    assert checks.check_success("start_preparing", 200, prep, {}, "cod") is None
    wrong = {"status": "PREPARING"}
    assert "should report RESTAURANT_CONFIRMED, reported PREPARING" in str(
        checks.check_success("confirm", 200, wrong, {}, "")
    )


def test_the_expected_statuses_are_the_spec_sections_spelling() -> None:
    assert checks.MOVES_TO["confirm"] == "RESTAURANT_CONFIRMED"
    assert checks.MOVES_TO["start_preparing"] == "PREPARING"
    assert set(checks.MOVES_TO) == {
        "confirm", "reject", "start_preparing", "mark_ready", "pickup", "start_delivery",
        "complete_delivery", "cancel",
    }  # fmt: skip
    assert checks.PAYMENT_OUTCOME == {True: "PAYMENT_SUCCESS", False: "PAYMENT_FAILED"}


def test_wrong_otp_must_be_refused_and_resend_may_be_throttled() -> None:
    assert checks.check_refusal("pickup", 400) is None
    assert checks.check_refusal("pickup", 423) is None  # locked after too many attempts
    assert "accepted a call it must refuse" in str(checks.check_refusal("pickup", 200))
    assert "expected a refusal" in str(checks.check_refusal("pickup", 500))
    assert checks.check_success("resend_otp", 429, {"detail": "retry in 20s"}, {}, "") is None


def test_checkout_and_payment_answers() -> None:
    placed = {"id": "x", "order_status": "PAYMENT_PENDING"}
    assert checks.check_success("place_order", 201, placed, {}, "online") is None
    assert "should be ORDER_PLACED" in str(
        checks.check_success("place_order", 201, placed, {}, "cod")
    )
    assert "expected 200/201, got 500" in str(
        checks.check_success("place_order", 500, None, {}, "")
    )
    failed = {"status": "PAYMENT_FAILED"}
    assert checks.check_success("record_payment", 200, failed, {"success": False}, "") is None
    otp = {"otp": "12345", "type": "pickup"}
    assert "6 digits" in str(checks.check_success("get_otp", 200, otp, {}, ""))


def test_canonical_codes_are_remembered_without_bound_growth() -> None:
    assert checks.canonical("CONFIRMED") == "ORDER_CONFIRMED"
    assert checks.canonical("CONFIRMED") == "ORDER_CONFIRMED"  # from the cache this time
    assert checks.canonical("NOT_A_STATUS") == "NOT_A_STATUS"
    assert checks.canonical(None) is None
    for i in range(3000):  # a target inventing codes
        assert checks.canonical(f"INVENTED_{i}") == f"INVENTED_{i}"
    assert len(checks._CANONICAL) <= 1024


def test_response_bodies_decode_as_the_standard_library_would() -> None:
    from loadtest.journey import decode

    assert decode(b'{"otp": "123456", "n": 1.5}') == {"otp": "123456", "n": 1.5}
    big = 2**70  # beyond orjson's integers: the standard library takes over
    assert decode(f'{{"n": {big}}}'.encode()) == {"n": big}
    assert decode(b"<html>bad gateway</html>") is None
