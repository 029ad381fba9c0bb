"""``POST /status/``, the generic status endpoint (D11): it routes a target status to the action
that performs it (``permissions.TARGET_ACTION``), so role guards and side effects are the same as
on the dedicated endpoints, and answers with the move's own history entry."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reference_api import otp as otp_rules
from reference_api.errors import InvalidTransition, ValidationFailed
from reference_api.model import Order
from reference_api.permissions import TARGET_ACTION
from reference_api.presenters import status_update
from reference_api.roles import Actor, Role
from reference_api.service import parsing
from reference_api.service.commands import Commands
from reference_api.service.core import Core, Part
from reference_api.statuses import OrderStatus

S = OrderStatus
#: (actor, the order as it stands, target, reason, metadata): performs the move.
Route = Callable[[Actor, Order, OrderStatus, "str | None", dict[str, Any]], None]


class StatusRoute(Part):
    def __init__(self, core: Core, commands: Commands) -> None:
        super().__init__(core)
        self.commands = commands
        self.routes: dict[str, Route] = {
            "confirm": self._confirm,
            "reject": self._reject,
            "start_preparing": self._start_preparing,
            "mark_ready": self._mark_ready,
            "record_payment": self._record_payment,
            "cancel": self._cancel,
            "start_delivery": self._start_delivery,
            "pickup": self._otp_guarded,
            "complete_delivery": self._otp_guarded,
        }

    def update_status(
        self,
        actor: Actor,
        order_id: str,
        status_code: object,
        reason: object,
        metadata: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        target = parsing.status_code(status_code, "status_code")
        meta = parsing.metadata(metadata)
        text = parsing.optional_text(reason, "reason")
        with self.store.transaction():
            order = self.visible(actor, order_id)
            previous = order.status._value_
            mark = len(order.history)
            action = TARGET_ACTION.get(target)
            if action is None:
                how = (
                    "by refund processing"
                    if target is S.REFUND_COMPLETED
                    else "at checkout (place_order)"
                )
                raise InvalidTransition(
                    f"status_code: {target.value} is set {how}, not through this endpoint",
                    field="status_code",
                )
            self.routes[action](actor, order, target, text, meta)
            # the status change itself, not e.g. an assignment that followed it
            return status_update(order, previous, order.history[mark])

    def _confirm(
        self, actor: Actor, order: Order, target: S, reason: str | None, meta: dict[str, Any]
    ) -> None:
        prep = meta.pop("estimated_prep_time", None)
        if prep is not None:  # parsed here to name its place in this request's body
            prep = parsing.prep_minutes(prep, 0, "metadata.estimated_prep_time")
        self.commands.confirm(actor, order.id, prep, reason, meta)

    def _reject(
        self, actor: Actor, order: Order, target: S, reason: str | None, meta: dict[str, Any]
    ) -> None:
        self.commands.reject(actor, order.id, reason)

    def _start_preparing(
        self, actor: Actor, order: Order, target: S, reason: str | None, meta: dict[str, Any]
    ) -> None:
        self.commands.start_preparing(actor, order.id, reason, meta)

    def _mark_ready(
        self, actor: Actor, order: Order, target: S, reason: str | None, meta: dict[str, Any]
    ) -> None:
        self.commands.mark_ready(actor, order.id, reason, meta)

    def _record_payment(
        self, actor: Actor, order: Order, target: S, reason: str | None, meta: dict[str, Any]
    ) -> None:
        success = target is S.PAYMENT_SUCCESS
        reference = parsing.optional_text(meta.get("transaction_id"), "metadata.transaction_id")
        self.commands.record_payment(actor, order.id, success, reference)

    def _cancel(
        self, actor: Actor, order: Order, target: S, reason: str | None, meta: dict[str, Any]
    ) -> None:
        self.commands.cancel(actor, order.id, reason, meta)

    def _start_delivery(
        self, actor: Actor, order: Order, target: S, reason: str | None, meta: dict[str, Any]
    ) -> None:
        self.commands.start_delivery(actor, order.id)

    def _otp_guarded(
        self, actor: Actor, order: Order, target: S, reason: str | None, meta: dict[str, Any]
    ) -> None:
        """Riders pass ``metadata.otp``; the system may override without one (an admin
        correction, recorded in the history as unverified)."""
        if actor.role is Role.SYSTEM and "otp" not in meta:
            verb = "picked up" if target is S.ORDER_PICKED_UP else "delivered"
            description = f"Marked {verb} by system (no OTP)"
            self.commands.lifecycle.move(order, target, actor, description, {"otp_verified": False})
            return
        if "otp" not in meta:
            raise ValidationFailed(
                f"metadata.otp: required to move to {target.value}", field="metadata.otp"
            )
        # parsed here to name their place in this request's body
        code = otp_rules.validate_format(meta["otp"], field="metadata.otp")
        if target is S.ORDER_PICKED_UP:
            self.commands.pickup(actor, order.id, code)
        else:
            notes = parsing.optional_text(meta.get("delivery_notes"), "metadata.delivery_notes")
            self.commands.complete_delivery(actor, order.id, code, notes)
