"""Who may do what, as data (D4, D5): the roles allowed per action, the states each role may
cancel from, which status an action moves to, and whose orders each role can see."""

from __future__ import annotations

from reference_api.model import Order
from reference_api.roles import Actor, Role
from reference_api.statuses import OrderStatus

S = OrderStatus
C, R, D, X = Role.CUSTOMER, Role.RESTAURANT, Role.RIDER, Role.SYSTEM
ALL = frozenset(Role)

ACTION_ROLES: dict[str, frozenset[Role]] = {
    "place_order": frozenset({C}),
    "get_order": ALL,
    "list_orders": ALL,
    "history": ALL,
    "eta": ALL,
    "update_status": ALL,  # narrowed by the target status below
    "record_payment": frozenset({X}),
    "confirm": frozenset({R, X}),
    "reject": frozenset({R, X}),
    "start_preparing": frozenset({R, X}),
    "mark_ready": frozenset({R, X}),
    "restaurant_queue": frozenset({R}),
    "available_orders": frozenset({D, X}),
    "pickup": frozenset({D, X}),
    "start_delivery": frozenset({D, X}),
    "complete_delivery": frozenset({D, X}),
    "cancel": frozenset({C, R, X}),
    "otp_verify": frozenset({D, X}),
    "rider_update": frozenset({D}),
}

#: Reading an OTP: restaurant for pickup, customer for delivery (spec, OTP section).
OTP_READERS: dict[str, frozenset[Role]] = {
    "pickup": frozenset({R, X}),
    "delivery": frozenset({C, X}),
}
#: Asking for a new code: whoever holds it, or the rider who needs it.
OTP_RESENDERS: dict[str, frozenset[Role]] = {
    "pickup": frozenset({R, D, X}),
    "delivery": frozenset({C, D, X}),
}

#: States from which each role may cancel (D5).
CANCEL_FROM: dict[Role, frozenset[OrderStatus]] = {
    C: frozenset({S.ORDER_PLACED, S.PAYMENT_PENDING, S.PAYMENT_SUCCESS, S.ORDER_CONFIRMED}),
    R: frozenset(
        {S.ORDER_PLACED, S.PAYMENT_SUCCESS, S.ORDER_CONFIRMED, S.PREPARING, S.READY_FOR_PICKUP}
    ),
    X: frozenset(
        {
            S.ORDER_PLACED,
            S.PAYMENT_PENDING,
            S.PAYMENT_SUCCESS,
            S.ORDER_CONFIRMED,
            S.PREPARING,
            S.READY_FOR_PICKUP,
            S.ORDER_PICKED_UP,
            S.OUT_FOR_DELIVERY,
        }
    ),
    D: frozenset(),
}

#: Roles whose cancellation must carry a reason.
REASON_REQUIRED: frozenset[Role] = frozenset({R})

#: The generic status endpoint maps a target status to the action that performs it (D11).
TARGET_ACTION: dict[OrderStatus, str] = {
    S.PAYMENT_SUCCESS: "record_payment",
    S.PAYMENT_FAILED: "record_payment",
    S.ORDER_CONFIRMED: "confirm",
    S.RESTAURANT_REJECTED: "reject",
    S.PREPARING: "start_preparing",
    S.READY_FOR_PICKUP: "mark_ready",
    S.ORDER_PICKED_UP: "pickup",
    S.OUT_FOR_DELIVERY: "start_delivery",
    S.DELIVERED: "complete_delivery",
    S.CANCELLED: "cancel",
}


def can_see(actor: Actor, order: Order) -> bool:
    return can_see_owned(actor, order.customer_id, order.vendor_id, order.rider_id)


def can_see_owned(actor: Actor, customer_id: str, vendor_id: str, rider_id: str | None) -> bool:
    """``can_see`` from an order's owner ids alone (a read that has not loaded the order)."""
    role = actor.role
    if role is Role.CUSTOMER:
        return customer_id == actor.user_id
    if role is Role.RESTAURANT:
        return vendor_id == actor.vendor_id
    if role is Role.RIDER:
        return rider_id == actor.user_id
    return True
