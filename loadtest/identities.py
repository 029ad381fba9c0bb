"""Who the load test acts as: tokens per role plus the vendors (with menus) and delivery addresses
to order from. Read from a tokens file (JSON or YAML) so the same journeys run against staging,
where we know nothing but what the file says; validated up front so a bad file fails with the
field that is wrong instead of a traceback halfway through a run."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROLES = ("customers", "restaurants", "riders", "system")


class IdentityError(ValueError):
    """A tokens file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class Identity:
    token: str
    user_id: str
    vendor_id: str | None = None
    #: Request headers for this identity, built once (they go with every request it makes).
    auth: dict[str, str] = field(init=False, compare=False, repr=False)
    #: The same plus what Locust's client would add to each request (a JSON body's
    #: ``Content-Type`` and ``Accept``, ``Accept-Encoding``), so it finds them already there.
    get_headers: dict[str, str] = field(init=False, compare=False, repr=False)
    json_headers: dict[str, str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        auth = {"Authorization": f"Bearer {self.token}"}
        get = {**auth, "Accept-Encoding": "gzip, deflate, br"}
        body = {**get, "Content-Type": "application/json", "Accept": "application/json"}
        object.__setattr__(self, "auth", auth)
        object.__setattr__(self, "get_headers", get)
        object.__setattr__(self, "json_headers", body)


@dataclass(frozen=True, slots=True)
class MenuItem:
    name: str
    unit_price: str


@dataclass(frozen=True, slots=True)
class VendorInfo:
    id: str
    name: str
    latitude: float
    longitude: float
    menu: tuple[MenuItem, ...]


@dataclass(frozen=True, slots=True)
class Address:
    title: str
    address_line_1: str
    latitude: float
    longitude: float

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "address_line_1": self.address_line_1,
            "latitude": self.latitude,
            "longitude": self.longitude,
        }


@dataclass(frozen=True)
class Identities:
    customers: tuple[Identity, ...]
    restaurants: tuple[Identity, ...]
    riders: tuple[Identity, ...]
    system: tuple[Identity, ...]
    vendors: tuple[VendorInfo, ...]
    addresses: tuple[Address, ...]
    source: str = "tokens file"
    #: Finds a token for a rider not listed (minted identities only: the reference server's
    #: fixture riders are numbered, and the server may have been started with more of them).
    resolver: Callable[[str], Identity | None] | None = None
    _riders_by_user: dict[str, Identity] = field(default_factory=dict, repr=False)
    _restaurant_by_vendor: dict[str, Identity] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._riders_by_user.update({r.user_id: r for r in self.riders})
        self._restaurant_by_vendor.update(
            {r.vendor_id: r for r in self.restaurants if r.vendor_id is not None}
        )

    def rider(self, user_id: str) -> Identity | None:
        found = self._riders_by_user.get(user_id)
        if found is None and self.resolver is not None:
            found = self.resolver(user_id)
            if found is not None:
                self._riders_by_user[user_id] = found
        return found

    def restaurant_for(self, vendor_id: str) -> Identity | None:
        return self._restaurant_by_vendor.get(vendor_id)

    def vendor(self, index: int) -> VendorInfo:
        """Vendors that some restaurant token can act for, picked round-robin by index."""
        usable = [v for v in self.vendors if v.id in self._restaurant_by_vendor]
        return usable[index % len(usable)]

    def customer(self, index: int) -> tuple[Identity, Address]:
        return (
            self.customers[index % len(self.customers)],
            self.addresses[index % len(self.addresses)],
        )

    def as_json(self) -> dict[str, Any]:
        def ident(i: Identity) -> dict[str, Any]:
            d: dict[str, Any] = {"token": i.token, "user_id": i.user_id}
            if i.vendor_id is not None:
                d["vendor_id"] = i.vendor_id
            return d

        return {
            "customers": [ident(i) for i in self.customers],
            "restaurants": [ident(i) for i in self.restaurants],
            "riders": [ident(i) for i in self.riders],
            "system": [ident(i) for i in self.system],
            "vendors": [
                {
                    "id": v.id,
                    "name": v.name,
                    "latitude": v.latitude,
                    "longitude": v.longitude,
                    "menu": [{"name": m.name, "unit_price": m.unit_price} for m in v.menu],
                }
                for v in self.vendors
            ],
            "addresses": [a.as_json() for a in self.addresses],
        }


