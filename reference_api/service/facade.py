"""``OrderService``: the in-process API, one method per endpoint of the spec plus checkout,
payment and rider updates (which the spec implies but does not define). Each takes the acting
user and returns the spec's response shape as plain data; errors are typed
(``reference_api.errors``).

A facade: every method delegates to the part that owns its concern (see ``docs/architecture.md``).
The simulation calls it directly at SimPy time; the HTTP app is a thin adapter over it. Clock,
randomness, store, dispatch index, refund gateway and event sinks are injected (``bootstrap``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from typing import Any

from reference_api import events as ev
from reference_api.clock import Clock
from reference_api.dispatch import DispatchSpec, DispatchStrategy
from reference_api.model import Order, User, Vendor
from reference_api.otp import OtpCodec
from reference_api.policy import Policy
from reference_api.presenters import order_detail
from reference_api.roles import Actor
from reference_api.service.admin import Admin
from reference_api.service.checkout import Checkout
from reference_api.service.commands import Commands
from reference_api.service.core import Core, TimerListener
from reference_api.service.dispatching import Dispatching
from reference_api.service.lifecycle import Lifecycle
from reference_api.service.otps import Otps
from reference_api.service.queries import Queries
from reference_api.service.refunds import AlwaysSettles, RandomFailures, RefundGateway
from reference_api.service.riders import Riders
from reference_api.service.status_route import StatusRoute
from reference_api.service.timers import Timers
from reference_api.store.base import Store


class OrderService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        rng: random.Random,
        *,
        policy: Policy | None = None,
        otp_secret: bytes,
        dispatch: DispatchStrategy | None = None,
        refunds: RefundGateway | None = None,
        sinks: Iterable[ev.EventSink] = (),
    ) -> None:
        policy = policy or Policy()
        rate = policy.refund_failure_rate
        if refunds is None and rate == 0:
            refunds = AlwaysSettles()
        elif refunds is None:  # a child stream of the service's, drawn only if refunds can fail
            refunds = RandomFailures(rate, random.Random(rng.getrandbits(64)))
        core = Core(store, clock, rng, policy, OtpCodec(otp_secret), list(sinks))
        self.store = store
        self.clock = clock
        self.rng = rng
        self.policy = policy
        self.codec = core.codec
        self.sinks = core.sinks
        self.observers = core.observers
        self.timer_listeners: list[TimerListener] = core.timer_listeners
        self.refunds = refunds
        self.admin = Admin(core)
        # the default strategy rides in the policy's geometry, as the ETA does
        self.dispatching = Dispatching(core, dispatch or DispatchSpec().build(policy))
        self.otps = Otps(core)
        self.lifecycle = Lifecycle(core, self.dispatching, self.otps)
        self.timers = Timers(core, self.lifecycle, refunds)
        self.checkout = Checkout(core)
        self.commands = Commands(core, self.lifecycle, self.otps)
        self.status_route = StatusRoute(core, self.commands)
        self.riders = Riders(core, self.dispatching)
        self.queries = Queries(core)
        self.dispatching.rebuild(self.dispatching.strategy)

    @property
    def dispatch(self) -> DispatchStrategy:
        """The dispatch strategy in use (derived state; see ``rebuild_dispatch``)."""
        return self.dispatching.strategy

    def rebuild_dispatch(self, strategy: DispatchStrategy) -> None:
        """Refill ``strategy``, a fresh one configured as the old (the caller knows its
        settings), from the store: after a rollback its state may disagree with the database."""
        self.dispatching.rebuild(strategy)

    # ------------------------------------------------------------------ fixtures (admin)
    def add_vendor(self, vendor: Vendor) -> None:
        self.admin.add_vendor(vendor)

    def add_user(self, user: User) -> None:
        self.admin.add_user(user)

    # ------------------------------------------------------------------ checkout (extension)
    def place_order(
        self,
        actor: Actor,
        *,
        vendor_id: str,
        items: list[Mapping[str, Any]],
        delivery_address: Mapping[str, Any],
        payment_method: str = "cod",
    ) -> dict[str, Any]:
        return self.checkout.place(
            actor, vendor_id, items, delivery_address, payment_method, order_detail
        )

    def place_order_id(
        self,
        actor: Actor,
        *,
        vendor_id: str,
        items: list[Mapping[str, Any]],
        delivery_address: Mapping[str, Any],
        payment_method: str = "cod",
    ) -> str:
        """``place_order`` without the response document: the same checks, rules and effects,
        returning only the new order's id, for in-process callers that read nothing else."""
        return self.checkout.place(actor, vendor_id, items, delivery_address, payment_method, _id)

    # ------------------------------------------------------------------ reads
    def get_order(self, actor: Actor, order_id: str) -> dict[str, Any]:
        return self.queries.get_order(actor, order_id)

    def list_orders(
        self,
        actor: Actor,
        *,
        status: str | None = None,
        include_cancelled: bool = False,
        page: int = 1,
        page_size: int = 20,
    ) -> dict[str, Any]:
        """Pagination as numbers here; the HTTP adapter turns them into links."""
        return self.queries.list_orders(actor, status, include_cancelled, page, page_size)

    def history(self, actor: Actor, order_id: str) -> dict[str, Any]:
        return self.queries.history(actor, order_id)

    def restaurant_queue(self, actor: Actor) -> dict[str, Any]:
        return self.queries.restaurant_queue(actor)

    def available_orders(self, actor: Actor) -> dict[str, Any]:
        return self.queries.available_orders(actor)

    def eta(self, actor: Actor, order_id: str) -> dict[str, Any]:
        return self.queries.eta(actor, order_id)

    # ------------------------------------------------------------------ restaurant actions
    def confirm(
        self,
        actor: Actor,
        order_id: str,
        *,
        estimated_prep_time: object = None,
        reason: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return self.commands.confirm(actor, order_id, estimated_prep_time, reason, metadata)

    def reject(self, actor: Actor, order_id: str, *, reason: object) -> dict[str, Any]:
        """Extension: the restaurant declines an order it has not confirmed (D3)."""
        return self.commands.reject(actor, order_id, reason)

    def start_preparing(
        self,
        actor: Actor,
        order_id: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return self.commands.start_preparing(actor, order_id, reason, metadata)

    def mark_ready(
        self,
        actor: Actor,
        order_id: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return self.commands.mark_ready(actor, order_id, reason, metadata)

    # ------------------------------------------------------------------ payment (extension)
    def record_payment(
        self, actor: Actor, order_id: str, *, success: bool, reference: str | None = None
    ) -> dict[str, Any]:
        """The payment gateway's callback (role system): PAYMENT_PENDING -> SUCCESS | FAILED."""
        return self.commands.record_payment(actor, order_id, success, reference)

    # ------------------------------------------------------------------ rider actions
    def pickup(self, actor: Actor, order_id: str, *, otp: object) -> dict[str, Any]:
        return self.commands.pickup(actor, order_id, otp)

    def start_delivery(self, actor: Actor, order_id: str) -> dict[str, Any]:
        return self.commands.start_delivery(actor, order_id)

    def complete_delivery(
        self, actor: Actor, order_id: str, *, otp: object, delivery_notes: str | None = None
    ) -> dict[str, Any]:
        return self.commands.complete_delivery(actor, order_id, otp, delivery_notes)

    def set_rider_availability(
        self,
        actor: Actor,
        *,
        available: bool,
        latitude: float | None = None,
        longitude: float | None = None,
        until: float | None = None,
    ) -> dict[str, Any]:
        """Extension: a rider goes on or off duty (and may report a position). ``until``: when
        their shift ends, epoch seconds (None: no end); no order is given them that they would
        pick up later (D28). Going off duty clears it."""
        return self.riders.set_availability(actor, available, latitude, longitude, until)

    def update_rider_location(
        self, actor: Actor, *, latitude: object, longitude: object
    ) -> dict[str, Any]:
        """Extension: the 30-second position report; pushed to the current order's watchers."""
        return self.riders.update_location(actor, latitude, longitude)

    # ------------------------------------------------------------------ cancellation, status
    def cancel(
        self,
        actor: Actor,
        order_id: str,
        *,
        reason: object = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return self.commands.cancel(actor, order_id, reason, metadata)

    def update_status(
        self,
        actor: Actor,
        order_id: str,
        *,
        status_code: object,
        reason: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``POST /status/``: routed to the action the target status names (D11)."""
        return self.status_route.update_status(actor, order_id, status_code, reason, metadata)

    # ------------------------------------------------------------------ OTP endpoints
    def get_otp(
        self, actor: Actor, order_id: str, *, otp_type: object = "delivery"
    ) -> dict[str, Any]:
        return self.otps.get(actor, order_id, otp_type)

    def verify_otp(
        self, actor: Actor, order_id: str, *, otp: object, otp_type: object = "delivery"
    ) -> dict[str, Any]:
        """Checks a code without using it up (the pickup/complete endpoints consume it)."""
        return self.otps.verify(actor, order_id, otp, otp_type)

    def resend_otp(
        self, actor: Actor, order_id: str, *, otp_type: object = "delivery"
    ) -> dict[str, Any]:
        return self.otps.resend(actor, order_id, otp_type)

    # ------------------------------------------------------------------ timers
    def next_timer_due(self) -> float | None:
        return self.timers.next_due()

    def process_due_timers(self) -> list[tuple[str, str, str]]:
        """Apply every rule whose time has come. Stale timers (the order moved on) do nothing.
        Returns ``(kind, order_id, outcome)`` for what actually happened."""
        return self.timers.process_due()


def _id(order: Order) -> str:
    return order.id
