"""Every role guard, allowed and refused, through the service (D4): the right role on its own
order succeeds; the right role on someone else's order gets 404 (the spec's "not found or access
denied"); a wrong role gets 403. The expected roles are written out here, not read from
``permissions``, so a change to the data fails a test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from reference_api.errors import Forbidden, NotFound
from reference_api.permissions import can_see
from reference_api.roles import SYSTEM_ACTOR, Actor, Role
from reference_api.statuses import OrderStatus
from tests.core.conftest import World, make_world

S = OrderStatus
C, R, D, X = Role.CUSTOMER, Role.RESTAURANT, Role.RIDER, Role.SYSTEM
Call = Callable[[World, Actor, str], Any]


def _resend(kind: str) -> Call:
    def call(w: World, a: Actor, oid: str) -> Any:
        w.clock.advance(31)
        return w.svc.resend_otp(a, oid, otp_type=kind)

    return call


#: action -> (status the order is brought to, the call, roles allowed)
ORDER_ACTIONS: dict[str, tuple[OrderStatus, Call, set[Role]]] = {
    "confirm": (S.ORDER_PLACED, lambda w, a, o: w.svc.confirm(a, o), {R, X}),
    "reject": (S.ORDER_PLACED, lambda w, a, o: w.svc.reject(a, o, reason="Closed"), {R, X}),
    "start_preparing": (S.ORDER_CONFIRMED, lambda w, a, o: w.svc.start_preparing(a, o), {R, X}),
    "mark_ready": (S.PREPARING, lambda w, a, o: w.svc.mark_ready(a, o), {R, X}),
    "record_payment": (
        S.PAYMENT_PENDING,
        lambda w, a, o: w.svc.record_payment(a, o, success=True),
        {X},
    ),
    "pickup": (
        S.READY_FOR_PICKUP,
        lambda w, a, o: w.svc.pickup(a, o, otp=w.otp(o, "pickup")),
        {D, X},
    ),
    "start_delivery": (S.ORDER_PICKED_UP, lambda w, a, o: w.svc.start_delivery(a, o), {D, X}),
    "complete_delivery": (
        S.OUT_FOR_DELIVERY,
        lambda w, a, o: w.svc.complete_delivery(a, o, otp=w.otp(o, "delivery")),
        {D, X},
    ),
    "cancel": (S.ORDER_PLACED, lambda w, a, o: w.svc.cancel(a, o, reason="Because"), {C, R, X}),
    "verify_otp": (
        S.READY_FOR_PICKUP,
        lambda w, a, o: w.svc.verify_otp(a, o, otp=w.otp(o, "pickup"), otp_type="pickup"),
        {D, X},
    ),
    "get_pickup_otp": (
        S.READY_FOR_PICKUP,
        lambda w, a, o: w.svc.get_otp(a, o, otp_type="pickup"),
        {R, X},
    ),
    "get_delivery_otp": (
        S.OUT_FOR_DELIVERY,
        lambda w, a, o: w.svc.get_otp(a, o, otp_type="delivery"),
        {C, X},
    ),
    "resend_pickup_otp": (S.READY_FOR_PICKUP, _resend("pickup"), {R, D, X}),
    "resend_delivery_otp": (S.OUT_FOR_DELIVERY, _resend("delivery"), {C, D, X}),
    "get_order": (S.ORDER_CONFIRMED, lambda w, a, o: w.svc.get_order(a, o), {C, R, D, X}),
    "history": (S.ORDER_CONFIRMED, lambda w, a, o: w.svc.history(a, o), {C, R, D, X}),
    "eta": (S.ORDER_CONFIRMED, lambda w, a, o: w.svc.eta(a, o), {C, R, D, X}),
}

CASES = [(action, role) for action in ORDER_ACTIONS for role in Role]


def _owner(w: World, role: Role, oid: str) -> Actor:
    if role is C:
        return w.customer_of(oid)
    if role is R:
        return w.restaurant_of(oid)
    if role is D:
        return w.rider_of(oid)
    return SYSTEM_ACTOR


def _stranger(w: World, role: Role, oid: str) -> Actor:
    """Same role, someone else's order."""
    order = w.order(oid)
    if role is C:
        return next(a for a in w.fx.customers if a.user_id != order.customer_id)
    if role is R:
        return next(a for a in w.fx.restaurants if a.vendor_id != order.vendor_id)
    return next(a for a in w.fx.riders if a.user_id != order.rider_id)


