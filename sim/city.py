"""The city: where kitchens are, where customers live, where riders start, and which kitchens
each customer orders from. Built once per replication from the ``city`` stream (vendors and
customers) and the ``riders`` stream (rider starts), each entity by its index
(``sim.streams.entity_uniforms``): vendor, customer or rider ``i`` is placed at the same spot
whatever the counts, so a sweep over one count leaves every other entity where it was."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from reference_api.geo import KM_PER_DEG_LAT, KM_PER_DEG_LON_EQUATOR
from scenarios.schema import Hotspot, Scenario
from sim.streams import by_share, entity_uniforms

FloatArray = np.ndarray[tuple[int], np.dtype[np.float64]]
IntMatrix = np.ndarray[tuple[int, int], np.dtype[np.int64]]


@dataclass(frozen=True)
class City:
    vendor_lat: list[float]
    vendor_lon: list[float]
    customer_lat: list[float]
    customer_lon: list[float]
    #: ``choices[c]``: indexes of the vendors customer ``c`` orders from (nearest first).
    choices: IntMatrix
    rider_lat: list[float]
    rider_lon: list[float]
    area_km2: float


def _points(
    spots: list[Hotspot], n: int, parent: np.random.Generator, kind: str
) -> tuple[FloatArray, FloatArray]:
    """Uniform points in discs around weighted hotspots, rounded to 6 decimals. Point ``i``
    takes three uniforms of its own (hotspot, radius, angle), so it depends only on the
    stream, ``kind`` and ``i``, never on ``n``."""
    u = entity_uniforms(parent, kind, n, 3).reshape(n, 3)
    weights = np.array([s.weight for s in spots], dtype=float)
    which = by_share(u[:, 0], weights)
    radius = np.array([s.radius_km for s in spots])[which] * np.sqrt(u[:, 1])
    angle = u[:, 2] * 2 * math.pi
    lat0 = np.array([s.lat for s in spots])[which]
    lon0 = np.array([s.lon for s in spots])[which]
    lat = lat0 + radius * np.cos(angle) / KM_PER_DEG_LAT
    lon = lon0 + radius * np.sin(angle) / (KM_PER_DEG_LON_EQUATOR * np.cos(np.radians(lat0)))
    return np.round(lat, 6), np.round(lon, 6)


def default_spots(scenario: Scenario) -> tuple[list[Hotspot], list[Hotspot]]:
    c = scenario.city
    rest = c.restaurant_hotspots or [Hotspot(lat=c.center_lat, lon=c.center_lon, radius_km=4.0)]
    cust = c.customer_hotspots or [Hotspot(lat=c.center_lat, lon=c.center_lon, radius_km=6.0)]
    return rest, cust


def build_city(
    scenario: Scenario, city_rng: np.random.Generator, rider_rng: np.random.Generator
) -> City:
    """Vendors and customers from ``city_rng``'s seeds, rider starts from ``rider_rng``'s, each
    kind addressed separately so no count shifts another kind's draws. Only the generators'
    seeds are read: their own draws are left untouched."""
    if scenario.inputs is not None and scenario.inputs.orders is not None:
        return _city_of_files(scenario)
    rest, cust = default_spots(scenario)
    vlat, vlon = _points(rest, scenario.vendor_count, city_rng, "vendors")
    clat, clon = _points(cust, scenario.customer_count, city_rng, "customers")
    roster = None if scenario.inputs is None else scenario.inputs.roster
    if roster is not None:  # riders start where the roster says
        rlat = np.array([shifts[0].lat for shifts in roster.shifts])
        rlon = np.array([shifts[0].lon for shifts in roster.shifts])
    else:
        rlat, rlon = _points(rest, scenario.rider_count, rider_rng, "riders")
    coslat = math.cos(math.radians(scenario.city.center_lat))
    vendors_xy = np.column_stack((vlon * coslat, vlat))
    customers_xy = np.column_stack((clon * coslat, clat))
    k = min(scenario.city.vendor_choice, scenario.vendor_count)
    _, idx = cKDTree(vendors_xy).query(customers_xy, k=k)
    choices = np.asarray(idx, dtype=np.int64).reshape(scenario.customer_count, k)
    area = sum(math.pi * s.radius_km**2 for s in rest)
    return City(
        vlat.tolist(),
        vlon.tolist(),
        clat.tolist(),
        clon.tolist(),
        choices,
        rlat.tolist(),
        rlon.tolist(),
        area,
    )


def _city_of_files(scenario: Scenario) -> City:
    """Positions as the data files give them: restaurants, one customer per order-log row (the
    row's delivery address) and riders where their first shift starts. Each customer orders
    from the row's restaurant, so ``choices`` holds just that one. The area (for sizing the
    dispatch grid) is the restaurants' bounding box."""
    inputs = scenario.inputs
    assert inputs is not None and inputs.orders is not None and inputs.restaurants is not None
    places, trace = inputs.restaurants, inputs.orders
    if inputs.roster is not None:
        first = [shifts[0] for shifts in inputs.roster.shifts]
        rlat, rlon = [sh.lat for sh in first], [sh.lon for sh in first]
    else:  # drawn riders start among the restaurants, as in a drawn city
        pick = np.arange(scenario.rider_count) % len(places)
        rlat, rlon = places.lat[pick].tolist(), places.lon[pick].tolist()
    if scenario.city.planar:
        width = float(np.ptp(places.lon)) / 1000.0
        height = float(np.ptp(places.lat)) / 1000.0
    else:
        coslat = math.cos(math.radians(float(np.mean(places.lat))))
        width = float(np.ptp(places.lon)) * KM_PER_DEG_LON_EQUATOR * coslat
        height = float(np.ptp(places.lat)) * KM_PER_DEG_LAT
    return City(
        places.lat.tolist(),
        places.lon.tolist(),
        trace.lat.tolist(),
        trace.lon.tolist(),
        trace.restaurant.reshape(len(trace), 1),
        rlat,
        rlon,
        max(1.0, width * height),
    )