def load_tokens(path: Path) -> Identities:
    """Read and validate a tokens file (``.json``, ``.yaml``/``.yml``)."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise IdentityError(f"{where}: cannot read tokens file: {exc.strerror}") from None
    raw: Any
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise IdentityError(f"{where}: not valid YAML: {exc}") from None
    else:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise IdentityError(
                f"{where}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
            ) from None
    return parse_identities(raw, where)


def parse_identities(raw: Any, where: str = "tokens") -> Identities:
    if not isinstance(raw, dict):
        raise IdentityError(f"{where}: expected an object with keys {', '.join(ROLES)}, ...")

    def items(key: str, *, required: bool = True) -> list[Any]:
        value = raw.get(key)
        if value is None and not required:
            return []
        if not isinstance(value, list) or (required and not value):
            raise IdentityError(f"{where}: {key}: expected a non-empty list")
        return value

    def text(obj: Any, key: str, at: str) -> str:
        if not isinstance(obj, dict):
            raise IdentityError(f"{where}: {at}: expected an object")
        value = obj.get(key)
        if not isinstance(value, str) or not value:
            raise IdentityError(f"{where}: {at}.{key}: expected a non-empty string")
        return value

    def number(obj: dict[str, Any], key: str, at: str, lo: float, hi: float) -> float:
        value = obj.get(key)
        try:
            f = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise IdentityError(f"{where}: {at}.{key}: expected a number, got {value!r}") from None
        if not lo <= f <= hi:
            raise IdentityError(f"{where}: {at}.{key}: must be between {lo} and {hi}, got {f}")
        return f

    def idents(key: str, *, vendor: bool = False) -> tuple[Identity, ...]:
        out = []
        for i, obj in enumerate(items(key)):
            at = f"{key}[{i}]"
            out.append(
                Identity(
                    text(obj, "token", at),
                    text(obj, "user_id", at),
                    text(obj, "vendor_id", at) if vendor else None,
                )
            )
        return tuple(out)

    roles = {key: idents(key, vendor=key == "restaurants") for key in ROLES}
    vendors = []
    for i, obj in enumerate(items("vendors")):
        at = f"vendors[{i}]"
        vid, name = text(obj, "id", at), text(obj, "name", at)
        menu_raw = obj.get("menu")
        if not isinstance(menu_raw, list) or not menu_raw:
            raise IdentityError(f"{where}: {at}.menu: expected a non-empty list")
        menu = []
        for j, m in enumerate(menu_raw):
            mat = f"{at}.menu[{j}]"
            price = m.get("unit_price") if isinstance(m, dict) else None
            if isinstance(price, int) and not isinstance(price, bool):
                price = f"{price}.00"
            if not isinstance(price, str) or not _is_price(price):
                raise IdentityError(
                    f"{where}: {mat}.unit_price: expected a decimal string like "
                    f'"374.00", got {price!r}'
                )
            menu.append(MenuItem(text(m, "name", mat), price))
        vendors.append(
            VendorInfo(
                vid,
                name,
                number(obj, "latitude", at, -90, 90),
                number(obj, "longitude", at, -180, 180),
                tuple(menu),
            )
        )
    addresses = []
    for i, obj in enumerate(items("addresses")):
        at = f"addresses[{i}]"
        addresses.append(
            Address(
                text(obj, "title", at),
                text(obj, "address_line_1", at),
                number(obj, "latitude", at, -90, 90),
                number(obj, "longitude", at, -180, 180),
            )
        )
    ids = Identities(
        customers=roles["customers"],
        restaurants=roles["restaurants"],
        riders=roles["riders"],
        system=roles["system"],
        vendors=tuple(vendors),
        addresses=tuple(addresses),
        source=where,
    )
    known = {v.id for v in ids.vendors}
    if not any(r.vendor_id in known for r in ids.restaurants):
        raise IdentityError(
            f"{where}: restaurants: no restaurant token has a vendor_id listed under vendors; "
            "the journeys need at least one vendor they can act for"
        )
    return ids


def _is_price(value: str) -> bool:
    whole, dot, cents = value.partition(".")
    return whole.isdigit() and (not dot or (cents.isdigit() and len(cents) <= 2))
