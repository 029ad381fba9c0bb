"""Distances and travel times for ETAs and dispatch: haversine with a detour factor on
(latitude, longitude) degrees, or, in planar geometry, Euclidean metres ridden at a fixed pace in
whole minutes (the Grubhub Meal Delivery Routing Problem's instances, D27)."""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG), for great-circle distances
#: Lengths of a degree on the WGS84 ellipsoid, for turning km offsets into degrees: a degree of
#: latitude (at the equator), and a degree of longitude at the equator (times cos(latitude)
#: elsewhere). The simulated city's coordinates, and so its golden outputs, are built with these.
KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LON_EQUATOR = 111.320
#: How far from the origin a planar coordinate may lie, in metres: any city fits, and a typo of
#: degrees for metres or of a timestamp for a position does not.
PLANAR_BOUND_M = 1e8


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def travel_seconds(distance_km: float, speed_kmh: float, detour_factor: float) -> float:
    """Road time for a straight-line distance: road length = detour_factor x great-circle."""
    return distance_km * detour_factor / speed_kmh * 3600.0


@dataclass(frozen=True, slots=True)
class Geometry:
    """Where points lie and how long a ride between two takes: the one model the ETA (D10) and
    every dispatch strategy share, so a promise and a dispatch decision never disagree.

    Spherical (``metres_per_minute == 0``, the default): coordinates are degrees, distance is
    haversine, a ride is that times ``detour_factor`` at ``speed_kmh``. Planar
    (``metres_per_minute > 0``): ``latitude`` holds the northing and ``longitude`` the easting in
    metres, and a ride is ``ceil(euclidean metres / metres_per_minute)`` whole minutes, as the
    MDRP instances define it; speed and detour are then unused.
    """

    speed_kmh: float = 20.0
    detour_factor: float = 1.3
    metres_per_minute: float = 0.0

    def __post_init__(self) -> None:
        mpm = self.metres_per_minute
        if isinstance(mpm, bool) or not isinstance(mpm, int | float) or not mpm >= 0:
            raise ValueError(f"metres_per_minute: expected a number >= 0, got {mpm!r}")
        if not math.isfinite(mpm):
            raise ValueError(f"metres_per_minute: expected a finite number, got {mpm!r}")

    @property
    def planar(self) -> bool:
        return self.metres_per_minute > 0

    def km(self, lat1: float, lon1: float, lat2: float, lon2: float) -> float:
        """The straight-line distance: Euclidean in planar geometry, great-circle otherwise."""
        if self.metres_per_minute > 0:
            return math.sqrt((lon2 - lon1) ** 2 + (lat2 - lat1) ** 2) / 1000.0
        return haversine_km(lat1, lon1, lat2, lon2)

    def seconds(self, lat1: float, lon1: float, lat2: float, lon2: float) -> float:
        """Seconds of riding from the first point to the second; in planar geometry a whole
        number of minutes, exactly (the MDRP's travel times are integers)."""
        mpm = self.metres_per_minute
        if mpm > 0:
            return 60.0 * math.ceil(math.sqrt((lon2 - lon1) ** 2 + (lat2 - lat1) ** 2) / mpm)
        km = haversine_km(lat1, lon1, lat2, lon2)
        return travel_seconds(km, self.speed_kmh, self.detour_factor)

    def x_scale(self, ref_lat: float) -> float:
        """What a longitude is multiplied by to lie in a plane with its latitude: the
        equirectangular projection's ``cos(ref_lat)``, or 1 when coordinates are metres already
        (multiplying by 1.0 is exact, so planar positions pass through unchanged)."""
        return 1.0 if self.metres_per_minute > 0 else math.cos(math.radians(ref_lat))

    def xy(self, lat: float, lon: float, ref_lat: float) -> tuple[float, float]:
        """A point in that plane; plane distances are proportional to km near ``ref_lat``."""
        return lon * self.x_scale(ref_lat), lat

    def plane_units(self, km: float) -> float:
        """``km`` as a length in that plane: metres, or degrees of latitude."""
        return km * 1000.0 if self.metres_per_minute > 0 else km / KM_PER_DEG_LAT
