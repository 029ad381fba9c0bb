"""OTP rules through the service (D7): issue, read, verify, consume, expire, resend, throttle,
lockout, hashed storage."""

from __future__ import annotations

import pytest

from reference_api.clock import iso
from reference_api.errors import (
    Conflict,
    InvalidTransition,
    OtpExpired,
    OtpInvalid,
    OtpLocked,
    OtpNotIssued,
    Throttled,
    ValidationFailed,
)
from reference_api.model import OtpRecord
from reference_api.otp import OtpCodec
from reference_api.roles import SYSTEM_ACTOR
from reference_api.statuses import OrderStatus
from tests.core.conftest import World, make_world

S = OrderStatus


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_pickup_otp_is_issued_at_mark_ready_and_readable_by_the_restaurant() -> None:
    w = make_world()
    oid = w.at(S.PREPARING)
    with pytest.raises(OtpNotIssued, match="marked ready"):
        w.svc.get_otp(w.restaurant(0), oid, otp_type="pickup")
    w.svc.mark_ready(w.restaurant(0), oid)
    out = w.svc.get_otp(w.restaurant(0), oid, otp_type="pickup")
    assert out["type"] == "pickup" and out["order_id"] == oid
    assert len(out["otp"]) == 6 and out["otp"].isdigit()
    assert out["expires_at"] == iso(w.clock.now() + 900)


def test_delivery_otp_is_issued_at_start_delivery_and_readable_by_the_customer() -> None:
    w = make_world()
    oid = w.at(S.ORDER_PICKED_UP)
    with pytest.raises(OtpNotIssued, match="out for delivery"):
        w.svc.get_otp(w.customer(0), oid)
    w.svc.start_delivery(w.rider_of(oid), oid)
    out = w.svc.get_otp(w.customer(0), oid)  # default type: delivery
    assert out["type"] == "delivery"
    assert out["expires_at"] == iso(w.clock.now() + 1800)


def test_otp_is_not_stored_and_needs_the_secret() -> None:
    w = make_world()
    oid = w.at(S.READY_FOR_PICKUP)
    code = w.otp(oid, "pickup")
    record = w.order(oid).otps["pickup"]
    assert code not in repr(record)
    assert {f for f in OtpRecord.__slots__ if "code" in f} == set()
    # The code is re-derived from the secret: another secret gives another code, and a code
    # derived with another secret does not verify.
    other = OtpCodec(b"another-secret-of-16+bytes")
    forged = other.code(oid, "pickup", record.nonce)
    assert forged != code
    assert not w.svc.codec.matches(oid, record, forged)
    assert w.svc.codec.matches(oid, record, code)


def test_short_secret_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        OtpCodec(b"short")


def test_verify_does_not_consume_but_pickup_does() -> None:
    w = make_world()
    oid = w.at(S.READY_FOR_PICKUP)
    rider = w.rider_of(oid)
    code = w.otp(oid, "pickup")
    out = w.svc.verify_otp(rider, oid, otp=code, otp_type="pickup")
    assert out == {"success": True, "verified": True, "message": "OTP verified successfully"}
    w.svc.verify_otp(rider, oid, otp=code, otp_type="pickup")
    w.svc.pickup(rider, oid, otp=code)
    with pytest.raises(OtpInvalid, match="already been used"):
        w.svc.verify_otp(rider, oid, otp=code, otp_type="pickup")


def test_expired_otp_never_verifies() -> None:
    w = make_world(pickup_timeout_s=10_000)
    oid = w.at(S.READY_FOR_PICKUP)
    rider, code = w.rider_of(oid), w.otp(oid, "pickup")
    w.clock.advance(900)
    w.svc.verify_otp(rider, oid, otp=code, otp_type="pickup")  # last valid second
    w.clock.advance(1)
    with pytest.raises(OtpExpired, match="expired"):
        w.svc.pickup(rider, oid, otp=code)
    assert w.status(oid) is S.READY_FOR_PICKUP


def test_delivery_otp_expires_after_30_minutes() -> None:
    w = make_world()
    oid = w.at(S.OUT_FOR_DELIVERY)
    rider, code = w.rider_of(oid), w.otp(oid, "delivery")
    w.clock.advance(1801)
    with pytest.raises(OtpExpired):
        w.svc.complete_delivery(rider, oid, otp=code)
    w.svc.resend_otp(w.customer(0), oid, otp_type="delivery")
    w.svc.complete_delivery(rider, oid, otp=w.otp(oid, "delivery"))
    assert w.status(oid) is S.DELIVERED


def test_resend_invalidates_the_old_code() -> None:
    w = make_world()
    oid = w.at(S.READY_FOR_PICKUP)
    rider, old = w.rider_of(oid), w.otp(oid, "pickup")
    w.clock.advance(30)
    out = w.svc.resend_otp(w.restaurant(0), oid, otp_type="pickup")
    assert out["resends_left"] == 2 and out["type"] == "pickup"
    new = w.otp(oid, "pickup")
    if new != old:  # a fresh nonce; a 1-in-a-million collision would make this vacuous
        with pytest.raises(OtpInvalid, match="wrong"):
            w.svc.pickup(rider, oid, otp=old)
    w.svc.pickup(rider, oid, otp=new)
    assert w.order(oid).history[-2].description == "Pickup OTP resent"


