"""The refund lifecycle (D8): pending -> processing -> completed | failed, on the injected
clock; COD orders never get a refund record."""

from __future__ import annotations

from reference_api.roles import SYSTEM_ACTOR
from reference_api.statuses import OrderStatus
from tests.core.conftest import World, make_world

S = OrderStatus


def _paid_and_cancelled(w: World) -> str:
    oid = w.place("online")
    w.svc.record_payment(SYSTEM_ACTOR, oid, success=True)
    out = w.svc.cancel(w.customer(0), oid, reason="Changed my mind")
    assert out["refund_status"] == "pending"
    return oid


def test_refund_goes_pending_processing_completed() -> None:
    w = make_world()
    oid = _paid_and_cancelled(w)
    refund = w.order(oid).refund
    assert refund is not None and refund.status == "pending"
    assert str(refund.amount) == "810.40"
    assert w.elapse(59) == []
    assert w.elapse(1) == [("refund_step", oid, "refund_processing")]
    assert refund.status == "processing" and w.status(oid) is S.CANCELLED
    assert w.svc.get_order(SYSTEM_ACTOR, oid)["refund_status"] == "processing"
    assert w.elapse(299) == []
    assert w.elapse(1) == [("refund_step", oid, "refund_completed")]
    order = w.order(oid)
    assert refund.status == "completed" and order.status is S.REFUND_COMPLETED
    assert order.payment_status == "refunded"
    tail = [(e.status, e.description) for e in order.history[-3:]]
    assert tail == [
        ("CANCELLED", "Order cancelled by customer: Changed my mind"),
        ("CANCELLED", "Refund processing"),
        ("REFUND_COMPLETED", "Refund of 810.40 completed"),
    ]


def test_zero_delays_run_the_whole_refund_in_one_timer_pass() -> None:
    """A rule that arms a timer already due (a zero delay) is applied in the same pass."""
    w = make_world(refund_processing_delay_s=0, refund_settle_delay_s=0)
    oid = _paid_and_cancelled(w)
    assert w.elapse(0) == [
        ("refund_step", oid, "refund_processing"),
        ("refund_step", oid, "refund_completed"),
    ]
    assert w.status(oid) is S.REFUND_COMPLETED
    assert w.svc.next_timer_due() is None
    assert w.elapse(0) == []


def test_refund_failure_leaves_the_order_cancelled() -> None:
    w = make_world(refund_failure_rate=1.0)
    oid = _paid_and_cancelled(w)
    w.elapse(60)
    assert w.elapse(300) == [("refund_step", oid, "refund_failed")]
    order = w.order(oid)
    assert order.refund is not None and order.refund.status == "failed"
    assert order.status is S.CANCELLED and order.payment_status == "paid"
    assert order.history[-1].description == "Refund failed; manual intervention required"
    assert w.elapse(3600) == []  # nothing further happens by itself


def test_rejected_paid_order_is_refunded() -> None:
    w = make_world()
    oid = w.at(S.PAYMENT_SUCCESS)
    out = w.svc.reject(w.restaurant(0), oid, reason="Closed")
    assert out["refund_status"] == "pending"
    w.elapse(60)
    w.elapse(300)
    assert w.status(oid) is S.REFUND_COMPLETED


def test_no_refund_for_cod_or_unpaid() -> None:
    w = make_world()
    cod = w.at(S.PREPARING)
    w.svc.cancel(SYSTEM_ACTOR, cod, reason="ops")
    unpaid = w.place("online", customer=1)
    w.svc.cancel(w.customer(1), unpaid)
    w.elapse(3600)
    for oid in (cod, unpaid):
        assert w.order(oid).refund is None and w.status(oid) is S.CANCELLED


def test_cancel_after_delivery_started_still_refunds_online() -> None:
    w = make_world()
    oid = w.place("online")
    w.svc.record_payment(SYSTEM_ACTOR, oid, success=True)
    for step in ("confirm", "start_preparing", "mark_ready"):
        getattr(w.svc, step)(w.restaurant(0), oid)
    w.svc.pickup(w.rider_of(oid), oid, otp=w.otp(oid, "pickup"))
    w.svc.cancel(SYSTEM_ACTOR, oid, reason="Accident")
    assert w.order(oid).refund is not None
