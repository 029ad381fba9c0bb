"""Order detail reads: the stored document, and rendered details kept until the order is written.

Clients poll ``GET /api/orders/{order_id}/`` (the spec suggests every 10-30 seconds per watcher)
far more often than orders change. The SQLite store keeps each order's rendered detail beside
the aggregate, written in the same statement (``render_detail``), so a caller's first read of an
order is one indexed lookup of the order's owner ids and those bytes, the visibility rule
(``permissions.can_see_owned``, the rule the service applies) and no decode or render. An order
without a stored document, or one the caller may not see, goes through the service, which
renders it or answers 404 exactly as before.

The bytes a caller was given are also kept for that caller; the store reports every write of an
order, which drops all copies of it. Lookups and fills run on the service runner, one at a time
with every write, so neither a stored document nor a copy can be older than the last committed
write. A detail depends only on the order's own fields (no clock), so nothing else can make one
stale.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson

from reference_api.model import Order
from reference_api.permissions import can_see_owned
from reference_api.presenters import order_detail
from reference_api.roles import Actor
from reference_api.service import OrderService

ActorKey = tuple[str, str, str | None]
DetailRow = tuple[str, str, str | None, bytes | None]


def render_detail(order: Order) -> bytes:
    """The body of ``GET /api/orders/{order_id}/``: what the store keeps, byte for byte."""
    return orjson.dumps(order_detail(order))


class OrderDetailCache:
    def __init__(self, service: OrderService, *, max_orders: int = 50_000) -> None:
        self._service = service
        stored: Callable[[str], DetailRow | None] | None = getattr(
            service.store, "order_detail_row", None
        )
        self._stored = stored
        self._max = max_orders
        self._orders: dict[str, dict[ActorKey, bytes]] = {}
        self.hits = 0
        self.misses = 0
        self.stored_reads = 0

    def forget(self, order_id: str) -> None:
        self._orders.pop(order_id, None)

    def clear(self) -> None:
        self._orders.clear()

    def detail(self, actor: Actor, order_id: str) -> bytes:
        """The caller's view of the order as JSON bytes; raises as ``get_order`` does."""
        key = (actor.role.value, actor.user_id, actor.vendor_id)
        copies = self._orders.get(order_id)
        if copies is not None:
            body = copies.get(key)
            if body is not None:
                self.hits += 1
                return body
        self.misses += 1
        body = self.uncached(actor, order_id)
        if copies is None:
            if len(self._orders) >= self._max:
                del self._orders[next(iter(self._orders))]
            copies = self._orders[order_id] = {}
        copies[key] = body
        return body

    def uncached(self, actor: Actor, order_id: str) -> bytes:
        """The caller's view from the store's document when there is one and the caller may see
        the order; otherwise from the service (which renders it, or raises 404)."""
        if self._stored is not None:
            row = self._stored(order_id)
            if row is not None:
                customer_id, vendor_id, rider_id, body = row
                if body is not None and can_see_owned(actor, customer_id, vendor_id, rider_id):
                    self.stored_reads += 1
                    return body
        return orjson.dumps(self._service.get_order(actor, order_id))