def test_resend_throttle_and_limit() -> None:
    w = make_world(pickup_timeout_s=10_000)
    oid = w.at(S.READY_FOR_PICKUP)
    rest = w.restaurant(0)
    w.clock.advance(29)
    with pytest.raises(Throttled, match="retry in 1s") as err:
        w.svc.resend_otp(rest, oid, otp_type="pickup")
    assert err.value.status_code == 429 and err.value.retry_after == pytest.approx(1)
    for left in (2, 1, 0):
        w.clock.advance(30 if left == 2 else 31)
        assert w.svc.resend_otp(rest, oid, otp_type="pickup")["resends_left"] == left
    w.clock.advance(300)
    with pytest.raises(Throttled, match=r"limit \(3\)"):
        w.svc.resend_otp(rest, oid, otp_type="pickup")


def test_resend_only_while_the_otp_is_live() -> None:
    w = make_world()
    oid = w.at(S.ORDER_PICKED_UP)
    w.clock.advance(60)
    with pytest.raises(Conflict, match="already been used"):
        w.svc.resend_otp(w.restaurant(0), oid, otp_type="pickup")
    cancelled = w.at(S.READY_FOR_PICKUP, customer=1)
    w.svc.cancel(SYSTEM_ACTOR, cancelled, reason="ops")
    w.clock.advance(60)
    with pytest.raises(InvalidTransition, match="READY_FOR_PICKUP"):
        w.svc.resend_otp(w.restaurant(0), cancelled, otp_type="pickup")


def _lock(w: World, oid: str, code: str) -> None:
    rider = w.rider_of(oid)
    for left in (4, 3, 2, 1):
        with pytest.raises(OtpInvalid, match=f"{left} attempt"):
            w.svc.pickup(rider, oid, otp=_wrong(code))
    with pytest.raises(OtpLocked, match="locked after 5"):
        w.svc.pickup(rider, oid, otp=_wrong(code))


def test_lockout_after_five_wrong_attempts_even_for_the_right_code() -> None:
    w = make_world()
    oid = w.at(S.READY_FOR_PICKUP)
    code = w.otp(oid, "pickup")
    _lock(w, oid, code)
    with pytest.raises(OtpLocked) as err:
        w.svc.pickup(w.rider_of(oid), oid, otp=code)
    assert err.value.status_code == 423
    with pytest.raises(OtpLocked):
        w.svc.verify_otp(SYSTEM_ACTOR, oid, otp=code, otp_type="pickup")
    # A resend unlocks with a new code and a fresh attempt budget.
    w.clock.advance(30)
    w.svc.resend_otp(w.rider_of(oid), oid, otp_type="pickup")
    assert w.order(oid).otps["pickup"].attempts == 0
    w.svc.pickup(w.rider_of(oid), oid, otp=w.otp(oid, "pickup"))


@pytest.mark.parametrize("bad", ["12345", "1234567", "abcdef", 123456, None, "12 456"])
def test_malformed_otp_is_422_and_not_an_attempt(bad: object) -> None:
    w = make_world()
    oid = w.at(S.READY_FOR_PICKUP)
    with pytest.raises(ValidationFailed, match="6-digit") as err:
        w.svc.pickup(w.rider_of(oid), oid, otp=bad)
    assert err.value.status_code == 422 and err.value.field == "otp"
    assert w.order(oid).otps["pickup"].attempts == 0


def test_wrong_status_is_refused_before_any_attempt_is_counted() -> None:
    w = make_world()
    oid = w.at(S.OUT_FOR_DELIVERY)
    with pytest.raises(InvalidTransition):
        w.svc.pickup(w.rider_of(oid), oid, otp="000000")
    assert w.order(oid).otps["pickup"].attempts == 0


@pytest.mark.parametrize("kind", ["sms", "", None])
def test_unknown_otp_type_is_named(kind: object) -> None:
    w = make_world()
    oid = w.at(S.READY_FOR_PICKUP)
    with pytest.raises(ValidationFailed, match="type") as err:
        w.svc.get_otp(SYSTEM_ACTOR, oid, otp_type=kind)
    assert err.value.field == "type"


def test_bounded_guesses_per_otp_type() -> None:
    """5 attempts x (1 issue + 3 resends) = at most 20 guesses at the pickup OTP."""
    w = make_world(pickup_timeout_s=100_000)
    oid = w.at(S.READY_FOR_PICKUP)
    rider = w.rider_of(oid)
    guesses = 0
    for _ in range(4):
        code = w.otp(oid, "pickup")
        while True:
            try:
                w.svc.verify_otp(rider, oid, otp=_wrong(code), otp_type="pickup")
            except OtpLocked:
                guesses += 1
                break
            except OtpInvalid:
                guesses += 1
        w.clock.advance(30)
        try:
            w.svc.resend_otp(rider, oid, otp_type="pickup")
        except Throttled:
            break
    assert guesses == 20


def test_verify_refused_once_the_order_is_cancelled() -> None:
    w = make_world()
    oid = w.at(S.READY_FOR_PICKUP)
    code = w.otp(oid, "pickup")
    w.svc.cancel(SYSTEM_ACTOR, oid, reason="kitchen fire")
    with pytest.raises(InvalidTransition, match="only be verified while the order is READY"):
        w.svc.verify_otp(SYSTEM_ACTOR, oid, otp=code, otp_type="pickup")
