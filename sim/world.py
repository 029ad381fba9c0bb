"""The world a replication runs in: kitchens, customers and riders placed on the city, each
registered with the service and given the actor the model calls the API as."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import simpy

from reference_api.fixtures import fixture_id
from reference_api.model import User, Vendor
from reference_api.roles import Actor, Role
from reference_api.service import OrderService
from scenarios.schema import Scenario, clock_seconds
from sim.city import City
from sim.records import RiderState
from sim.streams import by_share, entity_uniforms


@dataclass(slots=True)
class World:
    vendors: list[Vendor]
    #: the restaurant owner acting for each vendor, by vendor index
    restaurants: list[Actor]
    #: each vendor's kitchen: ``vendors.kitchen_slots`` orders cook at once
    kitchens: list[simpy.Resource]
    customers: list[Actor]
    #: each customer's delivery address, as ``place_order`` takes it
    addresses: list[dict[str, float]]
    riders: list[RiderState]
    rider_by_id: dict[str, RiderState]


def build_world(
    s: Scenario,
    env: simpy.Environment,
    svc: OrderService,
    city: City,
    rider_rng: np.random.Generator,
) -> World:
    """Vendors, customers and riders in index order, with their fixture ids; each rider draws
    one of the scenario's shifts (by share) from ``rider_rng``'s seeds, by its index."""
    vendors: list[Vendor] = []
    restaurants: list[Actor] = []
    for i in range(s.vendor_count):
        vid, owner = fixture_id("vendor", i), fixture_id("owner", i)
        v = Vendor(vid, f"Kitchen {i}", owner, city.vendor_lat[i], city.vendor_lon[i])
        svc.add_vendor(v)
        vendors.append(v)
        restaurants.append(Actor(Role.RESTAURANT, owner, v.name, vid))
    kitchens = [simpy.Resource(env, capacity=s.vendors.kitchen_slots) for _ in vendors]
    customers: list[Actor] = []
    for i in range(s.customer_count):
        actor = Actor(Role.CUSTOMER, fixture_id("customer", i), f"Customer {i}")
        svc.add_user(User(actor.user_id, actor.name, Role.CUSTOMER.value))
        customers.append(actor)
    addresses = [
        {"latitude": lat, "longitude": lon}
        for lat, lon in zip(city.customer_lat, city.customer_lon, strict=True)
    ]
    riders: list[RiderState] = []
    rider_by_id: dict[str, RiderState] = {}
    for i, (start, end, later) in enumerate(_shifts(s, rider_rng)):
        actor = Actor(Role.RIDER, fixture_id("rider", i), f"Rider {i}")
        svc.add_user(User(actor.user_id, actor.name, Role.RIDER.value))
        r = RiderState(i, actor, city.rider_lat[i], city.rider_lon[i], max(0.0, start), end)
        r.later = later
        riders.append(r)
        rider_by_id[actor.user_id] = r
    return World(vendors, restaurants, kitchens, customers, addresses, riders, rider_by_id)


def _shifts(
    s: Scenario, rider_rng: np.random.Generator
) -> list[tuple[float, float, list[tuple[float, float, float, float]]]]:
    """Each rider's first shift ``(start, end)`` in seconds from the period's start, and any
    later ones as ``(start, end, lat, lon)``: from the roster, or one of the scenario's shifts
    drawn by share (one covering the period when there are none). Rider ``i``'s shift is its
    own uniform through the cumulative shares, so adding a rider never changes another's."""
    roster = None if s.inputs is None else s.inputs.roster
    if roster is not None:
        return [
            (sh[0].on_s, sh[0].off_s, [(x.on_s, x.off_s, x.lat, x.lon) for x in sh[1:]])
            for sh in roster.shifts
        ]
    shifts, period, n = s.fleet.shifts, s.period, s.rider_count
    if s.fleet.staffing is not None:  # riders per hour: rider i works the hours where i < s_h
        from sim.staffing import staffing_shifts

        spans_of = staffing_shifts(s.fleet.staffing, period.duration_s)
        return [
            (first[0], first[1], [(a, b, math.nan, math.nan) for a, b in rest])
            for first, *rest in spans_of
        ]
    if shifts:
        shares = np.array([sh.share for sh in shifts], dtype=float)
        which = by_share(entity_uniforms(rider_rng, "shifts", n, 1), shares)
        spans = [
            (clock_seconds(sh.start) - period.start_s, clock_seconds(sh.end) - period.start_s)
            for sh in shifts
        ]
    else:
        which = np.zeros(n, dtype=np.int64)
        spans = [(0.0, period.duration_s)]
    return [(*spans[int(k)], []) for k in which.tolist()]
