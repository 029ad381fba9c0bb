"""Order detail reads: the rendered document the store keeps beside each order.

Clients poll ``GET /api/orders/{order_id}/`` (the spec suggests every 10-30 seconds per watcher)
far more often than orders change, and loading, decoding and rendering the aggregate was most of
what a read cost. The SQLite store instead writes each order's rendered detail (``render_detail``)
in the same statement as the aggregate, so a read is one indexed lookup of the order's owner ids
and those bytes, the visibility rule (``permissions.can_see_owned``: the rule the service
applies, on the same ids) and no decode or render. An order without a stored document (a store
without one, an older database) or one the caller may not see goes through the service, which
renders it or answers 404 exactly as it always did.

Reads run on the service runner, one at a time with every write, outside any transaction: they
see the last committed write, never an older one, and never a write still in progress. A detail
depends only on the order's own fields (no clock), so a stored document cannot go stale between
writes.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson

from reference_api.model import Order
from reference_api.permissions import can_see_owned
from reference_api.presenters import order_detail
from reference_api.roles import Actor
from reference_api.service import OrderService

DetailRow = tuple[str, str, str | None, bytes | None]


def render_detail(order: Order) -> bytes:
    """The body of ``GET /api/orders/{order_id}/``: what the store keeps, byte for byte."""
    return orjson.dumps(order_detail(order))


class DetailReader:
    def __init__(self, service: OrderService) -> None:
        self._service = service
        stored: Callable[[str], DetailRow | None] | None = getattr(
            service.store, "order_detail_row", None
        )
        self._stored = stored
        #: Reads answered from a stored document (the rest went through the service).
        self.stored_reads = 0

    def detail(self, actor: Actor, order_id: str) -> bytes:
        """The caller's view of the order as JSON bytes; raises as ``get_order`` does."""
        if self._stored is not None:
            row = self._stored(order_id)
            if row is not None:
                customer_id, vendor_id, rider_id, body = row
                if body is not None and can_see_owned(actor, customer_id, vendor_id, rider_id):
                    self.stored_reads += 1
                    return body
        return orjson.dumps(self._service.get_order(actor, order_id))
