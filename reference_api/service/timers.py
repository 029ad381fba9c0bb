"""The rules that fire after a delay (``TimerKind``): auto-cancel when a restaurant does not
confirm or nobody picks up, fail an unpaid order, walk a refund through processing to its
outcome, and wake the dispatch strategy when it asked to decide. A timer whose order has moved
on does nothing (the move normally disarms it)."""

from __future__ import annotations

import functools

from reference_api.model import Order, Timer
from reference_api.roles import SYSTEM_ACTOR
from reference_api.service.core import Core, Part
from reference_api.service.lifecycle import Lifecycle
from reference_api.service.refunds import RefundGateway
from reference_api.states import RefundStatus, TimerKind
from reference_api.statuses import AWAITING_CONFIRMATION, OrderStatus

S = OrderStatus
_CONFIRM_REASON = "Restaurant did not confirm within {:g} minutes"
_PICKUP_REASON = "No pickup within {:g} minutes of ready"


class Timers(Part):
    def __init__(self, core: Core, lifecycle: Lifecycle, refunds: RefundGateway) -> None:
        super().__init__(core)
        self.lifecycle = lifecycle
        self.refunds = refunds

    def next_due(self) -> float | None:
        with self.store.transaction():
            return self.store.next_timer_due()

    def process_due(self) -> list[tuple[str, str, str]]:
        """Apply every rule whose time has come; ``(kind, order_id, outcome)`` for each that
        did something."""
        fired: list[tuple[str, str, str]] = []
        now = self.clock.now()
        store = self.store
        while True:
            with store.transaction():
                for timer in store.pop_due_timers(now):
                    outcome = self._fire(timer, now)
                    if outcome:
                        fired.append((timer.kind, timer.order_id, outcome))
                # a rule with a zero delay may have armed a timer that is due already: run it too
                again = store.next_timer_due()
            if again is None or again > now:
                return fired

    def _fire(self, timer: Timer, now: float) -> str | None:
        if timer.kind == TimerKind.DISPATCH_ROUND:
            assigned = self.lifecycle.dispatching.round()
            return f"assigned {assigned}" if assigned else None
        order = self.store.get_order(timer.order_id)
        if order is None:
            return None
        p = self.policy
        kind = timer.kind
        if kind == TimerKind.CONFIRM_TIMEOUT and order.status in AWAITING_CONFIRMATION:
            reason = _timeout_reason(_CONFIRM_REASON, p.confirm_timeout_s)
            return self._system_cancel(order, reason, TimerKind.CONFIRM_TIMEOUT)
        if kind == TimerKind.PICKUP_TIMEOUT and order.status is S.READY_FOR_PICKUP:
            reason = _timeout_reason(_PICKUP_REASON, p.pickup_timeout_s)
            return self._system_cancel(order, reason, TimerKind.PICKUP_TIMEOUT)
        if kind == TimerKind.PAYMENT_TIMEOUT and order.status is S.PAYMENT_PENDING:
            self.lifecycle.move(
                order,
                S.PAYMENT_FAILED,
                SYSTEM_ACTOR,
                f"Payment not completed within {p.payment_timeout_s / 60:g} minutes",
                {"auto": "payment_timeout"},
            )
            return "payment_failed"
        if kind == TimerKind.REFUND_STEP and order.refund is not None:
            return self._refund_step(order, now)
        return None

    def _system_cancel(self, order: Order, reason: str, auto: TimerKind) -> str:
        order.cancel_reason = reason
        self.lifecycle.move(
            order,
            S.CANCELLED,
            SYSTEM_ACTOR,
            _system_cancel_description(reason),
            {"reason": reason, "cancelled_by": "system", "auto": auto._value_},
        )
        return "cancelled"

    def _refund_step(self, order: Order, now: float) -> str | None:
        """pending -> processing (after the processing delay) -> completed or failed (after the
        settle delay, as the gateway decides)."""
        refund = order.refund
        if refund is None:
            return None
        if refund.status == RefundStatus.PENDING:
            refund.status = RefundStatus.PROCESSING
            refund.updated_at = now
            self.track(
                order,
                order.status._value_,
                "Refund processing",
                SYSTEM_ACTOR,
                {"refund_id": refund.id, "refund_status": "processing"},
                now,
            )
            self.arm(now + self.policy.refund_settle_delay_s, TimerKind.REFUND_STEP, order.id)
            self.store.save_order(order)
            return "refund_processing"
        if refund.status == RefundStatus.PROCESSING:
            refund.updated_at = now
            if not self.refunds.settles(order, refund):
                refund.status = RefundStatus.FAILED
                self.track(
                    order,
                    order.status._value_,
                    "Refund failed; manual intervention required",
                    SYSTEM_ACTOR,
                    {"refund_id": refund.id, "refund_status": "failed"},
                    now,
                )
                self.store.save_order(order)
                return "refund_failed"
            refund.status = RefundStatus.COMPLETED
            self.lifecycle.move(
                order,
                S.REFUND_COMPLETED,
                SYSTEM_ACTOR,
                f"Refund of {refund.amount:.2f} completed",
                {"refund_id": refund.id, "refund_status": "completed"},
            )
            return "refund_completed"
        return None


# The texts of automatic cancellations depend only on the policy: formatted once, not per order.
@functools.lru_cache(maxsize=64)
def _timeout_reason(template: str, seconds: float) -> str:
    return template.format(seconds / 60)


@functools.lru_cache(maxsize=64)
def _system_cancel_description(reason: str) -> str:
    return f"Order cancelled by system: {reason}"