def _world_for(action: str) -> tuple[World, str, Call, set[Role]]:
    status, call, allowed = ORDER_ACTIONS[action]
    w = make_world()
    return w, w.at(status), call, allowed


@pytest.mark.parametrize(("action", "role"), CASES, ids=[f"{a}-{r}" for a, r in CASES])
def test_role_guard(action: str, role: Role) -> None:
    w, oid, call, allowed = _world_for(action)
    status = w.status(oid)
    if role not in allowed:
        actor = w.rider(0) if role is D and w.order(oid).rider_id is None else None
        with pytest.raises(Forbidden) as err:
            call(w, actor or _owner(w, role, oid), oid)
        assert err.value.status_code == 403 and role.value in err.value.detail
        assert w.status(oid) is status
        return
    if role is not X:
        with pytest.raises(NotFound) as nf:
            call(w, _stranger(w, role, oid), oid)
        assert nf.value.status_code == 404 and oid in nf.value.detail
        assert w.status(oid) is status
    result = call(w, _owner(w, role, oid), oid)
    assert isinstance(result, dict)


@pytest.mark.parametrize(
    ("name", "call", "allowed"),
    [
        ("restaurant_queue", lambda w, a: w.svc.restaurant_queue(a), {R}),
        ("available_orders", lambda w, a: w.svc.available_orders(a), {D, X}),
        (
            "place_order",
            lambda w, a: w.svc.place_order(
                a,
                vendor_id=w.fx.vendors[0].id,
                items=[{"name": "x", "quantity": 1, "unit_price": "1.00"}],
                delivery_address={"latitude": 19.07, "longitude": 72.87},
            ),
            {C},
        ),
        (
            "set_rider_availability",
            lambda w, a: w.svc.set_rider_availability(a, available=False),
            {D},
        ),
        (
            "update_rider_location",
            lambda w, a: w.svc.update_rider_location(a, latitude=19.0, longitude=72.9),
            {D},
        ),
    ],
)
def test_role_guard_without_an_order(
    name: str, call: Callable[[World, Actor], Any], allowed: set[Role]
) -> None:
    w = make_world()
    actors = {C: w.customer(0), R: w.restaurant(0), D: w.rider(0), X: SYSTEM_ACTOR}
    for role, actor in actors.items():
        if role in allowed:
            assert isinstance(call(w, actor), dict)
        else:
            with pytest.raises(Forbidden) as err:
                call(w, actor)
            assert role.value in err.value.detail, name


def test_can_see_is_ownership() -> None:
    w = make_world()
    oid = w.at(S.ORDER_CONFIRMED)
    order = w.order(oid)
    assert can_see(w.customer_of(oid), order) and not can_see(w.customer(1), order)
    assert can_see(w.restaurant_of(oid), order) and not can_see(w.restaurant(1), order)
    assert can_see(w.rider_of(oid), order)
    assert not can_see(_stranger(w, D, oid), order)
    assert can_see(SYSTEM_ACTOR, order)
    # An unassigned order is invisible to every rider.
    placed = w.place(customer=1)
    assert not any(can_see(r, w.order(placed)) for r in w.fx.riders)


def test_missing_order_is_404_for_everyone(world: World) -> None:
    with pytest.raises(NotFound, match="nope"):
        world.svc.get_order(SYSTEM_ACTOR, "nope")
