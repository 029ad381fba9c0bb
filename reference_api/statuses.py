"""Order statuses, their display names, the spec's aliases and the transition table.

The spec names some states twice (``ORDER_CONFIRMED`` / ``RESTAURANT_CONFIRMED``, ...). We keep one
canonical code per state and accept the others on input; an action's response spells its status
as that action's section of the spec does (``ACTION_STATUS``); see docs/spec-decisions.md (D1).
Everything here is data so that the HTTP schema, the simulation and the load test import one fact.
"""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    ORDER_PLACED = "ORDER_PLACED"
    PAYMENT_PENDING = "PAYMENT_PENDING"
    PAYMENT_SUCCESS = "PAYMENT_SUCCESS"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    ORDER_CONFIRMED = "ORDER_CONFIRMED"
    RESTAURANT_REJECTED = "RESTAURANT_REJECTED"
    PREPARING = "PREPARING"
    READY_FOR_PICKUP = "READY_FOR_PICKUP"
    ORDER_PICKED_UP = "ORDER_PICKED_UP"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"
    REFUND_COMPLETED = "REFUND_COMPLETED"


S = OrderStatus

DISPLAY_NAMES: dict[OrderStatus, str] = {
    S.ORDER_PLACED: "Order Placed",
    S.PAYMENT_PENDING: "Payment Pending",
    S.PAYMENT_SUCCESS: "Payment Successful",
    S.PAYMENT_FAILED: "Payment Failed",
    S.ORDER_CONFIRMED: "Order Confirmed",
    S.RESTAURANT_REJECTED: "Rejected by Restaurant",
    S.PREPARING: "Food Being Prepared",
    S.READY_FOR_PICKUP: "Ready for Pickup",
    S.ORDER_PICKED_UP: "Order Picked Up",
    S.OUT_FOR_DELIVERY: "Out for Delivery",
    S.DELIVERED: "Delivered",
    S.CANCELLED: "Cancelled",
    S.REFUND_COMPLETED: "Refund Completed",
}

#: Tracking-only code: assignment is recorded in the history but is not an order status (D2).
DELIVERY_PARTNER_ASSIGNED = "DELIVERY_PARTNER_ASSIGNED"
TRACKING_ONLY_NAMES: dict[str, str] = {DELIVERY_PARTNER_ASSIGNED: "Delivery Partner Assigned"}

#: Spec spellings accepted on input, answered with the canonical code (D1).
ALIASES: dict[str, OrderStatus] = {
    "RESTAURANT_CONFIRMED": S.ORDER_CONFIRMED,
    "CONFIRMED": S.ORDER_CONFIRMED,
    "FOOD_BEING_PREPARED": S.PREPARING,
    "ORDER_PREPARING": S.PREPARING,
    "ORDER_READY_FOR_PICKUP": S.READY_FOR_PICKUP,
    "READY": S.READY_FOR_PICKUP,
    "PICKED_UP": S.ORDER_PICKED_UP,
    "ORDER_OUT_FOR_DELIVERY": S.OUT_FOR_DELIVERY,
    "ORDER_DELIVERED": S.DELIVERED,
    "ORDER_CANCELLED": S.CANCELLED,
    "REJECTED": S.RESTAURANT_REJECTED,
    "ORDER_REJECTED": S.RESTAURANT_REJECTED,
    "PAYMENT_COMPLETED": S.PAYMENT_SUCCESS,
}

