"""``at_confirm``, the spec's default (D2): the nearest available rider is assigned the moment an
order is confirmed; a rider who frees up takes the oldest waiting order. A rider whose shift ends
before they could pick an order up (D28) is passed over for the next nearest, and a freed one
takes the oldest order they can pick up in time."""

from __future__ import annotations

from collections import OrderedDict

from reference_api.dispatch.base import Assignment, DispatchWork, ShiftEnds, ready_estimate
from reference_api.dispatch.grid import GridIndex
from reference_api.dispatch.options import default
from reference_api.geo import Geometry
from reference_api.model import Order


class AtConfirm:
    """The waiting orders are an ``OrderedDict`` (a linked list under the hood), so the oldest is
    found in O(1) however many were served before it; a plain dict's ``next(iter(...))`` walks
    over the slots its deletions left behind at the front and slows down as a run goes on. Each
    maps to the order as last offered, for the restaurant and the ready time a shift end is
    checked against.
    """

    __slots__ = ("_riders", "_shifts", "_waiting", "work")

    name = "at_confirm"
    decides_later = False

    def __init__(
        self,
        cell_km: float = default("cell_km"),
        ref_lat: float = default("ref_lat"),
        ride: Geometry | None = None,
        pickup_lead_s: float = 0.0,
    ) -> None:
        ride = Geometry() if ride is None else ride
        self._riders = GridIndex(cell_km, ref_lat, ride)
        self._shifts = ShiftEnds(ride, pickup_lead_s)
        self._waiting: OrderedDict[str, Order] = OrderedDict()
        self.work = DispatchWork()

    def rider_available(
        self, rider_id: str, lat: float, lon: float, until: float | None = None
    ) -> None:
        self._riders.add(rider_id, lat, lon)
        self._shifts.set(rider_id, until)

    def rider_unavailable(self, rider_id: str) -> None:
        self._riders.remove(rider_id)
        self._shifts.drop(rider_id)

    def order_waiting(self, order: Order, now: float) -> str | None:
        lat, lon = order.restaurant_lat, order.restaurant_lon
        riders = self._riders
        if self._shifts:
            ready = ready_estimate(order, now)
            rider_id = riders.nearest(
                lat, lon, self._shifts.accepting(riders.position, lat, lon, ready, now)
            )
        else:
            rider_id = riders.nearest(lat, lon)
        if rider_id is None:
            self._waiting[order.id] = order  # a re-queued order keeps its place
        return rider_id

    def order_gone(self, order_id: str) -> None:
        self._waiting.pop(order_id, None)

    def rider_for(self, lat: float, lon: float) -> str | None:
        """The nearest available rider (ties to the smallest id)."""
        return self._riders.nearest(lat, lon)

    def order_for(
        self, rider_id: str, lat: float, lon: float, now: float, until: float | None = None
    ) -> tuple[str, ...]:
        """The oldest waiting order; for a rider whose shift ends, the oldest they can pick up
        by then."""
        if until is None:
            oldest = next(iter(self._waiting), None)
            return () if oldest is None else (oldest,)
        shifts = self._shifts
        if shifts.expired(until, now):
            return ()
        for order_id, order in self._waiting.items():
            ready = ready_estimate(order, now)
            rlat, rlon = order.restaurant_lat, order.restaurant_lon
            if shifts.in_time(until, lat, lon, rlat, rlon, ready, now):
                return (order_id,)
        return ()

    def due(self) -> float | None:
        return None

    def decide(self, now: float) -> list[Assignment]:
        return []

    def waiting_count(self) -> int:
        return len(self._waiting)
