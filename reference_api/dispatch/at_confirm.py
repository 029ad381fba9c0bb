"""``at_confirm``, the spec's default (D2): the nearest available rider is assigned the moment an
order is confirmed; a rider who frees up takes the oldest waiting order."""

from __future__ import annotations

from collections import OrderedDict

from reference_api.dispatch.base import Assignment, DispatchWork
from reference_api.dispatch.grid import GridIndex
from reference_api.dispatch.options import default
from reference_api.model import Order


class AtConfirm:
    """The waiting orders are an ``OrderedDict`` (a linked list under the hood), so the oldest is
    found in O(1) however many were served before it; a plain dict's ``next(iter(...))`` walks
    over the slots its deletions left behind at the front and slows down as a run goes on.
    """

    __slots__ = ("_riders", "_waiting", "work")

    name = "at_confirm"
    decides_later = False

    def __init__(
        self, cell_km: float = default("cell_km"), ref_lat: float = default("ref_lat")
    ) -> None:
        self._riders = GridIndex(cell_km, ref_lat)
        self._waiting: OrderedDict[str, None] = OrderedDict()
        self.work = DispatchWork()

    def rider_available(self, rider_id: str, lat: float, lon: float) -> None:
        self._riders.add(rider_id, lat, lon)

    def rider_unavailable(self, rider_id: str) -> None:
        self._riders.remove(rider_id)

    def order_waiting(self, order: Order, now: float) -> str | None:
        rider_id = self._riders.nearest(order.restaurant_lat, order.restaurant_lon)
        if rider_id is None:
            self._waiting[order.id] = None  # a re-queued order keeps its place
        return rider_id

    def order_gone(self, order_id: str) -> None:
        self._waiting.pop(order_id, None)

    def rider_for(self, lat: float, lon: float) -> str | None:
        """The nearest available rider (ties to the smallest id)."""
        return self._riders.nearest(lat, lon)

    def order_for(self, rider_id: str, lat: float, lon: float, now: float) -> tuple[str, ...]:
        oldest = next(iter(self._waiting), None)
        return () if oldest is None else (oldest,)

    def due(self) -> float | None:
        return None

    def decide(self, now: float) -> list[Assignment]:
        return []

    def waiting_count(self) -> int:
        return len(self._waiting)
