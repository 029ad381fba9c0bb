"""The read endpoints: an order, the list (scoped to what the actor may see), its history, a
restaurant's queue, the orders waiting for a rider, and the ETA. Reads change nothing."""

from __future__ import annotations

import math
from typing import Any

from reference_api import presenters
from reference_api.model import Order, Rider
from reference_api.policy import Policy
from reference_api.roles import Actor, Role
from reference_api.service import parsing
from reference_api.service.core import Part
from reference_api.statuses import ACTIVE, AWAITING_CONFIRMATION, CANCELLED_LINEAGE, OrderStatus
from reference_api.store.base import OrderQuery

S = OrderStatus


class Queries(Part):
    def get_order(self, actor: Actor, order_id: str) -> dict[str, Any]:
        with self.store.transaction():
            return presenters.order_detail(self.visible(actor, order_id))

    def list_orders(
        self,
        actor: Actor,
        status: object,
        include_cancelled: object,
        page: object,
        page_size: object,
    ) -> dict[str, Any]:
        number, size = parsing.page_args(page, page_size, include_cancelled)
        wanted = None if status is None else parsing.status_code(status, "status")
        role = actor.role
        query = OrderQuery(
            customer_id=actor.user_id if role is Role.CUSTOMER else None,
            vendor_id=(actor.vendor_id or "-") if role is Role.RESTAURANT else None,
            rider_id=actor.user_id if role is Role.RIDER else None,
            status=wanted,
            exclude=frozenset() if include_cancelled or wanted else CANCELLED_LINEAGE,
            offset=(number - 1) * size,
            limit=size,
        )
        with self.store.transaction():
            count, orders = self.store.query_orders(query)
            return presenters.order_page(count, number, size, orders)

    def history(self, actor: Actor, order_id: str) -> dict[str, Any]:
        with self.store.transaction():
            return presenters.history_document(self.visible(actor, order_id))

    def restaurant_queue(self, actor: Actor) -> dict[str, Any]:
        self.authorize(actor, "restaurant_queue")
        with self.store.transaction():
            return presenters.restaurant_queue(self.store.vendor_queue(actor.vendor_id or "-"))

    def available_orders(self, actor: Actor) -> dict[str, Any]:
        """Orders waiting for a rider (confirmed, not yet assigned), oldest first."""
        self.authorize(actor, "available_orders")
        with self.store.transaction():
            return presenters.available_orders(self.store.orders_waiting_for_rider())

    def eta(self, actor: Actor, order_id: str) -> dict[str, Any]:
        with self.store.transaction():
            order = self.visible(actor, order_id)
            rider = self.store.get_rider(order.rider_id) if order.rider_id else None
            now = self.clock.now()
            eta_at = current_eta(self.policy, order, rider, now)
            minutes = None if eta_at is None else max(0, math.ceil((eta_at - now) / 60))
            where = _position(rider) if order.status in ACTIVE else None
            return presenters.eta_document(order, minutes, where)


def current_eta(policy: Policy, order: Order, rider: Rider | None, now: float) -> float | None:
    """ETA from where things stand (D10): remaining prep, the rider's leg to the restaurant,
    then the ride to the customer, from the rider's last reported position when known."""
    status = order.status
    if status not in ACTIVE:
        return None

    ride = policy.geometry.seconds
    addr = order.address
    to_customer = ride(order.restaurant_lat, order.restaurant_lon, addr.latitude, addr.longitude)
    located = _position(rider)
    if status in (S.ORDER_PICKED_UP, S.OUT_FOR_DELIVERY):
        if located is not None:
            return now + ride(*located, addr.latitude, addr.longitude)
        return now + to_customer
    if status in AWAITING_CONFIRMATION or status is S.PAYMENT_PENDING:
        return now + policy.confirm_allowance_s + policy.default_prep_minutes * 60 + to_customer
    ready_at = now if status is S.READY_FOR_PICKUP else max(now, order.estimated_ready_time or now)
    rider_leg = 0.0
    if located is not None:
        rider_leg = ride(*located, order.restaurant_lat, order.restaurant_lon)
    return max(ready_at, now + rider_leg) + to_customer


def _position(rider: Rider | None) -> tuple[float, float] | None:
    if rider is None or rider.latitude is None or rider.longitude is None:
        return None
    return rider.latitude, rider.longitude
