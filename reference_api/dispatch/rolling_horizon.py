"""``rolling_horizon``: every ``interval`` one minimum-cost assignment of waiting orders to free
riders, with bundling, after Reyes et al. (2018), "The Meal Delivery Routing Problem" (Grubhub;
their defaults: a 5-minute interval and a 10-minute assignment horizon).

A round (``decide``):

1. takes the waiting orders whose food is due within ``horizon`` of now;
2. bundles orders of one restaurant whose ready times lie within ``bundle_window`` of the
   bundle's first, at most ``max_bundle``: up to a target size, the orders due before the next
   round per free rider, rounded up (Reyes et al.'s target bundle size), so orders share a rider
   when riders are scarce; and beyond it only orders going within ``stack_km`` of the bundle's
   first customer (a drop-off on the way costs the others little). A bundle is delivered
   nearest customer first;
3. costs each bundle against its ``candidates`` nearest free riders (a k-d tree), in seconds:
   the rider's time before pickup (ride plus waiting for the last order's food) plus the time
   each order's food waits for the rider; not assigning a bundle this round costs more than any
   pair. Only pairs worth committing now are candidates: leaving now must bring the rider
   nearer to the first order's ready time than leaving at the next round would (the ideal
   departure is less than half an interval away; the paper's commitment rule, rounded to the
   nearer round), so a rider is never spent on a pair that would wait anyway;
4. solves the assignment exactly over those pairs with SciPy's sparse LAPJV
   (``min_weight_full_bipartite_matching``); bundles left out wait for a round with better
   information, and their riders stay free.

Between rounds only the urgent is decided at once, so a round's interval never adds to an order
whose food is already waiting: an order whose food is ready with no rider goes to the nearest free
rider, and when there was none, the next rider who frees up takes the order whose food has waited
longest; otherwise riders wait for the next round.

A rider whose shift ends (D28) is never given a bundle they would pick up later than that, the
estimate being ``max(now + ride + pickup lead, the bundle's last ready time)``: such pairs are
dropped before the matching, and riders who could pick nothing up in time any more are not
counted or costed at all. Between rounds the same test applies to the urgent assignments.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import defaultdict

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching
from scipy.spatial import cKDTree

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

#: The cost of leaving a bundle for the next round, in seconds: a year, above any pair's, so the
#: matching assigns as many bundles as it can before it minimises their cost.
UNASSIGNED_S = 86_400.0 * 365


class _Held:
    __slots__ = ("lat", "lon", "order_id", "ready", "seq", "to_lat", "to_lon", "vendor")

    def __init__(self, order: Order, ready: float, seq: int) -> None:
        self.order_id, self.vendor, self.ready, self.seq = order.id, order.vendor_id, ready, seq
        self.lat, self.lon = order.restaurant_lat, order.restaurant_lon
        self.to_lat, self.to_lon = order.address.latitude, order.address.longitude


class Bundle:
    """Orders of one restaurant a round may give one rider, in pickup and delivery order."""

    __slots__ = ("lat", "lon", "order_ids", "readies")

    def __init__(self, lat: float, lon: float) -> None:
        self.lat, self.lon = lat, lon
        self.order_ids: list[str] = []
        self.readies: list[float] = []


class RollingHorizon:
    __slots__ = (
        "_bundle_window",
        "_candidates",
        "_cooked",
        "_coslat",
        "_horizon",
        "_interval",
        "_max_bundle",
        "_next",
        "_ride",
        "_riders",
        "_seq",
        "_shifts",
        "_stack_km",
        "_waiting",
        "work",
    )

    name = "rolling_horizon"
    decides_later = True

    def __init__(
        self,
        ride: RideTime,
        interval_s: float = default("interval_min", 60),
        horizon_s: float = default("horizon_min", 60),
        max_bundle: int = int(default("max_bundle")),
        bundle_window_s: float = default("bundle_window_min", 60),
        stack_km: float = default("stack_km"),
        candidates: int = int(default("candidates")),
        cell_km: float = default("cell_km"),
        ref_lat: float = default("ref_lat"),
        pickup_lead_s: float = 0.0,
    ) -> None:
        self._ride = ride
        self._interval = interval_s
        self._horizon = horizon_s
        self._max_bundle = max_bundle
        self._bundle_window = bundle_window_s
        self._stack_km = stack_km
        self._candidates = candidates
        self._riders = GridIndex(cell_km, ref_lat, ride)
        self._shifts = ShiftEnds(ride, pickup_lead_s)
        self._coslat = ride.x_scale(ref_lat)
        self._waiting: dict[str, _Held] = {}
        #: orders whose food is ready, ``(ready_at, seq, order_id)`` earliest first, for a rider
        #: who frees up between rounds; entries of orders gone since are stale
        self._cooked: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._next: float | None = None
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
        held = self._waiting.get(order.id)
        ready = ready_estimate(order, now)
        if order.ready_at is not None:  # the food is waiting: no round to wait for
            lat, lon, riders = order.restaurant_lat, order.restaurant_lon, self._riders
            if self._shifts:
                accept = self._shifts.accepting(riders.position, lat, lon, ready, now)
                rider_id = riders.nearest(lat, lon, accept)
            else:
                rider_id = riders.nearest(lat, lon)
            if rider_id is not None:
                self.order_gone(order.id)
                return rider_id
        if held is None:
            held = self._waiting[order.id] = _Held(order, ready, next(self._seq))
        held.ready = ready
        if order.ready_at is not None:  # cooked: a rider who frees up between rounds takes it
            heapq.heappush(self._cooked, (ready, held.seq, order.id))
        if self._next is None:
            self._next = self._round_after(now)
        return None

    def order_gone(self, order_id: str) -> None:
        self._waiting.pop(order_id, None)
        if not self._waiting:
            self._next = None  # no round needed until an order waits again

    def order_for(
        self, rider_id: str, lat: float, lon: float, now: float, until: float | None = None
    ) -> tuple[str, ...]:
        """Between rounds: the waiting order whose food has been ready longest, if any (it
        found no free rider when it became ready); for a rider whose shift ends, the one ready
        longest that they can pick up by then (the others stay for another rider)."""
        heap, waiting, shifts = self._cooked, self._waiting, self._shifts
        if until is not None and shifts.expired(until, now):
            return ()
        kept: list[tuple[float, int, str]] = []
        found: tuple[str, ...] = ()
        while heap:
            entry = heapq.heappop(heap)
            held = waiting.get(entry[2])
            if held is None or held.seq != entry[1]:
                continue
            if until is not None and not shifts.in_time(
                until, lat, lon, held.lat, held.lon, held.ready, now
            ):
                kept.append(entry)
                continue
            del waiting[entry[2]]
            if not waiting:
                self._next = None
            found = (entry[2],)
            break
        for entry in kept:
            heapq.heappush(heap, entry)
        return found

    def due(self) -> float | None:
        return self._next

    def _round_after(self, now: float) -> float:
        """The first round strictly after ``now``: rounds fall on multiples of the interval, so
        they do not depend on when the first order came."""
        step = self._interval
        return (math.floor(now / step + 1e-9) + 1) * step

    def waiting_count(self) -> int:
        return len(self._waiting)

    # ------------------------------------------------------------------ a round
    def decide(self, now: float) -> list[Assignment]:
        self.work.decisions += 1
        self._next = self._round_after(now) if self._waiting else None
        riders = self._riders.points()
        if self._shifts:
            riders = self._in_service(riders, now)
        if not riders or not self._waiting:
            return []
        bundles = self.bundles(now, len(riders))
        if not bundles:
            return []
        out: list[Assignment] = []
        for b, k, _ in self.match(bundles, riders, now, commit_by=now + self._interval / 2):
            bundle = bundles[b]
            rider_id = riders[k][0]
            self.rider_unavailable(rider_id)
            for order_id in bundle.order_ids:
                del self._waiting[order_id]
            out.append(Assignment(rider_id, tuple(bundle.order_ids)))
        if not self._waiting:
            self._next = None
        return out

    def _in_service(
        self, riders: list[tuple[str, float, float]], now: float
    ) -> list[tuple[str, float, float]]:
        """The riders who could still pick something up in time, the earliest food ready: the
        others' shifts end too soon for any order, so they neither count as free (the target
        bundle size) nor take a candidate's place."""
        shifts = self._shifts
        soonest = min((h.ready for h in self._waiting.values()), default=math.inf)
        out = []
        for rider in riders:
            until = shifts.end(rider[0])
            if until is None or not (shifts.expired(until, now) or soonest > until):
                out.append(rider)
        return out

    def bundles(self, now: float, free_riders: int) -> list[Bundle]:
        """The orders due within the horizon, grouped by restaurant into bundles (step 2)."""
        limit, soon = now + self._horizon, now + self._interval
        by_vendor: dict[str, list[tuple[float, int, str, _Held]]] = defaultdict(list)
        urgent = 0  # orders that need a rider before the next round: what the free riders face
        for order_id, held in self._waiting.items():
            if held.ready <= limit:
                by_vendor[held.vendor].append((held.ready, held.seq, order_id, held))
                urgent += held.ready <= soon
        target = min(self._max_bundle, max(1, math.ceil(urgent / max(1, free_riders))))
        out: list[Bundle] = []
        for vendor in sorted(by_vendor):
            group = sorted(by_vendor[vendor], key=lambda e: e[:2])
            while group:
                first = group.pop(0)[3]
                members = [first]
                for entry in list(group):
                    if len(members) >= self._max_bundle:
                        break
                    held = entry[3]
                    if held.ready - first.ready > self._bundle_window:
                        break
                    if len(members) < target or self._on_the_way(first, held):
                        members.append(held)
                        group.remove(entry)
                out.append(self._bundle(members))
        return out

    def _on_the_way(self, first: _Held, other: _Held) -> bool:
        km = self._ride.km(first.to_lat, first.to_lon, other.to_lat, other.to_lon)
        return km <= self._stack_km

    def _bundle(self, members: list[_Held]) -> Bundle:
        """Nearest customer first: the first drop-off delays the others least."""
        first = members[0]
        bundle = Bundle(first.lat, first.lon)
        km = self._ride.km
        ordered = sorted(members, key=lambda h: (km(h.lat, h.lon, h.to_lat, h.to_lon), h.seq))
        for held in ordered:
            bundle.order_ids.append(held.order_id)
            bundle.readies.append(held.ready)
        return bundle

    def match(
        self,
        bundles: list[Bundle],
        riders: list[tuple[str, float, float]],
        now: float,
        commit_by: float | None = None,
    ) -> list[tuple[int, int, float]]:
        """The minimum-cost assignment of bundles to riders over each bundle's nearest
        ``candidates`` (steps 3 and 4): ``(bundle, rider, ride seconds)`` for each pair. With
        ``commit_by``, only pairs whose rider must leave by then (to be there when the first
        order is ready) are candidates; a pair whose rider's shift ends before the estimated
        pickup never is."""
        n_b, n_r = len(bundles), len(riders)
        k = min(self._candidates, n_r)
        coslat = self._coslat
        r_lat = np.fromiter((r[1] for r in riders), dtype=np.float64, count=n_r)
        r_lon = np.fromiter((r[2] for r in riders), dtype=np.float64, count=n_r)
        b_lat = np.fromiter((b.lat for b in bundles), dtype=np.float64, count=n_b)
        b_lon = np.fromiter((b.lon for b in bundles), dtype=np.float64, count=n_b)
        tree = cKDTree(np.column_stack((r_lon * coslat, r_lat)))
        _, near = tree.query(np.column_stack((b_lon * coslat, b_lat)), k=k)
        near = np.asarray(near, dtype=np.int64).reshape(n_b, k)
        rows = np.repeat(np.arange(n_b), k)
        cols = near.ravel()
        # rides with the ETA's own function, pair by pair: NumPy's vectorised sine may differ in
        # the last bit from one CPU to another, and a round's outcome must not
        seconds = self._ride.seconds
        rl, ro, bl, bo = r_lat.tolist(), r_lon.tolist(), b_lat.tolist(), b_lon.tolist()
        travel = np.array(
            [
                seconds(rl[c], ro[c], bl[b], bo[b])
                for b, c in zip(rows.tolist(), cols.tolist(), strict=True)
            ],
            dtype=np.float64,
        )
        # when the rider could take the food: arrival plus the pickup lead
        arrival = now + travel + self._shifts.lead
        last = np.fromiter((max(b.readies) for b in bundles), dtype=np.float64, count=n_b)
        # each order's food waits from its ready time until the rider comes
        food_wait = np.zeros(n_b * k)
        for i, b in enumerate(bundles):
            span = slice(i * k, (i + 1) * k)
            for ready in b.readies:
                food_wait[span] += np.maximum(0.0, arrival[span] - ready)
        rider_wait = np.maximum(0.0, last[rows] - arrival)
        cost = travel + rider_wait + food_wait + 1.0  # + 1: the solver takes zero as no edge
        self.work.pairs_costed += n_b * k
        if commit_by is not None:
            first = np.fromiter((min(b.readies) for b in bundles), dtype=np.float64, count=n_b)
            keep = first[rows] - travel - self._shifts.lead <= commit_by
            rows, cols, cost, travel = rows[keep], cols[keep], cost[keep], travel[keep]
        if self._shifts:
            keep = self._in_time(riders, rows, cols, travel, last, now)
            rows, cols, cost, travel = rows[keep], cols[keep], cost[keep], travel[keep]
        ride_of = {
            (b, c): s for b, c, s in zip(rows.tolist(), cols.tolist(), travel.tolist(), strict=True)
        }
        # a column per rider, then a "not this round" column per bundle
        graph = csr_matrix(
            (
                np.concatenate((cost, np.full(n_b, UNASSIGNED_S))),
                (
                    np.concatenate((rows, np.arange(n_b))),
                    np.concatenate((cols, n_r + np.arange(n_b))),
                ),
            ),
            shape=(n_b, n_r + n_b),
        )
        matched_rows, matched_cols = min_weight_full_bipartite_matching(graph)
        out: list[tuple[int, int, float]] = []
        for b, c in zip(matched_rows.tolist(), matched_cols.tolist(), strict=True):
            if c >= n_r:
                continue  # left for the next round
            out.append((b, c, ride_of[(b, c)]))
        return out

    def _in_time(
        self,
        riders: list[tuple[str, float, float]],
        rows: np.ndarray,
        cols: np.ndarray,
        travel: np.ndarray,
        last: np.ndarray,
        now: float,
    ) -> np.ndarray:
        """Which pairs' riders pick their bundle up by the end of their shift: the estimate is
        ``max(now + ride + lead, the bundle's last ready time)``, as ``ShiftEnds.in_time``."""
        end = self._shifts.end
        ends = np.array(
            [math.inf if (u := end(r[0])) is None else u for r in riders], dtype=np.float64
        )
        pickup = np.maximum(now + travel + self._shifts.lead, last[rows])
        keep: np.ndarray = pickup <= ends[cols]
        return keep
