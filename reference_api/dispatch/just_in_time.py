"""``just_in_time``: offer an order when the best rider's ride to the restaurant reaches the time
left until the food is ready, less a slack, so the rider arrives as the food does rather than
waiting at the counter while it cooks.

Each waiting order has an *offer time*, ``ready - slack - ride(nearest available rider)``; the
strategy asks to be woken at the earliest (``due``). When it comes, the offer time is worked out
again with the riders available then: due, the order goes to that nearest rider; not yet (a
nearer rider freed up), it waits for its new time. An order that can no longer be reached in time
(its offer time has passed) goes to the nearest rider at once. An order that finds no rider
free waits (stalled), and a rider who frees up takes the most urgent stalled order whose time has
come for them, or plans its offer with their ride. A rider taken by another order meanwhile can
make an offer late by the difference in ride time; the times are exact again at the next offer.

A rider whose shift ends (D28) is only considered for an order they would pick up by then if
offered it at its offer time; the order is given to them only if, leaving now, they still would.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterator

from reference_api.dispatch.base import (
    Assignment,
    DispatchWork,
    RideTime,
    ShiftEnds,
    ready_estimate,
)
from reference_api.dispatch.grid import GridIndex
from reference_api.dispatch.options import default
from reference_api.model import Order

#: How many of the most urgent waiting orders a freed rider looks at (their times differ by
#: rider: the most urgent order may not be due yet for a rider who is close to it).
URGENT_LOOKAHEAD = 8


class _Waiting:
    __slots__ = ("lat", "lon", "offer_at", "ready", "seq")

    def __init__(self, lat: float, lon: float, ready: float, seq: int) -> None:
        self.lat, self.lon, self.ready, self.seq = lat, lon, ready, seq
        self.offer_at = math.inf


class JustInTime:
    __slots__ = (
        "_by_offer",
        "_lead",
        "_now",
        "_ride",
        "_riders",
        "_seq",
        "_shifts",
        "_slack",
        "_stalled",
        "_waiting",
        "work",
    )

    name = "just_in_time"
    decides_later = True

    def __init__(
        self,
        ride: RideTime,
        slack_s: float = default("slack_min", 60),
        cell_km: float = default("cell_km"),
        ref_lat: float = default("ref_lat"),
        pickup_lead_s: float = 0.0,
    ) -> None:
        self._ride = ride
        self._slack = slack_s
        self._riders = GridIndex(cell_km, ref_lat, ride)
        self._shifts = ShiftEnds(ride, pickup_lead_s)
        self._lead = pickup_lead_s
        self._waiting: dict[str, _Waiting] = {}
        #: ``(offer_at, seq, order_id)``; an entry whose time no longer matches is stale
        self._by_offer: list[tuple[float, int, str]] = []
        #: orders that found no free rider, ``(ready, seq, order_id)`` the most urgent first, for
        #: a rider who frees up; an entry of an order planned or gone since is stale
        self._stalled: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        #: the latest ``now`` the strategy was handed, for what it is told without one
        self._now = -math.inf
        self.work = DispatchWork()

    # ------------------------------------------------------------------ riders
    def rider_available(
        self, rider_id: str, lat: float, lon: float, until: float | None = None
    ) -> None:
        """A rider is free: orders that found none are planned with their ride (the first
        ``URGENT_LOOKAHEAD``, most urgent first, that the rider's shift leaves time for), so none
        waits for a later event while a rider is free; an offer time already past is made at the
        next ``decide``."""
        self._riders.add(rider_id, lat, lon)
        self._shifts.set(rider_id, until)
        self._plan_stalled(lat, lon, until)

    def rider_unavailable(self, rider_id: str) -> None:
        self._riders.remove(rider_id)
        self._shifts.drop(rider_id)

    # ------------------------------------------------------------------ orders
    def order_waiting(self, order: Order, now: float) -> str | None:
        self._now = now
        lat, lon = order.restaurant_lat, order.restaurant_lon
        ready = ready_estimate(order, now)
        w = self._waiting.get(order.id)
        if w is None:
            w = self._waiting[order.id] = _Waiting(lat, lon, ready, next(self._seq))
        else:
            w.ready = ready  # asked again (the food is ready with no rider): its time is now
        rider_id = self._nearest(w, now)
        if rider_id is None:
            self._stall(order.id, w)  # nobody to offer it to: a freed rider will take it
            return None
        offer_at = self._offer_at(w, rider_id)
        if offer_at <= now:
            del self._waiting[order.id]
            return rider_id
        self._plan(order.id, w, offer_at)
        return None

    def order_gone(self, order_id: str) -> None:
        self._waiting.pop(order_id, None)  # its heap entries go stale and are skipped

    def _nearest(self, w: _Waiting, now: float) -> str | None:
        """The nearest available rider, among those whose shift leaves time for the order."""
        riders = self._riders
        if not self._shifts:
            return riders.nearest(w.lat, w.lon)
        return riders.nearest(w.lat, w.lon, lambda rider_id: self._can_take(rider_id, w, now))

    def _can_take(self, rider_id: str, w: _Waiting, now: float) -> bool:
        where = self._riders.position(rider_id)
        assert where is not None
        return self._in_time(self._shifts.end(rider_id), where[0], where[1], w, now)

    def _in_time(
        self, until: float | None, lat: float, lon: float, w: _Waiting, now: float
    ) -> bool:
        """Whether a rider at ``lat, lon`` whose shift ends at ``until`` would pick the order up
        by then if offered it at its offer time with their ride (now, if that has passed)."""
        if until is None:
            return True
        shifts = self._shifts
        if shifts.expired(until, now):
            return False
        ride = self._ride.seconds(lat, lon, w.lat, w.lon)
        offer = max(now, w.ready - self._slack - ride - self._lead)
        return shifts.in_time(until, lat, lon, w.lat, w.lon, w.ready, offer)

    def _offer_at(self, w: _Waiting, rider_id: str) -> float:
        where = self._riders.position(rider_id)
        assert where is not None
        return self._offer_from(w, *where)

    def _offer_from(self, w: _Waiting, lat: float, lon: float) -> float:
        """The offer time for a rider at ``lat, lon``: ready - slack - their ride there - the
        pickup lead (the time they need at the restaurant before taking the food)."""
        self.work.pairs_costed += 1
        return w.ready - self._slack - self._ride.seconds(lat, lon, w.lat, w.lon) - self._lead

    def _stall(self, order_id: str, w: _Waiting) -> None:
        w.offer_at = math.inf
        heapq.heappush(self._stalled, (w.ready, w.seq, order_id))

    def _plan(self, order_id: str, w: _Waiting, offer_at: float) -> None:
        w.offer_at = offer_at
        heapq.heappush(self._by_offer, (offer_at, w.seq, order_id))

    # ------------------------------------------------------------------ decisions
    def due(self) -> float | None:
        heap, waiting = self._by_offer, self._waiting
        while heap:
            offer_at, seq, order_id = heap[0]
            w = waiting.get(order_id)
            if w is not None and w.seq == seq and w.offer_at == offer_at:
                return offer_at
            heapq.heappop(heap)
        return None

    def decide(self, now: float) -> list[Assignment]:
        """Every order whose offer time has come: to its nearest rider if still due with the
        riders available now, else planned again."""
        self.work.decisions += 1
        self._now = now
        out: list[Assignment] = []
        heap, waiting = self._by_offer, self._waiting
        while True:
            top = self.due()
            if top is None or top > now:
                return out
            _, _, order_id = heapq.heappop(heap)
            w = waiting[order_id]
            rider_id = self._nearest(w, now)
            if rider_id is None:
                self._stall(order_id, w)
                continue
            offer_at = self._offer_at(w, rider_id)
            if offer_at <= now:
                del waiting[order_id]
                self.rider_unavailable(rider_id)
                out.append(Assignment(rider_id, (order_id,)))
            else:
                self._plan(order_id, w, offer_at)

    def _pop_stalled(self) -> Iterator[tuple[str, _Waiting]]:
        """The stalled orders, most urgent first, at most ``URGENT_LOOKAHEAD``: each is taken
        off the heap, and the caller plans it or gives it away (stale entries are dropped)."""
        heap, waiting = self._stalled, self._waiting
        found = 0
        while heap and found < URGENT_LOOKAHEAD:
            ready, seq, order_id = heapq.heappop(heap)
            w = waiting.get(order_id)
            if w is None or w.seq != seq or w.ready != ready or w.offer_at != math.inf:
                continue  # gone, planned, or stalled again with a newer ready time
            found += 1
            yield order_id, w

    def _plan_stalled(self, lat: float, lon: float, until: float | None) -> None:
        if until is None:
            for order_id, w in self._pop_stalled():
                self._plan(order_id, w, self._offer_from(w, lat, lon))
            return
        # a rider whose shift ends plans only what they could take (the rest stays stalled);
        # no clock here: the latest time the strategy was told stands in for now (a rider
        # planned too hopefully is checked again when the offer is made)
        kept: list[tuple[float, int, str]] = []
        for order_id, w in self._pop_stalled():
            if self._in_time(until, lat, lon, w, self._now):
                self._plan(order_id, w, self._offer_from(w, lat, lon))
            else:
                kept.append((w.ready, w.seq, order_id))
        for entry in kept:
            heapq.heappush(self._stalled, entry)

    def order_for(
        self, rider_id: str, lat: float, lon: float, now: float, until: float | None = None
    ) -> tuple[str, ...]:
        """Orders that found no free rider when they were offered (stalled), most urgent first
        among the first ``URGENT_LOOKAHEAD``: the first whose time has come for this rider is
        theirs; the others not yet due are planned with this rider's ride (and so are stalled no
        more). Orders with a planned offer are left to it (the nearest rider then, not whoever
        frees up first). A rider whose shift ends is given, and plans, only orders they would
        pick up in time; the others stay stalled."""
        self._now = now
        kept: list[tuple[float, int, str]] = []
        found: tuple[str, ...] = ()
        for order_id, w in self._pop_stalled():
            if until is not None and not self._in_time(until, lat, lon, w, now):
                kept.append((w.ready, w.seq, order_id))
                continue
            offer_at = self._offer_from(w, lat, lon)
            if offer_at <= now:
                del self._waiting[order_id]
                found = (order_id,)
                break
            self._plan(order_id, w, offer_at)
        for entry in kept:
            heapq.heappush(self._stalled, entry)
        return found

    def waiting_count(self) -> int:
        return len(self._waiting)
