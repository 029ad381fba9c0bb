"""Rider assignment around the configured ``DispatchStrategy`` (D2, D25): offer an order when it
becomes dispatchable, free the rider when their last order ends and ask what they take next,
and wake the strategy when it asked to decide (one ``DISPATCH_ROUND`` timer, re-armed whenever
its wish changes). A rider may take several orders of one restaurant at once (a bundle): each
keeps its own history, OTPs and events; cancelling one leaves the others with the rider.

The strategy's state is derived: ``rebuild`` refills a fresh one from the store (at start, and
after a rollback that may have left it disagreeing with the database).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reference_api import events as ev
from reference_api.dispatch import DispatchStrategy
from reference_api.errors import InvariantBroken
from reference_api.model import Order, Rider
from reference_api.roles import SYSTEM_ACTOR
from reference_api.service.core import Core, Part
from reference_api.states import DISPATCH_TIMER_ORDER, DeliveryStatus, TimerKind
from reference_api.statuses import DELIVERY_PARTNER_ASSIGNED, DISPATCHABLE

_ASSIGNED = DeliveryStatus.ASSIGNED
_ROUND = TimerKind.DISPATCH_ROUND


class Dispatching(Part):
    def __init__(self, core: Core, strategy: DispatchStrategy) -> None:
        super().__init__(core)
        self.strategy = strategy
        #: whether the strategy ever decides at a time of its own (``due``): else no timer
        self._timed = strategy.decides_later
        #: the due time of the pending DISPATCH_ROUND timer this part armed (None: none)
        self._armed: float | None = None

    def rebuild(self, strategy: DispatchStrategy) -> None:
        """Replace the strategy with ``strategy`` (empty) filled from the store's orders and
        riders. Orders first: a strategy offers nothing while it knows no free rider, so the
        refill only restores state and assigns nothing."""
        self.strategy = strategy
        self._timed = strategy.decides_later
        with self.store.transaction():
            now = self.clock.now()
            for order in self.store.orders_waiting_for_rider():
                if strategy.order_waiting(order, now) is not None:
                    raise InvariantBroken(
                        "a dispatch strategy offered a rider it was never told of"
                    )
            for rider in self.store.riders():
                if rider.dispatchable:
                    lat, lon = _position(rider)
                    strategy.rider_available(rider.id, lat, lon, rider.available_until)
            self._armed = None
            self.schedule()

    # ------------------------------------------------------------------ orders
    def try_assign(self, order: Order) -> None:
        """Offer ``order`` to the strategy: a rider now, or it waits. Only from a move in
        progress, which saves the order right after."""
        rider_id = self.strategy.order_waiting(order, self.clock.now())
        if rider_id is None:
            if self._timed:
                self.schedule()
            return
        rider = self.store.get_rider(rider_id)
        if rider is None:
            raise InvariantBroken(f"dispatch strategy names unknown rider {rider_id}")
        self.assign(order, rider, save=False)

    def assign(
        self,
        order: Order,
        rider: Rider,
        *,
        save: bool = True,
        bundle: Sequence[str] | None = None,
        bundle_id: str | None = None,
    ) -> None:
        """``save=False`` when the caller saves ``order`` right after (a move in progress) and
        nothing can look in between (no event sinks). ``bundle``: every order the rider takes
        with this one, in delivery sequence (their history and events say so)."""
        strategy = self.strategy
        strategy.rider_unavailable(rider.id)
        strategy.order_gone(order.id)
        order.rider_id = rider.id
        order.rider_name = rider.name
        order.delivery_status = _ASSIGNED
        rider.order_ids = (*rider.order_ids, order.id)
        self.store.save_rider(rider)
        meta: dict[str, Any] = {"delivery_person": rider.id, "delivery_person_name": rider.name}
        if bundle is not None:
            order.bundle_id, order.bundle = bundle_id, list(bundle)
            meta["bundle"] = {"id": bundle_id, "orders": list(bundle)}
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

    def assign_all(self, rider: Rider, orders: Sequence[Order]) -> None:
        """Give ``rider`` every order of ``orders`` (one restaurant's), in that sequence."""
        if len(orders) == 1:
            self.assign(orders[0], rider)
            return
        ids = [o.id for o in orders]
        bundle_id = self.uuid()
        for order in orders:
            self.assign(order, rider, bundle=ids, bundle_id=bundle_id)

    def order_gone(self, order_id: str) -> None:
        self.strategy.order_gone(order_id)

    def release(self, order: Order) -> None:
        """The order no longer needs its rider (delivered or cancelled): take it off the rider,
        and when it was their last, free them and ask what they take next."""
        if order.rider_id is None:
            raise InvariantBroken(f"order {order.order_number} released with no rider")
        rider = self.store.get_rider(order.rider_id)
        if rider is None or order.id not in rider.order_ids:
            return
        held = rider.order_ids
        rider.order_ids = () if len(held) == 1 else tuple(o for o in held if o != order.id)
        self.store.save_rider(rider)
        if not rider.order_ids:
            self.offer(rider)

    # ------------------------------------------------------------------ riders
    def offer(self, rider: Rider) -> None:
        """A rider became free: give them what the strategy picks, or list them as available."""
        strategy = self.strategy
        now = self.clock.now()
        while rider.dispatchable:
            lat, lon = _position(rider)
            until = rider.available_until
            picked = strategy.order_for(rider.id, lat, lon, now, until)
            if not picked:
                strategy.rider_available(rider.id, lat, lon, until)
                if self._timed:
                    self.schedule()
                return
            orders = self._still_waiting(picked)
            if orders:
                self.assign_all(rider, orders)
                if self._timed:
                    self.schedule()
                return
            # every pick had ended meanwhile (stale): they are dropped, look again

    def _still_waiting(self, order_ids: Sequence[str]) -> list[Order]:
        """The orders of ``order_ids`` that still wait for a rider; the strategy forgets the
        others."""
        found: list[Order] = []
        for order_id in order_ids:
            order = self.store.get_order(order_id)
            if order is not None and order.rider_id is None and order.status in DISPATCHABLE:
                found.append(order)
            else:
                self.strategy.order_gone(order_id)
        return found

    def rider_moved(self, rider: Rider) -> None:
        if rider.dispatchable:
            lat, lon = _position(rider)
            self.strategy.rider_available(rider.id, lat, lon, rider.available_until)
            if self._timed:
                self.schedule()

    def rider_off(self, rider: Rider) -> None:
        self.strategy.rider_unavailable(rider.id)

    # ------------------------------------------------------------------ decisions at a time
    def schedule(self) -> None:
        """Keep the one DISPATCH_ROUND timer at the time the strategy wants to decide."""
        due = self.strategy.due()
        if due is None or due == self._armed:
            return
        self._armed = due
        self.arm(due, _ROUND, DISPATCH_TIMER_ORDER)

    def round(self) -> int:
        """The strategy's timer fired: make the assignments it decides now; how many orders
        were assigned."""
        self._armed = None
        strategy = self.strategy
        assigned = 0
        for rider_id, order_ids in strategy.decide(self.clock.now()):
            rider = self.store.get_rider(rider_id)
            if rider is None or not rider.dispatchable:
                raise InvariantBroken(f"dispatch decided for rider {rider_id}, who is not free")
            orders = self._still_waiting(order_ids)
            if orders:
                self.assign_all(rider, orders)
                assigned += len(orders)
            else:
                lat, lon = _position(rider)
                strategy.rider_available(rider.id, lat, lon, rider.available_until)
        self.schedule()
        return assigned


def _position(rider: Rider) -> tuple[float, float]:
    lat, lon = rider.latitude, rider.longitude
    if lat is None or lon is None:
        raise InvariantBroken(f"rider {rider.id} is dispatchable with no position")
    return lat, lon
