"""Who may cancel when (D5), through the service: customers before preparation, restaurants
until pickup with a reason, the system from any active state, riders never."""

from __future__ import annotations

import pytest

from reference_api.errors import Forbidden, InvalidTransition, ValidationFailed
from reference_api.roles import SYSTEM_ACTOR, Role
from reference_api.statuses import ACTIVE, OrderStatus
from tests.core.conftest import World, make_world

S = OrderStatus
#: Written out by hand from D5 (not read from permissions.CANCEL_FROM).
EXPECTED = {
    Role.CUSTOMER: {S.ORDER_PLACED, S.PAYMENT_PENDING, S.PAYMENT_SUCCESS, S.ORDER_CONFIRMED},
    Role.RESTAURANT: {
        S.ORDER_PLACED,
        S.PAYMENT_SUCCESS,
        S.ORDER_CONFIRMED,
        S.PREPARING,
        S.READY_FOR_PICKUP,
    },
    Role.SYSTEM: set(ACTIVE),
}
CASES = [(role, status) for role in EXPECTED for status in OrderStatus]


def _actor(w: World, role: Role, oid: str):  # type: ignore[no-untyped-def]
    return {
        Role.CUSTOMER: w.customer_of(oid),
        Role.RESTAURANT: w.restaurant_of(oid),
        Role.SYSTEM: SYSTEM_ACTOR,
    }[role]


@pytest.mark.parametrize(("role", "status"), CASES, ids=[f"{r}-{s}" for r, s in CASES])
def test_cancel_matrix(role: Role, status: OrderStatus) -> None:
    w = make_world()
    oid = w.at(status)
    actor = _actor(w, role, oid)
    reason_before = w.order(oid).cancel_reason
    if status in EXPECTED[role]:
        out = w.svc.cancel(actor, oid, reason="Reason given")
        assert out["status"] == "CANCELLED"
        order = w.order(oid)
        assert order.cancelled_by == role.value and order.cancel_reason == "Reason given"
        assert order.history[-1].metadata["cancelled_by"] == role.value
    else:
        with pytest.raises(InvalidTransition) as err:
            w.svc.cancel(actor, oid, reason="Reason given")
        assert status.value in err.value.detail
        assert w.status(oid) is status
        assert w.order(oid).cancel_reason == reason_before


def test_riders_never_cancel() -> None:
    w = make_world()
    oid = w.at(S.ORDER_PICKED_UP)
    with pytest.raises(Forbidden, match="rider"):
        w.svc.cancel(w.rider_of(oid), oid, reason="Flat tyre")


@pytest.mark.parametrize("reason", [None, "", "   ", 5])
def test_restaurant_must_give_a_reason(reason: object) -> None:
    w = make_world()
    oid = w.at(S.PREPARING)
    with pytest.raises(ValidationFailed, match="reason") as err:
        w.svc.cancel(w.restaurant(0), oid, reason=reason)
    assert err.value.field == "reason"
    assert w.status(oid) is S.PREPARING


def test_customer_reason_is_optional_but_must_be_text() -> None:
    w = make_world()
    oid = w.place()
    with pytest.raises(ValidationFailed, match="reason"):
        w.svc.cancel(w.customer(0), oid, reason=["no"])
    out = w.svc.cancel(w.customer(0), oid)
    assert out["refund_status"] is None  # COD: nothing to refund
    assert w.order(oid).history[-1].description == "Order cancelled by customer"


def test_cancelling_an_assigned_order_frees_the_rider() -> None:
    w = make_world(riders=1)
    first = w.at(S.PREPARING)
    rider = w.rider_of(first)
    second = w.at(S.ORDER_CONFIRMED, customer=1)
    assert w.order(second).rider_id is None  # the only rider is busy
    w.svc.cancel(w.restaurant(0), first, reason="Oven broke down")
    assert w.order(first).delivery_status == "cancelled"
    # The freed rider takes the waiting order.
    assert w.order(second).rider_id == rider.user_id
