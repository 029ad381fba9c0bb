"""The action endpoints on one order: the restaurant's (confirm, reject, start preparing, mark
ready), the payment callback, the rider's (pickup, start delivery, complete) and cancellation.

Each checks the role, parses its arguments, refuses an illegal move before touching the order,
then makes the move through ``Lifecycle`` and answers with the spec's shape (``presenters``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reference_api.clock import iso
from reference_api.errors import InvalidTransition, InvariantBroken
from reference_api.permissions import CANCEL_FROM, REASON_REQUIRED
from reference_api.presenters import action_result, refund_status
from reference_api.roles import Actor
from reference_api.service import parsing
from reference_api.service.core import Core, Part
from reference_api.service.lifecycle import Lifecycle
from reference_api.service.otps import Otps
from reference_api.statuses import ACTIVE, OrderStatus

S = OrderStatus


class Commands(Part):
    def __init__(self, core: Core, lifecycle: Lifecycle, otps: Otps) -> None:
        super().__init__(core)
        self.lifecycle = lifecycle
        self.otps = otps

    # ------------------------------------------------------------------ restaurant
    def confirm(
        self,
        actor: Actor,
        order_id: str,
        estimated_prep_time: object,
        reason: str | None,
        metadata: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        self.authorize(actor, "confirm")
        prep = parsing.prep_minutes(estimated_prep_time, self.policy.default_prep_minutes)
        with self.store.transaction():
            order = self.visible(actor, order_id)
            lifecycle = self.lifecycle
            lifecycle.require(order, S.ORDER_CONFIRMED)
            order.prep_minutes = prep
            ready = order.estimated_ready_time = self.clock.now() + prep * 60
            meta = {"estimated_prep_time": prep, **(metadata or {})}
            description = reason or "Restaurant confirmed order"
            lifecycle.move(order, S.ORDER_CONFIRMED, actor, description, meta)
            return action_result(
                order, "confirm", "Order confirmed successfully", estimated_ready_time=iso(ready)
            )

    def reject(self, actor: Actor, order_id: str, reason: object) -> dict[str, Any]:
        """Extension: the restaurant declines an order it has not confirmed (D3)."""
        self.authorize(actor, "reject")
        text = parsing.require_reason(reason)
        with self.store.transaction():
            order = self.visible(actor, order_id)
            self.lifecycle.require(order, S.RESTAURANT_REJECTED)
            order.cancel_reason = text
            description = f"Rejected by restaurant: {text}"
            self.lifecycle.move(order, S.RESTAURANT_REJECTED, actor, description, {"reason": text})
            return action_result(
                order, "reject", "Order rejected", refund_status=refund_status(order)
            )

    def start_preparing(
        self, actor: Actor, order_id: str, reason: str | None, metadata: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        self.authorize(actor, "start_preparing")
        with self.store.transaction():
            order = self.visible(actor, order_id)
            description = reason or "Restaurant started preparing order"
            meta = dict(metadata) if metadata else None
            self.lifecycle.move(order, S.PREPARING, actor, description, meta)
            return action_result(order, "start_preparing", "Order preparation started")

    def mark_ready(
        self, actor: Actor, order_id: str, reason: str | None, metadata: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        self.authorize(actor, "mark_ready")
        with self.store.transaction():
            order = self.visible(actor, order_id)
            description = reason or "Order ready for pickup"
            meta = dict(metadata) if metadata else None
            self.lifecycle.move(order, S.READY_FOR_PICKUP, actor, description, meta)
            ready = order.ready_at
            if ready is None:
                raise InvariantBroken(f"order {order.order_number} ready with no ready time")
            return action_result(
                order, "mark_ready", "Order marked ready for pickup", ready_time=iso(ready)
            )

    # ------------------------------------------------------------------ payment (extension)
    def record_payment(
        self, actor: Actor, order_id: str, success: bool, reference: str | None
    ) -> dict[str, Any]:
        """The payment gateway's callback (role system): PAYMENT_PENDING -> SUCCESS | FAILED."""
        self.authorize(actor, "record_payment")
        with self.store.transaction():
            order = self.visible(actor, order_id)
            target = S.PAYMENT_SUCCESS if success else S.PAYMENT_FAILED
            meta = {"transaction_id": reference} if reference else None
            description = "Payment received" if success else "Payment failed"
            self.lifecycle.move(order, target, actor, description, meta)
            return action_result(order, "record_payment", description)

    # ------------------------------------------------------------------ rider
    def pickup(self, actor: Actor, order_id: str, otp: object) -> dict[str, Any]:
        self.authorize(actor, "pickup")
        with self.store.transaction():
            order = self.rider_order(actor, order_id)
            self.lifecycle.require(order, S.ORDER_PICKED_UP)
            self.otps.consume(order, "pickup", otp)
            self.lifecycle.move(
                order,
                S.ORDER_PICKED_UP,
                actor,
                "Order picked up by delivery partner",
                {"otp_verified": True},
            )
            return action_result(order, "pickup", "Order picked up successfully")

    def start_delivery(self, actor: Actor, order_id: str) -> dict[str, Any]:
        self.authorize(actor, "start_delivery")
        with self.store.transaction():
            order = self.rider_order(actor, order_id)
            description = "Delivery partner started delivery"
            self.lifecycle.move(order, S.OUT_FOR_DELIVERY, actor, description)
            return action_result(order, "start_delivery", "Delivery started")

    def complete_delivery(
        self, actor: Actor, order_id: str, otp: object, delivery_notes: object
    ) -> dict[str, Any]:
        self.authorize(actor, "complete_delivery")
        notes = parsing.optional_text(delivery_notes, "delivery_notes")
        with self.store.transaction():
            order = self.rider_order(actor, order_id)
            self.lifecycle.require(order, S.DELIVERED)
            self.otps.consume(order, "delivery", otp)
            order.delivery_notes = notes
            meta: dict[str, Any] = {"otp_verified": True}
            if notes:
                meta["delivery_notes"] = notes
            self.lifecycle.move(order, S.DELIVERED, actor, "Order delivered", meta)
            delivered = order.delivered_at
            if delivered is None:
                raise InvariantBroken(f"order {order.order_number} delivered with no time")
            return action_result(
                order,
                "complete_delivery",
                "Order delivered successfully",
                actual_delivery_time=iso(delivered),
            )

    # ------------------------------------------------------------------ cancellation
    def cancel(
        self, actor: Actor, order_id: str, reason: object, metadata: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """Cancellation by role and status (D5): a refusal says from which statuses the role
        may cancel; a finished order gets the transition table's message."""
        self.authorize(actor, "cancel")
        role = actor.role
        text = (
            parsing.require_reason(reason)
            if role in REASON_REQUIRED
            else parsing.optional_reason(reason)
        )
        with self.store.transaction():
            order = self.visible(actor, order_id)
            allowed_from = CANCEL_FROM[role]
            if order.status not in allowed_from:
                if order.status in ACTIVE:
                    raise InvalidTransition(
                        f"a {role.value} cannot cancel order {order.order_number} in "
                        f"status {order.status.value}; allowed from: "
                        f"{', '.join(sorted(allowed_from))}"
                    )
                self.lifecycle.require(order, S.CANCELLED)
            order.cancel_reason = text
            meta = {"reason": text, "cancelled_by": role._value_, **(metadata or {})}
            description = f"Order cancelled by {role._value_}" + (f": {text}" if text else "")
            self.lifecycle.move(order, S.CANCELLED, actor, description, meta)
            return action_result(
                order, "cancel", "Order cancelled successfully", refund_status=refund_status(order)
            )
