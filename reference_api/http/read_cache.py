"""Rendered order details, kept until the order is written again.

Clients poll ``GET /api/orders/{order_id}/`` (the spec suggests every 10-30 seconds per watcher)
far more often than orders change, and loading, decoding and rendering the aggregate is most of
what such a read costs. The first read by a caller goes through the service (which decides
whether that caller may see the order) and its rendered JSON is kept for that caller; the store
reports every write of an order, which drops all copies of it. Lookups and fills run on the
service runner, one at a time with every write, so a copy can never be older than the last
committed write. A detail depends only on the order's own fields (no clock), so nothing else can
make a copy stale.
"""

from __future__ import annotations

import orjson

from reference_api.roles import Actor
from reference_api.service import OrderService

ActorKey = tuple[str, str, str | None]


class OrderDetailCache:
    def __init__(self, service: OrderService, *, max_orders: int = 50_000) -> None:
        self._service = service
        self._max = max_orders
        self._orders: dict[str, dict[ActorKey, bytes]] = {}
        self.hits = 0
        self.misses = 0

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
        body = orjson.dumps(self._service.get_order(actor, order_id))
        if copies is None:
            if len(self._orders) >= self._max:
                del self._orders[next(iter(self._orders))]
            copies = self._orders[order_id] = {}
        copies[key] = body
        return body
