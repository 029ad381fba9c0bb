"""Deterministic fixture identities (vendors, customers, riders) for the demo, the server and
tests: the same ids on every fresh database, so `orderflow token --role rider --index 2` names
the same rider that `orderflow serve` seeded."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from reference_api.model import User, Vendor
from reference_api.roles import Actor, Role
from reference_api.service import OrderService

NAMESPACE = uuid.UUID("6f0b3a2e-8c1d-4e5f-9a7b-0c1d2e3f4a5b")
#: The spec's example coordinates (Mumbai); fixtures spread around them.
CITY_LAT, CITY_LON = 19.0760, 72.8777

VENDOR_NAMES = (
    "Pizza Palace",
    "Curry House",
    "Sushi Stop",
    "Burger Barn",
    "Dosa Corner",
    "Taco Town",
    "Noodle Bar",
    "Salad Studio",
)


def fixture_id(kind: str, index: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{index}"))


def _spread(index: int, radius_deg: float) -> tuple[float, float]:
    """Points on a deterministic spiral around the city centre (no RNG needed)."""
    golden = 2.399963229728653
    r = radius_deg * ((index + 1) ** 0.5) / 4
    import math

    return (
        round(CITY_LAT + r * math.cos(index * golden), 6),
        round(CITY_LON + r * math.sin(index * golden), 6),
    )


@dataclass(frozen=True)
class Fixtures:
    vendors: list[Vendor] = field(default_factory=list)
    customers: list[Actor] = field(default_factory=list)
    restaurants: list[Actor] = field(default_factory=list)
    riders: list[Actor] = field(default_factory=list)
    customer_homes: list[tuple[float, float]] = field(default_factory=list)
    rider_starts: list[tuple[float, float]] = field(default_factory=list)

    def actor(self, role: Role, index: int = 0) -> Actor:
        pool = {
            Role.CUSTOMER: self.customers,
            Role.RESTAURANT: self.restaurants,
            Role.RIDER: self.riders,
        }.get(role)
        if role is Role.SYSTEM:
            from reference_api.roles import SYSTEM_ACTOR

            return SYSTEM_ACTOR
        assert pool is not None
        if not 0 <= index < len(pool):
            raise IndexError(f"--index {index} out of range: {len(pool)} {role.value} fixture(s)")
        return pool[index]


def build_fixtures(vendors: int = 5, customers: int = 20, riders: int = 10) -> Fixtures:
    fx = Fixtures()
    for i in range(vendors):
        lat, lon = _spread(i, 0.03)
        vid = fixture_id("vendor", i)
        owner = fixture_id("owner", i)
        name = VENDOR_NAMES[i % len(VENDOR_NAMES)] + ("" if i < len(VENDOR_NAMES) else f" {i}")
        fx.vendors.append(Vendor(vid, name, owner, lat, lon))
        fx.restaurants.append(Actor(Role.RESTAURANT, owner, name, vid))
    for i in range(customers):
        fx.customers.append(Actor(Role.CUSTOMER, fixture_id("customer", i), f"Customer {i}"))
        fx.customer_homes.append(_spread(i + 7, 0.05))
    for i in range(riders):
        fx.riders.append(Actor(Role.RIDER, fixture_id("rider", i), f"Rider {i}"))
        fx.rider_starts.append(_spread(i + 3, 0.03))
    return fx


def seed(service: OrderService, fx: Fixtures, *, riders_available: bool = True) -> None:
    """Register the fixtures; riders go available at their start points (idempotent)."""
    for vendor in fx.vendors:
        if service.store.get_vendor(vendor.id) is None:
            service.add_vendor(vendor)
    for actor in fx.customers:
        if service.store.get_user(actor.user_id) is None:
            service.add_user(User(actor.user_id, actor.name, Role.CUSTOMER.value))
    for actor, (lat, lon) in zip(fx.riders, fx.rider_starts, strict=True):
        if service.store.get_user(actor.user_id) is None:
            service.add_user(User(actor.user_id, actor.name, Role.RIDER.value))
            if riders_available:
                service.set_rider_availability(actor, available=True, latitude=lat, longitude=lon)
