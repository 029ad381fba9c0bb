"""The order's secondary states (payment, delivery, refund) and the kinds of rule timer.

String enums, so a value compares, hashes and serialises as the text the spec and the stored
documents use ("paid", "confirm_timeout"): stores and responses need no translation, and the
simulation imports the names instead of restating the strings.
"""

from __future__ import annotations

from enum import StrEnum


class PaymentMethod(StrEnum):
    COD = "cod"
    ONLINE = "online"


class PaymentStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    REFUNDED = "refunded"


class DeliveryStatus(StrEnum):
    UNASSIGNED = "unassigned"
    ASSIGNED = "assigned"
    PICKED_UP = "picked_up"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class RefundStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


#: Refunds still under way: an order holding one has not reached its final state.
OPEN_REFUND = frozenset({RefundStatus.PENDING, RefundStatus.PROCESSING})


class TimerKind(StrEnum):
    """The rules that fire after a delay (see ``service.timers``)."""

    CONFIRM_TIMEOUT = "confirm_timeout"
    PAYMENT_TIMEOUT = "payment_timeout"
    PICKUP_TIMEOUT = "pickup_timeout"
    REFUND_STEP = "refund_step"
    #: a dispatch strategy asked to decide at this time (not about one order: see
    #: ``DISPATCH_TIMER_ORDER``)
    DISPATCH_ROUND = "dispatch_round"


#: The ``order_id`` of the one pending ``DISPATCH_ROUND`` timer (no order has this id).
DISPATCH_TIMER_ORDER = "dispatch"
