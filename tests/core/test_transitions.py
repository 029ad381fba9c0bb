"""Every cell of the transition table, through the service (D3, D11): each (status, target) pair
is either performed or refused with a 400 that leaves the order untouched."""

from __future__ import annotations

import pytest

from reference_api.errors import Conflict, Forbidden, InvalidTransition, ValidationFailed
from reference_api.permissions import TARGET_ACTION
from reference_api.roles import SYSTEM_ACTOR
from reference_api.statuses import TERMINAL, TRANSITIONS, OrderStatus
from tests.core.conftest import World, make_world

S = OrderStatus
PAIRS = [(src, dst) for src in OrderStatus for dst in TARGET_ACTION]


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_generic_endpoint_follows_the_table(source: OrderStatus, target: OrderStatus) -> None:
    w = make_world()
    oid = w.at(source)
    before = [e.id for e in w.order(oid).history]
    if target in TRANSITIONS[source]:
        out = w.svc.update_status(SYSTEM_ACTOR, oid, status_code=target.value, reason="admin")
        assert out["success"] is True
        assert (out["previous_status"], out["new_status"]) == (source.value, target.value)
        assert w.status(oid) is target
        entry = next(e for e in w.order(oid).history if e.id == out["tracking_id"])
        assert entry.status == target.value
    else:
        with pytest.raises(InvalidTransition) as err:
            w.svc.update_status(SYSTEM_ACTOR, oid, status_code=target.value, reason="admin")
        assert source.value in err.value.detail and target.value in err.value.detail
        assert err.value.status_code == 400
        assert w.status(oid) is source
        assert [e.id for e in w.order(oid).history] == before


@pytest.mark.parametrize("source", [S.CANCELLED, S.RESTAURANT_REJECTED])
def test_refund_completed_is_reached_only_by_refund_processing(source: OrderStatus) -> None:
    w = make_world()
    oid = w.place("online")
    w.svc.record_payment(SYSTEM_ACTOR, oid, success=True)
    if source is S.CANCELLED:
        w.svc.cancel(w.customer(0), oid)
    else:
        w.svc.reject(w.restaurant(0), oid, reason="Closed")
    with pytest.raises(InvalidTransition, match="refund processing"):
        w.svc.update_status(SYSTEM_ACTOR, oid, status_code="REFUND_COMPLETED")
    w.elapse(w.svc.policy.refund_processing_delay_s)
    w.elapse(w.svc.policy.refund_settle_delay_s)
    assert w.status(oid) is S.REFUND_COMPLETED


@pytest.mark.parametrize("code", ["ORDER_PLACED", "PAYMENT_PENDING"])
def test_initial_statuses_cannot_be_set(code: str) -> None:
    w = make_world()
    oid = w.place("cod")
    with pytest.raises(InvalidTransition, match="checkout"):
        w.svc.update_status(SYSTEM_ACTOR, oid, status_code=code)


def test_terminal_states_have_no_exit() -> None:
    assert {S.DELIVERED, S.PAYMENT_FAILED, S.REFUND_COMPLETED} == TERMINAL
    # Rejection and cancellation lead on only to the refund (D3).
    assert TRANSITIONS[S.RESTAURANT_REJECTED] == {S.REFUND_COMPLETED}
    assert TRANSITIONS[S.CANCELLED] == {S.REFUND_COMPLETED}


def test_online_orders_start_at_payment_pending_after_a_placed_entry(world: World) -> None:
    oid = world.place("online")
    assert world.status(oid) is S.PAYMENT_PENDING
    assert [e.status for e in world.order(oid).history] == ["ORDER_PLACED", "PAYMENT_PENDING"]
    cod = world.place("cod", customer=1)
    assert [e.status for e in world.order(cod).history] == ["ORDER_PLACED"]


def test_rejection_is_possible_from_placed_and_paid_but_not_later() -> None:
    w = make_world()
    assert w.at(S.RESTAURANT_REJECTED)  # from ORDER_PLACED (COD)
    paid = w.at(S.PAYMENT_SUCCESS, customer=1)
    w.svc.reject(w.restaurant(0), paid, reason="Closed")
    assert w.status(paid) is S.RESTAURANT_REJECTED
    confirmed = w.at(S.ORDER_CONFIRMED, customer=2)
    with pytest.raises(InvalidTransition):
        w.svc.reject(w.restaurant(0), confirmed, reason="Too late")
    # A refused rejection writes nothing on the order.
    assert w.order(confirmed).cancel_reason is None


def test_refused_confirm_leaves_no_trace(world: World) -> None:
    oid = world.place("online")
    with pytest.raises(InvalidTransition):
        world.svc.confirm(world.restaurant(0), oid, estimated_prep_time=30)
    order = world.order(oid)
    assert order.estimated_ready_time is None and order.prep_minutes is None


