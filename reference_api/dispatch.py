"""Rider dispatch: which available rider takes an order, and which waiting order a freed rider
takes. Pluggable (the service calls the ``DispatchPolicy`` protocol); the default keeps available
riders in a uniform grid so nearest-rider search stays fast with thousands of riders, and stays
cheap when only a few of them are free."""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Protocol

from reference_api.geo import KM_PER_DEG_LAT


class DispatchPolicy(Protocol):
    def rider_available(self, rider_id: str, lat: float, lon: float) -> None: ...
    def rider_unavailable(self, rider_id: str) -> None: ...
    def order_waiting(self, order_id: str, lat: float, lon: float) -> None: ...
    def order_gone(self, order_id: str) -> None: ...
    def rider_for(self, lat: float, lon: float) -> str | None: ...
    def order_for(self, rider_id: str, lat: float, lon: float) -> str | None: ...
    def waiting_count(self) -> int: ...


#: Below this many points a scan of all of them beats walking rings of cells (a sparse grid,
#: e.g. when most riders are busy, made the ring walk the costliest step of confirming).
BRUTE_FORCE_MAX = 32


class GridIndex:
    """Points in a uniform grid over an equirectangular projection around ``ref_lat``.

    ``nearest`` gives the exact nearest point (ties to the smallest key). It walks rings of cells
    outwards from the query while points are dense; when they are scarce (an overloaded evening
    with few riders free) the rings are mostly empty and the walk's cost would grow with the
    city's area rather than with the points, so as soon as the cells it has probed outnumber the
    points it finishes with a plain scan of every point instead. Either way the answer is the
    same; only the cost differs.
    """

    __slots__ = ("_cell", "_cells", "_coslat", "_where")

    def __init__(self, cell_km: float = 1.0, ref_lat: float = 19.07) -> None:
        self._cell = cell_km / KM_PER_DEG_LAT  # degrees of latitude per cell
        self._coslat = math.cos(math.radians(ref_lat))
        self._cells: dict[tuple[int, int], dict[str, tuple[float, float]]] = {}
        #: key -> (cell i, cell j, x, y): the plain scan reads positions from here directly
        self._where: dict[str, tuple[int, int, float, float]] = {}

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, key: str) -> bool:
        return key in self._where

    def add(self, key: str, lat: float, lon: float) -> None:
        if key in self._where:
            self.remove(key)
        x, y = lon * self._coslat, lat
        i, j = math.floor(x / self._cell), math.floor(y / self._cell)
        bucket = self._cells.get((i, j))
        if bucket is None:
            bucket = self._cells[(i, j)] = {}
        bucket[key] = (x, y)
        self._where[key] = (i, j, x, y)

    def remove(self, key: str) -> None:
        found = self._where.pop(key, None)
        if found is None:
            return
        cell = (found[0], found[1])
        bucket = self._cells[cell]
        del bucket[key]
        if not bucket:
            del self._cells[cell]

    def nearest(self, lat: float, lon: float) -> str | None:
        where = self._where
        if not where:
            return None
        x, y = lon * self._coslat, lat
        budget = len(where)
        if budget <= BRUTE_FORCE_MAX:
            return self._nearest_of_all(x, y)
        size = self._cell
        ci, cj = math.floor(x / size), math.floor(y / size)
        cells = self._cells
        best_key: str | None = None
        best_d2 = math.inf
        r = 0
        while True:
            # Rings of mostly empty cells can cost more than looking at every point: once as
            # many cells would have been probed as there are points, do the plain scan instead.
            budget -= 8 * r or 1
            if budget < 0:
                return self._nearest_of_all(x, y)
            for i in range(ci - r, ci + r + 1):
                edge = i == ci - r or i == ci + r
                for j in range(cj - r, cj + r + 1) if edge else (cj - r, cj + r):
                    bucket = cells.get((i, j))
                    if not bucket:
                        continue
                    for key, (px, py) in bucket.items():
                        d2 = (px - x) ** 2 + (py - y) ** 2
                        if d2 < best_d2 or (
                            d2 == best_d2 and best_key is not None and key < best_key
                        ):
                            best_d2, best_key = d2, key
            if best_key is not None:
                reach = r * size
                if best_d2 <= reach * reach:
                    return best_key
            r += 1

    def _nearest_of_all(self, x: float, y: float) -> str | None:
        """Every point, same metric and tie-break as the ring search (smallest key)."""
        best_key: str | None = None
        best_d2 = math.inf
        for key, (_, _, px, py) in self._where.items():
            d2 = (px - x) ** 2 + (py - y) ** 2
            if d2 < best_d2 or (d2 == best_d2 and best_key is not None and key < best_key):
                best_d2, best_key = d2, key
        return best_key


class NearestRiderDispatch:
    """Nearest available rider for a new order; oldest waiting order for a freed rider.

    The waiting orders are an ``OrderedDict`` (a linked list under the hood), so the oldest is
    found in O(1) however many were served before it; a plain dict's ``next(iter(...))`` walks
    over the slots its deletions left behind at the front and slows down as a run goes on.
    """

    __slots__ = ("_riders", "_waiting")

    def __init__(self, cell_km: float = 1.0, ref_lat: float = 19.07) -> None:
        self._riders = GridIndex(cell_km, ref_lat)
        self._waiting: OrderedDict[str, None] = OrderedDict()

    def rider_available(self, rider_id: str, lat: float, lon: float) -> None:
        self._riders.add(rider_id, lat, lon)

    def rider_unavailable(self, rider_id: str) -> None:
        self._riders.remove(rider_id)

    def order_waiting(self, order_id: str, lat: float, lon: float) -> None:
        self._waiting[order_id] = None  # a re-queued order keeps its place

    def order_gone(self, order_id: str) -> None:
        self._waiting.pop(order_id, None)

    def rider_for(self, lat: float, lon: float) -> str | None:
        return self._riders.nearest(lat, lon)

    def order_for(self, rider_id: str, lat: float, lon: float) -> str | None:
        return next(iter(self._waiting), None)

    def waiting_count(self) -> int:
        return len(self._waiting)
