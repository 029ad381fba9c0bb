"""Rider dispatch: which available rider takes an order, and which waiting order a freed rider
takes. Pluggable (the service calls the ``DispatchPolicy`` protocol); the default keeps available
riders in a uniform grid so nearest-rider search stays fast with thousands of riders."""

from __future__ import annotations

import math
from typing import Protocol


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
    """Points in a uniform grid over an equirectangular projection around ``ref_lat``."""

    __slots__ = ("_cell", "_cells", "_coslat", "_imax", "_imin", "_jmax", "_jmin", "_where")

    def __init__(self, cell_km: float = 1.0, ref_lat: float = 19.07) -> None:
        self._cell = cell_km / 111.32  # degrees of latitude per cell
        self._coslat = math.cos(math.radians(ref_lat))
        self._cells: dict[tuple[int, int], dict[str, tuple[float, float]]] = {}
        self._where: dict[str, tuple[int, int]] = {}
        self._imin = self._jmin = 1 << 30
        self._imax = self._jmax = -(1 << 30)

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, key: str) -> bool:
        return key in self._where

    def _xy(self, lat: float, lon: float) -> tuple[float, float]:
        return lon * self._coslat, lat

    def add(self, key: str, lat: float, lon: float) -> None:
        if key in self._where:
            self.remove(key)
        x, y = self._xy(lat, lon)
        cell = (math.floor(x / self._cell), math.floor(y / self._cell))
        bucket = self._cells.get(cell)
        if bucket is None:
            bucket = self._cells[cell] = {}
        bucket[key] = (x, y)
        self._where[key] = cell
        i, j = cell
        self._imin = min(self._imin, i)
        self._imax = max(self._imax, i)
        self._jmin = min(self._jmin, j)
        self._jmax = max(self._jmax, j)

    def remove(self, key: str) -> None:
        cell = self._where.pop(key, None)
        if cell is None:
            return
        bucket = self._cells[cell]
        del bucket[key]
        if not bucket:
            del self._cells[cell]

    def nearest(self, lat: float, lon: float) -> str | None:
        if not self._where:
            return None
        x, y = self._xy(lat, lon)
        if len(self._where) <= BRUTE_FORCE_MAX:
            return self._nearest_of_all(x, y)
        ci, cj = math.floor(x / self._cell), math.floor(y / self._cell)
        max_r = max(
            abs(ci - self._imin), abs(ci - self._imax), abs(cj - self._jmin), abs(cj - self._jmax)
        )
        best_key: str | None = None
        best_d2 = math.inf
        cells = self._cells
        # Rings of mostly empty cells can cost more than looking at every point: once as many
        # cells have been probed as there are points, finish with the plain scan instead.
        budget = len(self._where)
        for r in range(max_r + 1):
            budget -= 8 * r or 1
            if budget < 0:
                return self._nearest_of_all(x, y)
            for i in range(ci - r, ci + r + 1):
                edge = i in (ci - r, ci + r)
                js = range(cj - r, cj + r + 1) if edge else (cj - r, cj + r)
                for j in js:
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
                reach = r * self._cell
                if best_d2 <= reach * reach:
                    break
        return best_key

    def _nearest_of_all(self, x: float, y: float) -> str | None:
        """Every point, same metric and tie-break as the ring search (smallest key)."""
        best_key: str | None = None
        best_d2 = math.inf
        for bucket in self._cells.values():
            for key, (px, py) in bucket.items():
                d2 = (px - x) ** 2 + (py - y) ** 2
                if d2 < best_d2 or (d2 == best_d2 and best_key is not None and key < best_key):
                    best_d2, best_key = d2, key
        return best_key


class NearestRiderDispatch:
    """Nearest available rider for a new order; oldest waiting order for a freed rider."""

    def __init__(self, cell_km: float = 1.0, ref_lat: float = 19.07) -> None:
        self._riders = GridIndex(cell_km, ref_lat)
        self._waiting: dict[str, None] = {}

    def rider_available(self, rider_id: str, lat: float, lon: float) -> None:
        self._riders.add(rider_id, lat, lon)

    def rider_unavailable(self, rider_id: str) -> None:
        self._riders.remove(rider_id)

    def order_waiting(self, order_id: str, lat: float, lon: float) -> None:
        self._waiting[order_id] = None

    def order_gone(self, order_id: str) -> None:
        self._waiting.pop(order_id, None)

    def rider_for(self, lat: float, lon: float) -> str | None:
        return self._riders.nearest(lat, lon)

    def order_for(self, rider_id: str, lat: float, lon: float) -> str | None:
        return next(iter(self._waiting), None)

    def waiting_count(self) -> int:
        return len(self._waiting)
