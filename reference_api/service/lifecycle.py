"""The one place an order's status changes: the transition check (one rule, one message), the
history entry, the events, the timers that stop applying, and each status's side effects.

The side effects are a table, ``Lifecycle.on_enter``: what happens on entering a status is read
next to that status's name, and a new status gets its effects by adding one row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reference_api import events as ev
from reference_api.errors import Conflict, InvalidTransition
from reference_api.model import Order, Refund
from reference_api.roles import Actor
from reference_api.service.core import Core, Part
from reference_api.service.dispatching import Dispatching
from reference_api.service.otps import Otps
from reference_api.states import (
    DeliveryStatus,
    PaymentMethod,
    PaymentStatus,
    RefundStatus,
    TimerKind,
)
from reference_api.statuses import DISPATCHABLE, TRANSITIONS, OrderStatus

S = OrderStatus
# The side effects read these on every move; an enum member read through its class is a lookup.
_DELIVERY_PICKED_UP = DeliveryStatus.PICKED_UP
_DELIVERY_OUT_FOR_DELIVERY = DeliveryStatus.OUT_FOR_DELIVERY
_DELIVERY_DELIVERED = DeliveryStatus.DELIVERED
_DELIVERY_CANCELLED = DeliveryStatus.CANCELLED
_METHOD_COD = PaymentMethod.COD
_METHOD_ONLINE = PaymentMethod.ONLINE
_PAY_PAID = PaymentStatus.PAID
_PAY_FAILED = PaymentStatus.FAILED
_PAY_REFUNDED = PaymentStatus.REFUNDED
_REFUND_PENDING = RefundStatus.PENDING
_TIMER_PICKUP_TIMEOUT = TimerKind.PICKUP_TIMEOUT
_TIMER_CONFIRM_TIMEOUT = TimerKind.CONFIRM_TIMEOUT
_TIMER_REFUND_STEP = TimerKind.REFUND_STEP

#: The rule timer armed while an order sits in a status; leaving the status disarms it (the rule
#: can no longer apply, so the store drops it rather than keep it until it would fire for nothing).
TIMER_WHILE: dict[OrderStatus, TimerKind] = {
    S.PAYMENT_PENDING: TimerKind.PAYMENT_TIMEOUT,
    S.ORDER_PLACED: TimerKind.CONFIRM_TIMEOUT,
    S.PAYMENT_SUCCESS: TimerKind.CONFIRM_TIMEOUT,
    S.READY_FOR_PICKUP: TimerKind.PICKUP_TIMEOUT,
}

Effect = Callable[[Order, OrderStatus, Actor, float], None]


def refuse_transition(order: Order, target: OrderStatus) -> InvalidTransition:
    """The one message for a move the transition table does not allow."""
    allowed = ", ".join(sorted(TRANSITIONS[order.status])) or "none (terminal)"
    return InvalidTransition(
        f"cannot move order {order.order_number} from {order.status.value} to "
        f"{target.value}; allowed next: {allowed}"
    )


class Lifecycle(Part):
    def __init__(self, core: Core, dispatching: Dispatching, otps: Otps) -> None:
        super().__init__(core)
        self.dispatching = dispatching
        self.otps = otps
        self.on_enter: dict[OrderStatus, Effect] = {
            S.ORDER_CONFIRMED: self._confirmed,
            S.PREPARING: self._preparing,
            S.READY_FOR_PICKUP: self._ready,
            S.ORDER_PICKED_UP: self._picked_up,
            S.OUT_FOR_DELIVERY: self._out_for_delivery,
            S.DELIVERED: self._delivered,
            S.PAYMENT_SUCCESS: self._paid,
            S.PAYMENT_FAILED: self._payment_failed,
            S.CANCELLED: self._cancelled,
            S.RESTAURANT_REJECTED: self._cancelled,
            S.REFUND_COMPLETED: self._refunded,
        }

    @staticmethod
    def require(order: Order, target: OrderStatus) -> None:
        """Refuse an illegal move before touching the order: no OTP attempt counted, no field
        written (a store commits what was mutated even when the call then fails)."""
        if target not in TRANSITIONS[order.status]:
            raise refuse_transition(order, target)

    def move(
        self,
        order: Order,
        target: OrderStatus,
        actor: Actor,
        description: str,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        previous = order.status
        if target not in TRANSITIONS[previous]:
            raise refuse_transition(order, target)
        if target is S.ORDER_PICKED_UP and order.rider_id is None:
            raise Conflict(
                f"order {order.order_number} has no delivery partner assigned yet; "
                "it cannot be picked up"
            )
        now = self.clock.now()
        order.status = target
        order.version += 1
        # ``_value_`` rather than ``.value``: the enum property costs a Python call per move.
        self.track(order, target._value_, description, actor, metadata, now)
        if self.sinks:
            # Before the side effects, so watchers see "confirmed" before "assigned" and
            # "delivered" before the freed rider's next assignment.
            by = actor.display
            self.publish(ev.STATUS_CHANGED, order, previous, now, by)
            specific = ev.SPECIFIC_EVENT.get(target)
            if specific is not None:
                self.publish(specific, order, previous, now, by)
        for observer in self.observers:
            observer.moved(order, previous, now)
        armed = TIMER_WHILE.get(previous)
        if armed is not None and TIMER_WHILE.get(target) is not armed:
            self.store.cancel_timer(order.id, armed)
        effect = self.on_enter.get(target)
        if effect is not None:
            effect(order, previous, actor, now)
        self.store.save_order(order)

    # ------------------------------------------------------------------ side effects
    def _confirmed(self, order: Order, previous: OrderStatus, actor: Actor, now: float) -> None:
        order.confirmed_at = now
        self.dispatching.try_assign(order)

    def _preparing(self, order: Order, previous: OrderStatus, actor: Actor, now: float) -> None:
        """The quoted preparation time runs from now (D26): an order that queued for the
        kitchen is ready later than its confirmation said. An order still waiting for a rider
        is offered again with the new estimate."""
        if order.prep_minutes is not None:
            order.estimated_ready_time = now + order.prep_minutes * 60
        if order.rider_id is None:
            self.dispatching.try_assign(order)

    def _ready(self, order: Order, previous: OrderStatus, actor: Actor, now: float) -> None:
        order.ready_at = now
        self.otps.issue(order, "pickup", now)
        self.arm(now + self.policy.pickup_timeout_s, _TIMER_PICKUP_TIMEOUT, order.id)
        if order.rider_id is None:
            self.dispatching.try_assign(order)

    def _picked_up(self, order: Order, previous: OrderStatus, actor: Actor, now: float) -> None:
        order.picked_up_at = now
        order.delivery_status = _DELIVERY_PICKED_UP

    def _out_for_delivery(
        self, order: Order, previous: OrderStatus, actor: Actor, now: float
    ) -> None:
        order.delivery_status = _DELIVERY_OUT_FOR_DELIVERY
        self.otps.issue(order, "delivery", now)

    def _delivered(self, order: Order, previous: OrderStatus, actor: Actor, now: float) -> None:
        order.delivered_at = now
        order.delivery_status = _DELIVERY_DELIVERED
        if order.payment_method == _METHOD_COD:
            order.payment_status = _PAY_PAID
        self.dispatching.release(order)

    def _paid(self, order: Order, previous: OrderStatus, actor: Actor, now: float) -> None:
        order.payment_status = _PAY_PAID
        self.arm(now + self.policy.confirm_timeout_s, _TIMER_CONFIRM_TIMEOUT, order.id)

    def _payment_failed(
        self, order: Order, previous: OrderStatus, actor: Actor, now: float
    ) -> None:
        order.payment_status = _PAY_FAILED

    def _cancelled(self, order: Order, previous: OrderStatus, actor: Actor, now: float) -> None:
        """Cancelled or rejected: release the rider (or drop the order from the waiting queue)
        and open a refund for what an online payment took."""
        order.cancelled_at = now
        order.cancelled_by = actor.role._value_
        if order.rider_id is not None:
            order.delivery_status = _DELIVERY_CANCELLED
            self.dispatching.release(order)
        elif previous in DISPATCHABLE:
            self.dispatching.order_gone(order.id)
        if order.payment_status == _PAY_PAID and order.payment_method == _METHOD_ONLINE:
            order.refund = Refund(self.uuid(), order.total_amount, _REFUND_PENDING, now, now)
            self.arm(now + self.policy.refund_processing_delay_s, _TIMER_REFUND_STEP, order.id)

    def _refunded(self, order: Order, previous: OrderStatus, actor: Actor, now: float) -> None:
        order.payment_status = _PAY_REFUNDED
