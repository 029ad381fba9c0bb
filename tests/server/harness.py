"""Test harness for the reference server: one client API over two transports.

``Api`` drives the app either in-process (httpx ``ASGITransport``, lifespan entered by hand) or
a real server subprocess on 127.0.0.1, so the contract tests run unchanged against each.
``LiveServer`` starts (and always stops) ``orderflow serve``; ``FactoryServer`` the ASGI factory
under ``uvicorn --factory`` with the same fixtures and secret given as ``ORDERFLOW_*`` variables.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from orderflow.served import FactoryProcess, ServedProcess
from reference_api.fixtures import Fixtures, build_fixtures
from reference_api.http.auth import JWT_SECRET_ENV, issue_token
from reference_api.roles import SYSTEM_ACTOR, Actor, Role

SECRET = b"orderflow-server-tests-secret-0123456789"
VENDORS, CUSTOMERS, RIDERS = 5, 400, 300
REPO = Path(__file__).resolve().parents[2]


def fixtures() -> Fixtures:
    return build_fixtures(VENDORS, CUSTOMERS, RIDERS)


def token(actor: Actor, *, ttl: float = 3600.0, secret: bytes = SECRET) -> str:
    return issue_token(actor, secret, now=time.time(), ttl_s=ttl)


def auth(actor: Actor) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(actor)}"}


class LiveServer(ServedProcess):
    """``orderflow serve`` in a subprocess on 127.0.0.1 with the suite's fixtures and secret."""

    def __init__(self, db: Path, *extra: str, riders: int = RIDERS, customers: int = CUSTOMERS):
        super().__init__(
            db,
            "--vendors", str(VENDORS), "--customers", str(customers), "--riders", str(riders),
            *extra,
            env={JWT_SECRET_ENV: SECRET.decode()},
            cwd=REPO,
        )  # fmt: skip

    def start(self, timeout: float = 30.0) -> LiveServer:
        super().start(timeout)
        return self

    def __enter__(self) -> LiveServer:
        return self.start()


class FactoryServer(FactoryProcess):
    """``uvicorn --factory reference_api.http.app:create_app`` with the suite's fixtures and
    secret, set the way a deployment would: environment variables only."""

    def __init__(self, db: Path, settings: Mapping[str, str] | None = None) -> None:
        super().__init__(
            db,
            {
                "ORDERFLOW_VENDORS": str(VENDORS),
                "ORDERFLOW_CUSTOMERS": str(CUSTOMERS),
                "ORDERFLOW_RIDERS": str(RIDERS),
                **(settings or {}),
            },
            env={JWT_SECRET_ENV: SECRET.decode()},
            cwd=REPO,
        )

    def start(self, timeout: float = 30.0) -> FactoryServer:
        super().start(timeout)
        return self

    def __enter__(self) -> FactoryServer:
        return self.start()


_customers = itertools.count()


@dataclass
class Api:
    """A client for one backend plus the fixture users to act as."""

    client: httpx.AsyncClient
    kind: str
    fx: Fixtures = field(default_factory=fixtures)

    # who --------------------------------------------------------------------------------------
    def customer(self) -> Actor:
        """A customer no other test uses (the live server is shared by the whole session)."""
        return self.fx.customers[next(_customers) % CUSTOMERS]

    def restaurant(self, vendor: int = 0) -> Actor:
        return self.fx.restaurants[vendor]

    @property
    def system(self) -> Actor:
        return SYSTEM_ACTOR

    def rider(self, user_id: str) -> Actor:
        return next(a for a in self.fx.riders if a.user_id == user_id)

    def other_rider(self, user_id: str) -> Actor:
        return next(a for a in self.fx.riders if a.user_id != user_id)

    # how --------------------------------------------------------------------------------------
    async def call(
        self, actor: Actor | None, method: str, url: str, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if actor is not None:
            headers.update(auth(actor))
        return await self.client.request(method, url, headers=headers, **kwargs)

    async def ok(self, actor: Actor | None, method: str, url: str, **kwargs: Any) -> Any:
        response = await self.call(actor, method, url, **kwargs)
        assert response.status_code in (200, 201), (method, url, response.text)
        return response.json()

    async def place(
        self, customer: Actor | None = None, *, vendor: int = 0, method: str = "cod"
    ) -> dict[str, Any]:
        customer = customer or self.customer()
        index = self.fx.customers.index(customer)
        lat, lon = self.fx.customer_homes[index]
        body = {
            "vendor": self.fx.vendors[vendor].id,
            "items": [{"name": "Margherita", "quantity": 2, "unit_price": "374.00"}],
            "delivery_address": {
                "title": "Home",
                "address_line_1": "123 Main Street",
                "latitude": lat,
                "longitude": lon,
            },
            "payment_method": method,
        }
        response = await self.call(customer, "POST", "/api/orders/", json=body)
        assert response.status_code == 201, response.text
        order: dict[str, Any] = response.json()
        order["_customer"] = customer
        return order

    async def advance(self, order: dict[str, Any], steps: Sequence[str], vendor: int = 0) -> Any:
        """Move an order along the restaurant's steps (confirm, prepare, ready)."""
        oid = order["id"]
        rest = self.restaurant(vendor)
        urls = {
            "confirm": f"/api/restaurants/orders/{oid}/confirm/",
            "prepare": f"/api/restaurants/orders/{oid}/start-preparing/",
            "ready": f"/api/restaurants/orders/{oid}/mark-ready/",
        }
        for step in steps:
            await self.ok(rest, "POST", urls[step])
        return await self.ok(self.system, "GET", f"/api/orders/{oid}/")

    async def assigned_rider(self, order_id: str) -> Actor:
        detail = await self.ok(self.system, "GET", f"/api/orders/{order_id}/")
        assert detail["delivery_person"], detail
        return self.rider(detail["delivery_person"])

    async def otp(self, order_id: str, kind: str) -> str:
        who = self.restaurant() if kind == "pickup" else None
        if who is None:
            detail = await self.ok(self.system, "GET", f"/api/orders/{order_id}/")
            who = next(a for a in self.fx.customers if a.user_id == detail["user"])
        body = await self.ok(who, "GET", f"/api/orders/{order_id}/otp/", params={"type": kind})
        return str(body["otp"])


def role_actor(fx: Fixtures, role: Role) -> Actor:
    return SYSTEM_ACTOR if role is Role.SYSTEM else fx.actor(role, 0)
