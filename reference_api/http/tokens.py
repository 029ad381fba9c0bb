"""Signed tokens for the fixture users, and the tokens file a load test reads.

A fixture user is named by role and index; its ids are deterministic, so a token minted here
works against any `orderflow serve` that seeded the same fixtures with the same secret. The
menus are suggestions for clients that place orders: checkout carries each item's price, so the
server accepts any item (see README, "The tokens file").
"""

from __future__ import annotations

from typing import Any

from reference_api.fixtures import Fixtures
from reference_api.http.auth import DEFAULT_TTL_S, issue_token
from reference_api.model import Vendor
from reference_api.roles import SYSTEM_ACTOR, Actor

MENUS: dict[str, tuple[tuple[str, str], ...]] = {
    "Pizza Palace": (("Margherita", "374.00"), ("Farmhouse", "449.00"), ("Garlic Bread", "149.00")),
    "Curry House": (("Butter Chicken", "320.00"), ("Dal Makhani", "240.00"), ("Naan", "45.00")),
    "Sushi Stop": (("Salmon Roll", "520.00"), ("Miso Soup", "180.00"), ("Edamame", "150.00")),
    "Burger Barn": (("Classic Burger", "210.00"), ("Fries", "99.00"), ("Shake", "160.00")),
    "Dosa Corner": (("Masala Dosa", "120.00"), ("Idli", "80.00"), ("Filter Coffee", "40.00")),
    "Taco Town": (("Bean Taco", "150.00"), ("Nachos", "190.00"), ("Horchata", "110.00")),
    "Noodle Bar": (("Hakka Noodles", "230.00"), ("Dumplings", "210.00"), ("Iced Tea", "90.00")),
    "Salad Studio": (("Caesar Salad", "260.00"), ("Fruit Bowl", "180.00"), ("Lemonade", "80.00")),
}
GENERIC_MENU = (("House Special", "250.00"), ("Side", "90.00"), ("Drink", "60.00"))


def menu_for(vendor: Vendor) -> list[dict[str, str]]:
    base = next((m for name, m in MENUS.items() if vendor.name.startswith(name)), GENERIC_MENU)
    return [{"name": name, "unit_price": price} for name, price in base]


def token_record(actor: Actor, secret: bytes, *, now: float, ttl_s: float) -> dict[str, Any]:
    record: dict[str, Any] = {
        "token": issue_token(actor, secret, now=now, ttl_s=ttl_s),
        "role": actor.role.value,
        "user_id": actor.user_id,
        "name": actor.name,
    }
    if actor.vendor_id is not None:
        record["vendor_id"] = actor.vendor_id
    return record


def tokens_file(
    fx: Fixtures, secret: bytes, *, now: float, ttl_s: float = DEFAULT_TTL_S
) -> dict[str, Any]:
    def tok(actor: Actor, *keys: str) -> dict[str, Any]:
        rec = token_record(actor, secret, now=now, ttl_s=ttl_s)
        return {k: rec[k] for k in ("token", "user_id", *keys)}

    return {
        "customers": [tok(a) for a in fx.customers],
        "restaurants": [tok(a, "vendor_id") for a in fx.restaurants],
        "riders": [tok(a) for a in fx.riders],
        "system": [tok(SYSTEM_ACTOR)],
        "vendors": [
            {
                "id": v.id,
                "name": v.name,
                "latitude": v.latitude,
                "longitude": v.longitude,
                "menu": menu_for(v),
            }
            for v in fx.vendors
        ],
        "addresses": [
            {
                "title": "Home",
                "address_line_1": f"{i} Fixture Street",
                "latitude": lat,
                "longitude": lon,
            }
            for i, (lat, lon) in enumerate(fx.customer_homes)
        ],
    }
