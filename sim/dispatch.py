"""The simulation's dispatch policy: nearest available rider, oldest waiting order first, as the
reference ``NearestRiderDispatch`` decides, with a search that stays cheap when riders are scarce.

A ring search over grid cells is fast while available riders are dense, but when few are free
(an overloaded evening) it walks ring after ring of empty cells before finding one: its cost
grows with the city's area, not with the riders. Here the search stops as soon as the cells it
would still visit outnumber the available riders, and compares distances to all of them instead.
Both ways give the exact nearest rider (ties to the smaller id), so the choice is the reference
policy's; only the cost differs. Plugged in through ``bootstrap(dispatch=...)``.
"""

from __future__ import annotations

import math


class ScarcityAwareDispatch:
    __slots__ = ("_cell", "_cells", "_coslat", "_waiting", "_where")

    def __init__(self, cell_km: float = 1.0, ref_lat: float = 19.07) -> None:
        self._cell = cell_km / 111.32  # degrees of latitude per cell
        self._coslat = math.cos(math.radians(ref_lat))
        self._cells: dict[tuple[int, int], dict[str, tuple[float, float]]] = {}
        self._where: dict[str, tuple[int, int, float, float]] = {}
        self._waiting: dict[str, None] = {}

    # riders ------------------------------------------------------------------------------
    def rider_available(self, rider_id: str, lat: float, lon: float) -> None:
        if rider_id in self._where:
            self.rider_unavailable(rider_id)
        x, y = lon * self._coslat, lat
        i, j = math.floor(x / self._cell), math.floor(y / self._cell)
        bucket = self._cells.get((i, j))
        if bucket is None:
            bucket = self._cells[(i, j)] = {}
        bucket[rider_id] = (x, y)
        self._where[rider_id] = (i, j, x, y)

    def rider_unavailable(self, rider_id: str) -> None:
        found = self._where.pop(rider_id, None)
        if found is None:
            return
        cell = (found[0], found[1])
        bucket = self._cells[cell]
        del bucket[rider_id]
        if not bucket:
            del self._cells[cell]

    def rider_for(self, lat: float, lon: float) -> str | None:
        where = self._where
        if not where:
            return None
        x, y = lon * self._coslat, lat
        size = self._cell
        ci, cj = math.floor(x / size), math.floor(y / size)
        cells = self._cells
        budget = len(where)
        best_key: str | None = None
        best_d2 = math.inf
        visited = 0
        r = 0
        while True:
            ring = 1 if r == 0 else 8 * r
            if best_key is None and visited + ring > budget:
                return self._linear(x, y)
            visited += ring
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

    def _linear(self, x: float, y: float) -> str | None:
        best_key: str | None = None
        best_d2 = math.inf
        for key, (_, _, px, py) in self._where.items():
            d2 = (px - x) ** 2 + (py - y) ** 2
            if d2 < best_d2 or (d2 == best_d2 and best_key is not None and key < best_key):
                best_d2, best_key = d2, key
        return best_key

    # orders ------------------------------------------------------------------------------
    def order_waiting(self, order_id: str, lat: float, lon: float) -> None:
        self._waiting[order_id] = None

    def order_gone(self, order_id: str) -> None:
        self._waiting.pop(order_id, None)

    def order_for(self, rider_id: str, lat: float, lon: float) -> str | None:
        return next(iter(self._waiting), None)

    def waiting_count(self) -> int:
        return len(self._waiting)
