"""Distances and travel times for ETAs and dispatch: haversine with a detour factor."""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG), for great-circle distances
#: Lengths of a degree on the WGS84 ellipsoid, for turning km offsets into degrees: a degree of
#: latitude (at the equator), and a degree of longitude at the equator (times cos(latitude)
#: elsewhere). The simulated city's coordinates, and so its golden outputs, are built with these.
KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LON_EQUATOR = 111.320


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