#: The ``status`` each action endpoint answers, spelled as that action's own section of the spec
#: shows it (D1): action (``permissions.ACTION_ROLES``) -> the canonical status it moves the
#: order to -> the code its response reports. Only confirm's section spells it differently
#: (``RESTAURANT_CONFIRMED``, "Restaurant: Confirm Order"); the detail, list, history, events and
#: the generic endpoint's ``new_status`` keep the canonical code, as their examples show. The
#: payment callback (an extension) reports the outcome it recorded.
ACTION_STATUS: dict[str, dict[OrderStatus, str]] = {
    "confirm": {S.ORDER_CONFIRMED: "RESTAURANT_CONFIRMED"},
    "reject": {S.RESTAURANT_REJECTED: "RESTAURANT_REJECTED"},
    "start_preparing": {S.PREPARING: "PREPARING"},
    "mark_ready": {S.READY_FOR_PICKUP: "READY_FOR_PICKUP"},
    "pickup": {S.ORDER_PICKED_UP: "ORDER_PICKED_UP"},
    "start_delivery": {S.OUT_FOR_DELIVERY: "OUT_FOR_DELIVERY"},
    "complete_delivery": {S.DELIVERED: "DELIVERED"},
    "cancel": {S.CANCELLED: "CANCELLED"},
    "record_payment": {S.PAYMENT_SUCCESS: "PAYMENT_SUCCESS", S.PAYMENT_FAILED: "PAYMENT_FAILED"},
}

#: The transition table (D3): canonical codes only.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.ORDER_PLACED: frozenset({S.ORDER_CONFIRMED, S.RESTAURANT_REJECTED, S.CANCELLED}),
    S.PAYMENT_PENDING: frozenset({S.PAYMENT_SUCCESS, S.PAYMENT_FAILED, S.CANCELLED}),
    S.PAYMENT_SUCCESS: frozenset({S.ORDER_CONFIRMED, S.RESTAURANT_REJECTED, S.CANCELLED}),
    S.PAYMENT_FAILED: frozenset(),
    S.ORDER_CONFIRMED: frozenset({S.PREPARING, S.CANCELLED}),
    S.RESTAURANT_REJECTED: frozenset({S.REFUND_COMPLETED}),
    S.PREPARING: frozenset({S.READY_FOR_PICKUP, S.CANCELLED}),
    S.READY_FOR_PICKUP: frozenset({S.ORDER_PICKED_UP, S.CANCELLED}),
    S.ORDER_PICKED_UP: frozenset({S.OUT_FOR_DELIVERY, S.CANCELLED}),
    S.OUT_FOR_DELIVERY: frozenset({S.DELIVERED, S.CANCELLED}),
    S.DELIVERED: frozenset(),
    S.CANCELLED: frozenset({S.REFUND_COMPLETED}),
    S.REFUND_COMPLETED: frozenset(),
}

#: States in which an order is still moving toward delivery.
ACTIVE: frozenset[OrderStatus] = frozenset(
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
)

#: States the restaurant's queue shows (payment still pending orders are not the kitchen's yet).
RESTAURANT_QUEUE: frozenset[OrderStatus] = frozenset(
    {S.ORDER_PLACED, S.PAYMENT_SUCCESS, S.ORDER_CONFIRMED, S.PREPARING, S.READY_FOR_PICKUP}
)

#: States in which an order waits for the restaurant's confirmation (auto-cancel timer runs).
AWAITING_CONFIRMATION: frozenset[OrderStatus] = frozenset({S.ORDER_PLACED, S.PAYMENT_SUCCESS})

#: States in which a rider may be assigned (D2: assignment starts at confirmation).
DISPATCHABLE: frozenset[OrderStatus] = frozenset(
    {S.ORDER_CONFIRMED, S.PREPARING, S.READY_FOR_PICKUP}
)

#: States hidden by ``include_cancelled=false`` on the list endpoint (D9).
CANCELLED_LINEAGE: frozenset[OrderStatus] = frozenset({S.CANCELLED, S.REFUND_COMPLETED})

TERMINAL: frozenset[OrderStatus] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)


def parse_status(code: str) -> OrderStatus:
    """Map a canonical code or a spec alias to the canonical status; ``ValueError`` otherwise."""
    try:
        return OrderStatus(code)
    except ValueError:
        pass
    alias = ALIASES.get(code)
    if alias is None:
        known = ", ".join(sorted([*OrderStatus.__members__, *ALIASES]))
        raise ValueError(f"unknown status code {code!r}; known codes: {known}")
    return alias


def display_name(code: str) -> str:
    try:
        return DISPLAY_NAMES[OrderStatus(code)]
    except ValueError:
        return TRACKING_ONLY_NAMES.get(code, code)
