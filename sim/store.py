"""The simulation's store: the in-memory store plus a way to drop orders that can no longer
change. A city-scale day places a million orders; the model records each one into its columnar
logs when it ends, then forgets it, so memory holds only the orders in flight.

A subclass here rather than an edit of ``reference_api.store.memory``: dropping records is a
simulation concern, not a rule of the API (the server never deletes orders).
"""

from __future__ import annotations

from reference_api.store.memory import MemoryStore


class SimStore(MemoryStore):
    def forget_order(self, order_id: str) -> None:
        """Remove a finished order and its index entries. Its order number stays reserved, so
        numbers remain unique over the whole run."""
        order = self._orders.pop(order_id, None)
        if order is None:
            return
        self._by_customer[order.customer_id].remove(order_id)
        self._by_vendor[order.vendor_id].remove(order_id)
        if order.rider_id is not None:
            self._by_rider.get(order.rider_id, {}).pop(order_id, None)
        queue = self._queue.get(order.vendor_id)
        if queue is not None:
            queue.pop(order_id, None)