def test_generic_endpoint_runs_the_same_guards_as_dedicated_ones(world: World) -> None:
    oid = world.place("cod")
    with pytest.raises(Forbidden):
        world.svc.update_status(world.customer(0), oid, status_code="ORDER_CONFIRMED")
    out = world.svc.update_status(
        world.restaurant(0), oid, status_code="ORDER_CONFIRMED", metadata={"x": 1}
    )
    # The tracking id names the status change, not the assignment recorded right after it.
    entry = next(e for e in world.order(oid).history if e.id == out["tracking_id"])
    assert entry.status == "ORDER_CONFIRMED"
    assert entry.metadata == {"estimated_prep_time": 20, "x": 1}
    assert world.order(oid).history[-1].status == "DELIVERY_PARTNER_ASSIGNED"


def test_generic_pickup_needs_an_otp_from_a_rider_but_not_from_the_system() -> None:
    w = make_world()
    oid = w.at(S.READY_FOR_PICKUP)
    rider = w.rider_of(oid)
    with pytest.raises(ValidationFailed, match=r"metadata\.otp"):
        w.svc.update_status(rider, oid, status_code="ORDER_PICKED_UP")
    w.svc.update_status(rider, oid, status_code="PICKED_UP", metadata={"otp": w.otp(oid, "pickup")})
    assert w.status(oid) is S.ORDER_PICKED_UP
    assert w.order(oid).history[-1].metadata == {"otp_verified": True}
    w.svc.start_delivery(rider, oid)
    w.svc.update_status(SYSTEM_ACTOR, oid, status_code="DELIVERED")
    assert w.order(oid).history[-1].metadata == {"otp_verified": False}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"status_code": 7}, "status_code"),
        ({"status_code": "TELEPORTED"}, "status_code"),
        ({"status_code": "PREPARING", "metadata": ["x"]}, "metadata"),
        ({"status_code": "PREPARING", "reason": 3}, "reason"),
    ],
)
def test_generic_endpoint_names_bad_input(kwargs: dict[str, object], field: str) -> None:
    w = make_world()
    oid = w.at(S.ORDER_CONFIRMED)
    with pytest.raises(ValidationFailed) as err:
        w.svc.update_status(SYSTEM_ACTOR, oid, **kwargs)  # type: ignore[arg-type]
    assert err.value.field == field and field in err.value.detail


def test_no_pickup_without_an_assigned_rider_even_by_the_system() -> None:
    w = make_world(riders_available=False)
    oid = w.at(OrderStatus.READY_FOR_PICKUP)
    assert w.svc.get_order(SYSTEM_ACTOR, oid)["delivery_person"] is None
    with pytest.raises(Conflict, match="no delivery partner assigned"):
        w.svc.update_status(SYSTEM_ACTOR, oid, status_code="ORDER_PICKED_UP")
    assert w.svc.get_order(SYSTEM_ACTOR, oid)["order_status"] == "READY_FOR_PICKUP"


def _nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("target", "metadata", "field"),
    [
        # the store keeps metadata in the order's document; its encoder stops at a fixed depth
        (S.CANCELLED, {"x": _nested(300)}, "metadata"),
        (S.CANCELLED, {"x": float("nan")}, "metadata"),
        (S.CANCELLED, {"x": [2**70]}, "metadata"),
        (S.CANCELLED, {"x": {1: "a"}}, "metadata"),
        (S.CANCELLED, {"x": object()}, "metadata"),
        (S.ORDER_CONFIRMED, {"estimated_prep_time": 10**10}, "metadata.estimated_prep_time"),
        (S.ORDER_CONFIRMED, {"estimated_prep_time": 10**5000}, "metadata"),
        (S.ORDER_PICKED_UP, {"otp": 123456}, "metadata.otp"),
        (S.ORDER_PICKED_UP, {"otp": "\u0661" * 6}, "metadata.otp"),
        (S.PAYMENT_SUCCESS, {"transaction_id": 7}, "metadata.transaction_id"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_generic_metadata_is_bounded_and_errors_name_its_path(
    target: OrderStatus, metadata: dict[str, object], field: str
) -> None:
    w = make_world()
    oid = (
        w.place("online")
        if target is S.PAYMENT_SUCCESS
        else w.at(S.READY_FOR_PICKUP if target is S.ORDER_PICKED_UP else S.ORDER_PLACED)
    )
    before = len(w.order(oid).history)
    with pytest.raises(ValidationFailed) as err:
        w.svc.update_status(SYSTEM_ACTOR, oid, status_code=target.value, metadata=metadata)
    assert err.value.field == field and err.value.detail.startswith(field)
    assert len(w.order(oid).history) == before
