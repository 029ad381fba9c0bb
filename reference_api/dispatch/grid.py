"""The nearest-rider index every dispatch strategy finds riders with: available riders in a
uniform grid, so nearest-rider search stays fast with thousands of riders, and stays cheap when
only a few of them are free."""

from __future__ import annotations

import math
from collections.abc import Callable

from reference_api.dispatch.options import default
from reference_api.geo import Geometry

#: Below this many points a scan of all of them beats walking rings of cells (a sparse grid,
#: e.g. when most riders are busy, made the ring walk the costliest step of confirming).
BRUTE_FORCE_MAX = 32


class GridIndex:
    """Points in a uniform grid over an equirectangular projection around ``ref_lat`` (in planar
    ``geometry``, over the metres themselves; ``cell_km`` is km either way).

    ``nearest`` gives the exact nearest point (ties to the smallest key). It walks rings of cells
    outwards from the query while points are dense; when they are scarce (an overloaded evening
    with few riders free) the rings are mostly empty and the walk's cost would grow with the
    city's area rather than with the points, so as soon as the cells it has probed outnumber the
    points it finishes with a plain scan of every point instead. Either way the answer is the
    same; only the cost differs.
    """

    __slots__ = ("_cell", "_cells", "_coslat", "_where")

    def __init__(
        self,
        cell_km: float = default("cell_km"),
        ref_lat: float = default("ref_lat"),
        geometry: Geometry | None = None,
    ) -> None:
        plane = _SPHERICAL if geometry is None else geometry
        self._cell = plane.plane_units(cell_km)  # degrees of latitude (or metres) per cell
        self._coslat = plane.x_scale(ref_lat)
        self._cells: dict[tuple[int, int], dict[str, tuple[float, float]]] = {}
        #: key -> (cell i, cell j, x, y, lat, lon): the plain scan reads positions from here
        #: directly; lat and lon as given, since x / cos(ref_lat) need not give lon back exactly
        self._where: dict[str, tuple[int, int, float, float, float, float]] = {}

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, key: str) -> bool:
        return key in self._where

    def points(self) -> list[tuple[str, float, float]]:
        """Every point as ``(key, lat, lon)``, in the order they were added."""
        return [(key, w[4], w[5]) for key, w in self._where.items()]

    def position(self, key: str) -> tuple[float, float] | None:
        """The point's ``(lat, lon)``, or None when it is not in the index."""
        found = self._where.get(key)
        return None if found is None else (found[4], found[5])

    def add(self, key: str, lat: float, lon: float) -> None:
        if key in self._where:
            self.remove(key)
        x, y = lon * self._coslat, lat
        i, j = math.floor(x / self._cell), math.floor(y / self._cell)
        bucket = self._cells.get((i, j))
        if bucket is None:
            bucket = self._cells[(i, j)] = {}
        bucket[key] = (x, y)
        self._where[key] = (i, j, x, y, lat, lon)

    def remove(self, key: str) -> None:
        found = self._where.pop(key, None)
        if found is None:
            return
        cell = (found[0], found[1])
        bucket = self._cells[cell]
        del bucket[key]
        if not bucket:
            del self._cells[cell]

    def nearest(
        self, lat: float, lon: float, accept: Callable[[str], bool] | None = None
    ) -> str | None:
        """The nearest point, or with ``accept`` the nearest it accepts (asked only of a point
        nearer than the best so far), or None."""
        where = self._where
        if not where:
            return None
        x, y = lon * self._coslat, lat
        budget = len(where)
        if budget <= BRUTE_FORCE_MAX:
            return self._nearest_of_all(x, y, accept)
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
                return self._nearest_of_all(x, y, accept)
            for i in range(ci - r, ci + r + 1):
                edge = i == ci - r or i == ci + r
                for j in range(cj - r, cj + r + 1) if edge else (cj - r, cj + r):
                    bucket = cells.get((i, j))
                    if not bucket:
                        continue
                    for key, (px, py) in bucket.items():
                        d2 = (px - x) ** 2 + (py - y) ** 2
                        if (
                            d2 < best_d2
                            or (d2 == best_d2 and best_key is not None and key < best_key)
                        ) and (accept is None or accept(key)):
                            best_d2, best_key = d2, key
            if best_key is not None:
                reach = r * size
                if best_d2 <= reach * reach:
                    return best_key
            r += 1

    def _nearest_of_all(
        self, x: float, y: float, accept: Callable[[str], bool] | None
    ) -> str | None:
        """Every point, same metric and tie-break as the ring search (smallest key)."""
        best_key: str | None = None
        best_d2 = math.inf
        for key, (_, _, px, py, _, _) in self._where.items():
            d2 = (px - x) ** 2 + (py - y) ** 2
            if (d2 < best_d2 or (d2 == best_d2 and best_key is not None and key < best_key)) and (
                accept is None or accept(key)
            ):
                best_d2, best_key = d2, key
        return best_key


#: The geometry of a grid given none: degrees, as every grid was before planar geometry.
_SPHERICAL = Geometry()
