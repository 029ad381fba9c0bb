"""Every route's documented responses are the ones it can give: each operation is driven to its
success and through each error the OpenAPI document lists for it, and the statuses seen must be
exactly the statuses documented (``endpoints.SERVICE_ERRORS`` plus what the HTTP layer adds)."""

from __future__ import annotations

import contextlib
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import requests
from schemathesis.python import asgi

from reference_api.endpoints import ENDPOINTS
from reference_api.http.server import ServerSettings, build_app
from reference_api.policy import Policy
from reference_api.roles import SYSTEM_ACTOR, Actor, Role
from tests.server.harness import CUSTOMERS, RIDERS, SECRET, VENDORS, auth, fixtures

FX = fixtures()
CUSTOMER, RESTAURANT = FX.customers[0], FX.restaurants[0]
UNKNOWN_RIDER = Actor(Role.RIDER, str(uuid.uuid4()), "Nobody")
MISSING = str(uuid.uuid4())


class Driver:
    """Sends requests and records, per operation, every status it answered."""

    def __init__(self, client: requests.Session) -> None:
        self.client = client
        self.seen: dict[str, set[int]] = defaultdict(set)

    def send(
        self,
        op: str,
        actor: Actor | None,
        order_id: str = MISSING,
        *,
        json: Any = None,
        content: bytes | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        headers = auth(actor) if actor is not None else {}
        if content is not None:
            headers["Content-Type"] = "application/json"
        ep = ENDPOINTS[op]
        response = self.client.request(
            ep.method, ep.url(order_id), headers=headers, json=json, data=content, params=params
        )
        assert response.status_code < 500, (op, response.text)
        self.seen[op].add(response.status_code)
        return response.json()

    def place(self, method: str = "cod") -> str:
        body = {
            "vendor": FX.vendors[0].id,
            "items": [{"name": "Margherita", "quantity": 1, "unit_price": "374.00"}],
            "delivery_address": {"latitude": 19.08, "longitude": 72.88},
            "payment_method": method,
        }
        order_id: str = self.send("place_order", CUSTOMER, json=body)["id"]
        return order_id

    def rider(self, order_id: str) -> Actor:
        detail = self.send("get_order", SYSTEM_ACTOR, order_id)
        return next(a for a in FX.riders if a.user_id == detail["delivery_person"])

    def ready(self) -> tuple[str, Actor]:
        order_id = self.place()
        for op in ("confirm", "start_preparing", "mark_ready"):
            self.send(op, RESTAURANT, order_id)
        return order_id, self.rider(order_id)

    def code(self, order_id: str, kind: str) -> str:
        otp: str = self.send("get_otp", SYSTEM_ACTOR, order_id, params={"type": kind})["otp"]
        return otp

    def out_for_delivery(self) -> tuple[str, Actor]:
        order_id, rider = self.ready()
        self.send("pickup", rider, order_id, json={"otp": self.code(order_id, "pickup")})
        self.send("start_delivery", rider, order_id)
        return order_id, rider


@contextlib.contextmanager
def serving(db: Path, policy: Policy | None = None) -> Iterator[Driver]:
    """The app in-process (lifespan and all), through a ``requests`` session."""
    settings = ServerSettings(
        db=str(db), vendors=VENDORS, customers=CUSTOMERS, riders=RIDERS, policy=policy or Policy()
    )
    try:
        with asgi.get_client(cast(Any, build_app(settings, SECRET))) as client:
            yield Driver(client)
    finally:
        asgi.shutdown_lifespans()


def _successes(d: Driver) -> None:
    """Every operation's success, along one order's life and a few beside it."""
    d.send("list_orders", CUSTOMER)
    d.send("available_orders", FX.riders[0])
    d.send("restaurant_queue", RESTAURANT)
    rider_actor = FX.riders[-1]
    d.send(
        "set_rider_availability",
        rider_actor,
        json={"available": True, "latitude": 19.0, "longitude": 72.8},
    )
    d.send("update_rider_location", rider_actor, json={"latitude": 19.01, "longitude": 72.81})
    order_id, rider = d.ready()
    for op in ("get_order", "history", "eta"):
        d.send(op, CUSTOMER, order_id)
    code = d.code(order_id, "pickup")
    d.send("verify_otp", rider, order_id, json={"otp": code, "type": "pickup"})
    d.send("pickup", rider, order_id, json={"otp": code})
    d.send("start_delivery", rider, order_id)
    d.send("complete_delivery", rider, order_id, json={"otp": d.code(order_id, "delivery")})
    d.send("cancel", CUSTOMER, d.place(), json={"reason": "Changed my mind"})
    d.send("reject", RESTAURANT, d.place(), json={"reason": "Out of stock"})
    d.send("update_status", SYSTEM_ACTOR, d.place(), json={"status_code": "ORDER_CONFIRMED"})
    d.send("record_payment", SYSTEM_ACTOR, d.place("online"), json={"status": "success"})


def _refusals(d: Driver) -> None:
    """Each error each operation documents."""
    order_ops = [
        op for op, ep in ENDPOINTS.items() if "{order_id}" in ep.path and ep.method != "WS"
    ]
    bodies: dict[str, Any] = {
        "place_order": {},
        "update_status": {"status_code": "CANCELLED"},
        "record_payment": {"status": "success"},
        "reject": {"reason": "x"},
        "pickup": {"otp": "123456"},
        "complete_delivery": {"otp": "123456"},
        "verify_otp": {"otp": "123456"},
        "set_rider_availability": {"available": False},
        "update_rider_location": {"latitude": 1.0, "longitude": 1.0},
    }
    for op, ep in ENDPOINTS.items():
        if ep.method == "WS":
            continue
        d.send(op, None)  # 401
        if ep.method == "POST":
            d.send(op, SYSTEM_ACTOR, content=b"{")  # 400 malformed_json, where a body is read
    for op in order_ops:
        d.send(op, SYSTEM_ACTOR, "not-a-uuid", json=bodies.get(op))  # 422
        d.send(op, SYSTEM_ACTOR, MISSING, json=bodies.get(op))  # 404
    # 403: a role the action is not for
    placed = d.place()
    for op in ("confirm", "reject", "start_preparing", "mark_ready", "record_payment"):
        d.send(op, CUSTOMER, placed, json=bodies.get(op))
    for op in ("pickup", "start_delivery", "complete_delivery", "verify_otp"):
        d.send(op, CUSTOMER, placed, json=bodies.get(op))
    d.send("cancel", FX.riders[0], placed)
    d.send("update_status", CUSTOMER, placed, json={"status_code": "ORDER_CONFIRMED"})
    d.send("get_otp", CUSTOMER, placed, params={"type": "pickup"})
    d.send("resend_otp", CUSTOMER, placed, json={"type": "pickup"})
    d.send("place_order", RESTAURANT, json={**_checkout(), "vendor": FX.vendors[0].id})
    d.send("available_orders", CUSTOMER)
    d.send("restaurant_queue", CUSTOMER)
    d.send("set_rider_availability", CUSTOMER, json={"available": False})
    d.send("update_rider_location", CUSTOMER, json={"latitude": 1.0, "longitude": 1.0})
    # 404 beyond a missing order: an unknown vendor, a rider the store does not know
    d.send("place_order", CUSTOMER, json={**_checkout(), "vendor": MISSING})
    d.send("set_rider_availability", UNKNOWN_RIDER, json={"available": False})
    d.send("update_rider_location", UNKNOWN_RIDER, json={"latitude": 1.0, "longitude": 1.0})
    # 422 from the rules and from validation
    d.send("place_order", CUSTOMER, json={**_checkout(), "items": []})
    d.send("list_orders", CUSTOMER, params={"page": "0"})
    d.send("confirm", RESTAURANT, placed, json={"estimated_prep_time": 0})
    d.send("reject", RESTAURANT, placed, json={"reason": " "})
    d.send("cancel", RESTAURANT, placed, json={})
    d.send("update_status", SYSTEM_ACTOR, placed, json={"status_code": "NOPE"})
    for op in ("pickup", "complete_delivery", "verify_otp"):
        d.send(op, SYSTEM_ACTOR, placed, json={"otp": "12ab"})
    d.send("get_otp", SYSTEM_ACTOR, placed, params={"type": "nope"})
    d.send("resend_otp", SYSTEM_ACTOR, placed, json={"type": "nope"})
    d.send("set_rider_availability", FX.riders[1], json={"available": "yes"})
    d.send("update_rider_location", FX.riders[1], json={"latitude": 91.0, "longitude": 1.0})
    for op in ("history", "eta", "get_order"):
        d.send(op, CUSTOMER, "not-a-uuid")
    # 400: moves the state forbids, codes not issued
    for op in ("start_preparing", "mark_ready", "pickup", "start_delivery", "complete_delivery"):
        d.send(op, SYSTEM_ACTOR, placed, json=bodies.get(op))
    d.send("record_payment", SYSTEM_ACTOR, placed, json={"status": "success"})
    d.send("update_status", SYSTEM_ACTOR, placed, json={"status_code": "DELIVERED"})
    d.send("get_otp", SYSTEM_ACTOR, placed, params={"type": "pickup"})
    d.send("verify_otp", SYSTEM_ACTOR, placed, json={"otp": "123456", "type": "pickup"})
    d.send("resend_otp", SYSTEM_ACTOR, placed, json={"type": "pickup"})
    confirmed = d.place()
    d.send("confirm", RESTAURANT, confirmed)
    d.send("confirm", RESTAURANT, confirmed)
    d.send("reject", RESTAURANT, confirmed, json={"reason": "late"})
    done = d.place()
    d.send("cancel", CUSTOMER, done)
    d.send("cancel", CUSTOMER, done)
    # 423: a code locked by wrong attempts, on each operation that checks one
    for op, kind in (("pickup", "pickup"), ("verify_otp", "pickup"), ("update_status", "pickup")):
        order_id, rider = d.ready()
        code = d.code(order_id, kind)
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(6):
            if op == "update_status":
                body = {"status_code": "ORDER_PICKED_UP", "metadata": {"otp": wrong}}
                d.send(op, rider, order_id, json=body)
            else:
                d.send(op, rider, order_id, json={"otp": wrong, "type": kind})
    order_id, rider = d.out_for_delivery()
    code = d.code(order_id, "delivery")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(6):
        d.send("complete_delivery", rider, order_id, json={"otp": wrong})
    # 409 and 429 on resend: a used code, and one asked for again too soon
    order_id, rider = d.out_for_delivery()
    d.send("resend_otp", SYSTEM_ACTOR, order_id, json={"type": "pickup"})
    d.send("resend_otp", SYSTEM_ACTOR, order_id, json={"type": "delivery"})


def _checkout() -> dict[str, Any]:
    return {
        "vendor": FX.vendors[0].id,
        "items": [{"name": "Margherita", "quantity": 1, "unit_price": "374.00"}],
        "delivery_address": {"latitude": 19.08, "longitude": 72.88},
    }


def test_every_documented_status_is_given_and_no_other(tmp_path: Path) -> None:
    with serving(tmp_path / "documented.db") as driver:
        _successes(driver)
        _refusals(driver)
        doc = driver.client.get("/openapi.json").json()
    # a resend that succeeds needs the interval behind it: a server whose interval is zero
    with serving(tmp_path / "resend.db", Policy(otp_resend_interval_s=0.0)) as other:
        order_id, _ = other.ready()
        other.send("resend_otp", SYSTEM_ACTOR, order_id, json={"type": "pickup"})
    driver.seen["resend_otp"] |= other.seen["resend_otp"]
    for op, ep in ENDPOINTS.items():
        if ep.method == "WS":
            continue
        documented = {int(code) for code in doc["paths"][ep.path][ep.method.lower()]["responses"]}
        assert driver.seen[op] == documented, (op, sorted(driver.seen[op]), sorted(documented))
