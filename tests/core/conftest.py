"""A small world for service-level tests: a manual clock, a seeded service, deterministic
fixtures, an event log, and a way to bring a fresh order to any status through the API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from reference_api import bootstrap
from reference_api.clock import ManualClock
from reference_api.events import DomainEvent
from reference_api.fixtures import Fixtures, build_fixtures, seed
from reference_api.model import Order
from reference_api.policy import Policy
from reference_api.roles import SYSTEM_ACTOR, Actor
from reference_api.service import OrderService
from reference_api.statuses import OrderStatus

S = OrderStatus
ITEMS = [{"name": "Margherita", "quantity": 2, "unit_price": "374.00"}]


@dataclass
class World:
    svc: OrderService
    clock: ManualClock
    fx: Fixtures
    events: list[DomainEvent] = field(default_factory=list)

    # ---------------------------------------------------------------- who's who
    def order(self, oid: str) -> Order:
        order = self.svc.store.get_order(oid)
        assert order is not None
        return order

    def status(self, oid: str) -> OrderStatus:
        return self.order(oid).status

    def customer(self, i: int = 0) -> Actor:
        return self.fx.customers[i]

    def restaurant(self, i: int = 0) -> Actor:
        return self.fx.restaurants[i]

    def rider(self, i: int = 0) -> Actor:
        return self.fx.riders[i]

    def customer_of(self, oid: str) -> Actor:
        cid = self.order(oid).customer_id
        return next(a for a in self.fx.customers if a.user_id == cid)

    def restaurant_of(self, oid: str) -> Actor:
        vid = self.order(oid).vendor_id
        return next(a for a in self.fx.restaurants if a.vendor_id == vid)

    def rider_of(self, oid: str) -> Actor:
        rid = self.order(oid).rider_id
        assert rid is not None, "order has no rider"
        return next(a for a in self.fx.riders if a.user_id == rid)

    def otp(self, oid: str, kind: str) -> str:
        return str(self.svc.get_otp(SYSTEM_ACTOR, oid, otp_type=kind)["otp"])

    def elapse(self, seconds: float) -> list[tuple[str, str, str]]:
        self.clock.advance(seconds)
        return self.svc.process_due_timers()

    # ---------------------------------------------------------------- journeys
    def place(self, method: str = "cod", *, customer: int = 0, vendor: int = 0) -> str:
        lat, lon = self.fx.customer_homes[customer]
        order = self.svc.place_order(
            self.fx.customers[customer],
            vendor_id=self.fx.vendors[vendor].id,
            items=ITEMS,
            delivery_address={"latitude": lat, "longitude": lon, "address_line_1": "1 Main St"},
            payment_method=method,
        )
        return str(order["id"])

    def at(self, target: OrderStatus, *, customer: int = 0, vendor: int = 0) -> str:
        """A fresh order brought to ``target`` by the roles that normally do it."""
        online = target in ONLINE_PATH
        oid = self.place("online" if online else "cod", customer=customer, vendor=vendor)
        for step in PATH_TO[target]:
            step(self, oid)
        assert self.status(oid) is target, (self.status(oid), target)
        return oid


def _pay(w: World, oid: str) -> None:
    w.svc.record_payment(SYSTEM_ACTOR, oid, success=True, reference="txn_1")


def _fail_payment(w: World, oid: str) -> None:
    w.svc.record_payment(SYSTEM_ACTOR, oid, success=False)


def _confirm(w: World, oid: str) -> None:
    w.svc.confirm(w.restaurant_of(oid), oid, estimated_prep_time=20)


def _reject(w: World, oid: str) -> None:
    w.svc.reject(w.restaurant_of(oid), oid, reason="Out of dough")


def _prepare(w: World, oid: str) -> None:
    w.svc.start_preparing(w.restaurant_of(oid), oid)


def _ready(w: World, oid: str) -> None:
    w.svc.mark_ready(w.restaurant_of(oid), oid)


def _pickup(w: World, oid: str) -> None:
    w.svc.pickup(w.rider_of(oid), oid, otp=w.otp(oid, "pickup"))


def _start(w: World, oid: str) -> None:
    w.svc.start_delivery(w.rider_of(oid), oid)


def _complete(w: World, oid: str) -> None:
    w.svc.complete_delivery(w.rider_of(oid), oid, otp=w.otp(oid, "delivery"))


def _cancel(w: World, oid: str) -> None:
    w.svc.cancel(w.customer_of(oid), oid, reason="Changed my mind")


def _refund(w: World, oid: str) -> None:
    p = w.svc.policy
    w.elapse(p.refund_processing_delay_s)
    w.elapse(p.refund_settle_delay_s)


Step = Callable[[World, str], None]
_COOK: list[Step] = [_confirm, _prepare, _ready]
PATH_TO: dict[OrderStatus, list[Step]] = {
    S.ORDER_PLACED: [],
    S.PAYMENT_PENDING: [],
    S.PAYMENT_SUCCESS: [_pay],
    S.PAYMENT_FAILED: [_fail_payment],
    S.ORDER_CONFIRMED: [_confirm],
    S.RESTAURANT_REJECTED: [_reject],
    S.PREPARING: [_confirm, _prepare],
    S.READY_FOR_PICKUP: _COOK,
    S.ORDER_PICKED_UP: [*_COOK, _pickup],
    S.OUT_FOR_DELIVERY: [*_COOK, _pickup, _start],
    S.DELIVERED: [*_COOK, _pickup, _start, _complete],
    S.CANCELLED: [_cancel],
    S.REFUND_COMPLETED: [_pay, _cancel, _refund],
}
ONLINE_PATH = frozenset(
    {S.PAYMENT_PENDING, S.PAYMENT_SUCCESS, S.PAYMENT_FAILED, S.REFUND_COMPLETED}
)


def make_world(
    *,
    seed_value: int = 1,
    riders_available: bool = True,
    vendors: int = 3,
    customers: int = 5,
    riders: int = 3,
    **policy: Any,
) -> World:
    clock = ManualClock()
    events: list[DomainEvent] = []
    svc = bootstrap(
        clock=clock,
        seed=seed_value,
        policy=Policy().with_overrides(**policy),
        sinks=[events.append],
    )
    fx = build_fixtures(vendors=vendors, customers=customers, riders=riders)
    seed(svc, fx, riders_available=riders_available)
    return World(svc, clock, fx, events)


@pytest.fixture
def world() -> World:
    return make_world()
