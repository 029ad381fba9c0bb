"""Auto-cancellations and the payment timeout on the injected clock (D6). A timer whose order
has moved on does nothing."""

from __future__ import annotations

import pytest

from reference_api.roles import SYSTEM_ACTOR
from reference_api.statuses import OrderStatus
from tests.core.conftest import make_world

S = OrderStatus


def test_confirm_timeout_cancels_an_unconfirmed_cod_order() -> None:
    w = make_world()
    oid = w.place("cod")
    assert w.elapse(599) == []
    assert w.status(oid) is S.ORDER_PLACED
    assert w.elapse(1) == [("confirm_timeout", oid, "cancelled")]
    order = w.order(oid)
    assert order.status is S.CANCELLED and order.cancelled_by == "system"
    assert order.cancel_reason == "Restaurant did not confirm within 10 minutes"
    assert order.history[-1].metadata["auto"] == "confirm_timeout"
    assert order.refund is None  # COD


def test_confirm_timeout_for_online_orders_runs_from_payment_success() -> None:
    w = make_world()
    oid = w.place("online")
    w.elapse(500)
    w.svc.record_payment(SYSTEM_ACTOR, oid, success=True)
    assert w.elapse(599) == []
    assert w.status(oid) is S.PAYMENT_SUCCESS
    assert w.elapse(1) == [("confirm_timeout", oid, "cancelled")]
    assert w.order(oid).refund is not None  # paid: refund starts


def test_confirm_timeout_is_stale_once_confirmed() -> None:
    w = make_world()
    oid = w.place()
    w.svc.confirm(w.restaurant(0), oid)
    assert w.elapse(3600) == []
    assert w.status(oid) is S.ORDER_CONFIRMED


def test_leaving_a_status_disarms_its_timer() -> None:
    """A rule timer lives only while its status lasts: once the order moves on nothing is left
    to fire (the simulation and the server's timer loop never wake for it)."""
    w = make_world()
    t0 = w.svc.clock.now()
    cod = w.place("cod")
    assert w.svc.next_timer_due() == t0 + 600  # confirm timeout
    w.svc.confirm(w.restaurant(0), cod)
    assert w.svc.next_timer_due() is None
    online = w.place("online")
    assert w.svc.next_timer_due() == t0 + 900  # payment timeout
    w.elapse(100)
    w.svc.record_payment(SYSTEM_ACTOR, online, success=True)
    assert w.svc.next_timer_due() == t0 + 100 + 600  # payment disarmed, confirm armed
    w.svc.confirm(w.restaurant(0), online)
    w.svc.start_preparing(w.restaurant(0), online)
    w.svc.mark_ready(w.restaurant(0), online)
    assert w.svc.next_timer_due() == t0 + 100 + 1800  # pickup timeout
    w.svc.pickup(w.rider_of(online), online, otp=w.otp(online, "pickup"))
    assert w.svc.next_timer_due() is None
    assert w.elapse(7200) == []


def test_pickup_timeout_cancels_and_frees_the_rider() -> None:
    w = make_world(pickup_timeout_s=120)
    oid = w.at(S.READY_FOR_PICKUP)
    rider = w.rider_of(oid)
    assert w.elapse(119) == []
    assert w.elapse(1) == [("pickup_timeout", oid, "cancelled")]
    order = w.order(oid)
    assert order.status is S.CANCELLED and order.delivery_status == "cancelled"
    assert "No pickup within 2 minutes" in (order.cancel_reason or "")
    stored = w.svc.store.get_rider(rider.user_id)
    assert stored is not None and stored.current_order_id is None


def test_pickup_timeout_is_stale_after_pickup() -> None:
    w = make_world()
    oid = w.at(S.ORDER_PICKED_UP)
    assert w.elapse(7200) == []
    assert w.status(oid) is S.ORDER_PICKED_UP


def test_payment_timeout_fails_a_pending_payment() -> None:
    w = make_world()
    oid = w.place("online")
    assert w.elapse(899) == []
    assert w.elapse(1) == [("payment_timeout", oid, "payment_failed")]
    order = w.order(oid)
    assert order.status is S.PAYMENT_FAILED and order.payment_status == "failed"
    assert order.history[-1].actor_role == "system"


def test_payment_timeout_is_stale_after_payment() -> None:
    w = make_world()
    oid = w.place("online")
    w.svc.record_payment(SYSTEM_ACTOR, oid, success=True)
    w.svc.confirm(w.restaurant(0), oid)
    assert w.elapse(3600) == []
    assert w.status(oid) is S.ORDER_CONFIRMED


@pytest.mark.parametrize("limit", [60.0, 1200.0])
def test_limits_are_configurable(limit: float) -> None:
    w = make_world(confirm_timeout_s=limit)
    oid = w.place()
    w.elapse(limit - 1)
    assert w.status(oid) is S.ORDER_PLACED
    w.elapse(1)
    assert w.status(oid) is S.CANCELLED


def test_next_timer_due_and_listeners() -> None:
    w = make_world()
    seen: list[float] = []
    w.svc.timer_listeners.append(seen.append)
    assert w.svc.next_timer_due() is None
    w.place()
    start = w.clock.now()
    assert w.svc.next_timer_due() == start + 600
    assert seen == [start + 600]
    w.elapse(600)
    assert w.svc.next_timer_due() is None
