"""Rider assignment around the pluggable ``DispatchPolicy`` index (D2): assign a rider when an
order becomes dispatchable, release them when it ends, offer a freed rider the next waiting order.

The index is derived state: ``rebuild`` refills a fresh one from the store (at start, and after a
rollback that may have left it disagreeing with the database).
"""

from __future__ import annotations

from reference_api import events as ev
from reference_api.dispatch import DispatchPolicy
from reference_api.errors import InvariantBroken
from reference_api.model import Order, Rider
from reference_api.roles import SYSTEM_ACTOR
from reference_api.service.core import Core, Part
from reference_api.states import DeliveryStatus
from reference_api.statuses import DELIVERY_PARTNER_ASSIGNED, DISPATCHABLE


class Dispatching(Part):
    def __init__(self, core: Core, index: DispatchPolicy) -> None:
        super().__init__(core)
        self.index = index

    def rebuild(self, index: DispatchPolicy) -> None:
        """Replace the index with ``index`` (empty) filled from the store's riders and orders."""
        self.index = index
        for rider in self.store.riders():
            if rider.dispatchable:
                lat, lon = _position(rider)
                index.rider_available(rider.id, lat, lon)
        for order in self.store.orders_waiting_for_rider():
            index.order_waiting(order.id, order.restaurant_lat, order.restaurant_lon)

    def try_assign(self, order: Order) -> None:
        """Give ``order`` the nearest available rider, or queue it. Only from a move in
        progress, which saves the order right after."""
        index = self.index
        rider_id = index.rider_for(order.restaurant_lat, order.restaurant_lon)
        if rider_id is None:
            index.order_waiting(order.id, order.restaurant_lat, order.restaurant_lon)
            return
        rider = self.store.get_rider(rider_id)
        if rider is None:
            raise InvariantBroken(f"dispatch index names unknown rider {rider_id}")
        self.assign(order, rider, save=False)

    def assign(self, order: Order, rider: Rider, *, save: bool = True) -> None:
        """``save=False`` when the caller saves ``order`` right after (a move in progress) and
        nothing can look in between (no event sinks)."""
        index = self.index
        index.rider_unavailable(rider.id)
        index.order_gone(order.id)
        order.rider_id = rider.id
        order.rider_name = rider.name
        order.delivery_status = DeliveryStatus.ASSIGNED
        rider.current_order_id = order.id
        self.store.save_rider(rider)
        meta = {"delivery_person": rider.id, "delivery_person_name": rider.name}
        now = self.clock.now()
        self.track(
            order, DELIVERY_PARTNER_ASSIGNED, "Delivery partner assigned", SYSTEM_ACTOR, meta, now
        )
        if self.sinks:
            self.store.save_order(order)  # a sink may read the store before the move saves
            self.publish(ev.ASSIGNED, order, order.status, now, SYSTEM_ACTOR.display, meta)
        elif save:
            self.store.save_order(order)
        for observer in self.observers:
            observer.assigned(order, rider, now)

    def order_gone(self, order_id: str) -> None:
        self.index.order_gone(order_id)

    def release(self, order: Order) -> None:
        """The order no longer needs its rider (delivered or cancelled): free and re-offer them."""
        if order.rider_id is None:
            raise InvariantBroken(f"order {order.order_number} released with no rider")
        rider = self.store.get_rider(order.rider_id)
        if rider is None or rider.current_order_id != order.id:
            return
        rider.current_order_id = None
        self.store.save_rider(rider)
        self.offer(rider)

    def offer(self, rider: Rider) -> None:
        """A rider became free: give them the next waiting order, or index them as available."""
        index = self.index
        while rider.dispatchable:
            lat, lon = _position(rider)
            order_id = index.order_for(rider.id, lat, lon)
            if order_id is None:
                index.rider_available(rider.id, lat, lon)
                return
            order = self.store.get_order(order_id)
            if order is not None and order.rider_id is None and order.status in DISPATCHABLE:
                self.assign(order, rider)
                return
            index.order_gone(order_id)  # stale entry: drop it and look again

    def rider_moved(self, rider: Rider) -> None:
        if rider.dispatchable:
            lat, lon = _position(rider)
            self.index.rider_available(rider.id, lat, lon)

    def rider_off(self, rider: Rider) -> None:
        self.index.rider_unavailable(rider.id)


def _position(rider: Rider) -> tuple[float, float]:
    lat, lon = rider.latitude, rider.longitude
    if lat is None or lon is None:
        raise InvariantBroken(f"rider {rider.id} is dispatchable with no position")
    return lat, lon
