"""Small integer codes for the categorical columns the model logs millions of times; the run
directory writes them back as dictionary-encoded strings, so files stay readable."""

from __future__ import annotations

from reference_api.endpoints import ENDPOINTS
from reference_api.roles import Role
from reference_api.statuses import DELIVERY_PARTNER_ASSIGNED, OrderStatus

ROLES: tuple[str, ...] = tuple(r.value for r in Role)
ROLE = {r: i for i, r in enumerate(Role)}
ROLE_BY_VALUE = {r.value: i for i, r in enumerate(Role)}

ENDPOINT_NAMES: tuple[str, ...] = tuple(e.name for e in ENDPOINTS.values())
EP = {op: i for i, op in enumerate(ENDPOINTS)}

OUTCOMES: tuple[str, ...] = (
    "ok",
    "validation_error",
    "not_found",
    "forbidden",
    "invalid_transition",
    "conflict",
    "otp_invalid",
    "otp_expired",
    "otp_locked",
    "otp_not_issued",
    "throttled",
    "error",
)
OUTCOME = {name: i for i, name in enumerate(OUTCOMES)}

STATUSES: tuple[str, ...] = (*(s.value for s in OrderStatus), DELIVERY_PARTNER_ASSIGNED)
STATUS = {name: i for i, name in enumerate(STATUSES)}

#: Why an order ended without delivery (empty for delivered or still in flight).
REASONS: tuple[str, ...] = (
    "",
    "customer_changed_mind",
    "customer_impatient",
    "restaurant_out_of_stock",
    "restaurant_rejected",
    "confirm_timeout",
    "pickup_timeout",
    "payment_declined",
    "payment_timeout",
)
REASON = {name: i for i, name in enumerate(REASONS)}

PAYMENT_METHODS: tuple[str, ...] = ("cod", "online")
REFUND_STATES: tuple[str, ...] = ("", "pending", "processing", "completed", "failed")
REFUND_STATE = {name: i for i, name in enumerate(REFUND_STATES)}

#: Phase timestamp columns of the orders table, in lifecycle order.
PHASES: tuple[str, ...] = (
    "placed",
    "paid",
    "confirmed",
    "prep_start",
    "ready",
    "assigned",
    "rider_arrived",
    "picked_up",
    "out_for_delivery",
    "delivered",
    "cancelled",
    "ended",
    "refunded",
)
(
    PLACED,
    PAID,
    CONFIRMED,
    PREP_START,
    READY,
    ASSIGNED,
    RIDER_ARRIVED,
    PICKED_UP,
    OUT_FOR_DELIVERY,
    DELIVERED,
    CANCELLED,
    ENDED,
    REFUNDED,
) = range(len(PHASES))

#: The phase a status change stamps.
STATUS_PHASE: dict[OrderStatus, int] = {
    OrderStatus.PAYMENT_SUCCESS: PAID,
    OrderStatus.ORDER_CONFIRMED: CONFIRMED,
    OrderStatus.PREPARING: PREP_START,
    OrderStatus.READY_FOR_PICKUP: READY,
    OrderStatus.ORDER_PICKED_UP: PICKED_UP,
    OrderStatus.OUT_FOR_DELIVERY: OUT_FOR_DELIVERY,
    OrderStatus.DELIVERED: DELIVERED,
    OrderStatus.CANCELLED: CANCELLED,
    OrderStatus.REFUND_COMPLETED: REFUNDED,
}
