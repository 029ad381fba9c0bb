"""A short tour of every path through the in-process API, on a manual clock: what `make demo`
showed before the simulation existed, and still the quickest way to see the rules at work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reference_api import OrderService, bootstrap
from reference_api.clock import ManualClock
from reference_api.errors import OrderflowError
from reference_api.fixtures import Fixtures, build_fixtures, seed
from reference_api.roles import SYSTEM_ACTOR


@dataclass
class Tour:
    service: OrderService
    clock: ManualClock
    fx: Fixtures
    say: Callable[[str], None] = print
    customer_index: int = 0

    def place(self, method: str = "cod", vendor: int = 0) -> str:
        i = self.customer_index
        self.customer_index += 1
        lat, lon = self.fx.customer_homes[i]
        order = self.service.place_order(
            self.fx.customers[i],
            vendor_id=self.fx.vendors[vendor].id,
            items=[{"name": "Margherita", "quantity": 2, "unit_price": "374.00"}],
            delivery_address={
                "title": "Home",
                "address_line_1": f"{i} Main Street",
                "latitude": lat,
                "longitude": lon,
            },
            payment_method=method,
        )
        return str(order["id"])

    def customer(self, order_id: str) -> Any:
        user = self.service.get_order(SYSTEM_ACTOR, order_id)["user"]
        return next(a for a in self.fx.customers if a.user_id == user)

    def rider(self, order_id: str) -> Any:
        rid = self.service.get_order(SYSTEM_ACTOR, order_id)["delivery_person"]
        return next(a for a in self.fx.riders if a.user_id == rid)

    def cook(self, order_id: str, vendor: int = 0) -> None:
        rest = self.fx.restaurants[vendor]
        self.service.confirm(rest, order_id, estimated_prep_time=15)
        self.clock.advance(60)
        self.service.start_preparing(rest, order_id)
        self.clock.advance(900)
        self.service.mark_ready(rest, order_id)

    def deliver(self, order_id: str, vendor: int = 0, wrong_first: bool = False) -> None:
        svc, rider = self.service, self.rider(order_id)
        code = svc.get_otp(self.fx.restaurants[vendor], order_id, otp_type="pickup")["otp"]
        self.clock.advance(120)
        svc.pickup(rider, order_id, otp=code)
        svc.start_delivery(rider, order_id)
        self.clock.advance(600)
        if wrong_first:
            try:
                svc.complete_delivery(rider, order_id, otp="000000")
            except OrderflowError as exc:
                self.say(f"    wrong OTP refused: {exc.detail}")
            self.clock.advance(45)
            svc.resend_otp(self.customer(order_id), order_id, otp_type="delivery")
        code = svc.get_otp(self.customer(order_id), order_id)["otp"]
        svc.complete_delivery(rider, order_id, otp=code, delivery_notes="Left at door")


def _paths(t: Tour) -> list[tuple[str, Callable[[], str]]]:
    svc = t.service

    def cod_delivered() -> str:
        oid = t.place("cod")
        t.cook(oid)
        t.deliver(oid)
        return oid

    def online_delivered_with_resend() -> str:
        oid = t.place("online", vendor=1)
        svc.record_payment(SYSTEM_ACTOR, oid, success=True, reference="txn_demo_1")
        t.cook(oid, vendor=1)
        t.deliver(oid, vendor=1, wrong_first=True)
        return oid

    def customer_cancel_refund() -> str:
        oid = t.place("online", vendor=2)
        svc.record_payment(SYSTEM_ACTOR, oid, success=True)
        svc.cancel(t.customer(oid), oid, reason="Changed my mind")
        t.clock.advance(svc.policy.refund_processing_delay_s)
        svc.process_due_timers()
        t.clock.advance(svc.policy.refund_settle_delay_s)
        svc.process_due_timers()
        return oid

    def restaurant_rejects() -> str:
        oid = t.place("cod", vendor=3)
        svc.reject(t.fx.restaurants[3], oid, reason="Out of dough")
        return oid

    def restaurant_cancels_while_preparing() -> str:
        oid = t.place("cod", vendor=4)
        svc.confirm(t.fx.restaurants[4], oid)
        svc.start_preparing(t.fx.restaurants[4], oid)
        svc.cancel(t.fx.restaurants[4], oid, reason="Oven broke down")
        return oid

    def payment_fails() -> str:
        oid = t.place("online")
        svc.record_payment(SYSTEM_ACTOR, oid, success=False, reference="txn_declined")
        return oid

    def confirm_timeout() -> str:
        oid = t.place("cod", vendor=1)
        t.clock.advance(svc.policy.confirm_timeout_s + 1)
        svc.process_due_timers()
        return oid

    def pickup_timeout() -> str:
        oid = t.place("cod", vendor=2)
        t.cook(oid, vendor=2)
        t.clock.advance(svc.policy.pickup_timeout_s + 1)
        svc.process_due_timers()
        return oid

    return [
        ("COD order delivered with both OTPs", cod_delivered),
        ("Online order delivered after a wrong OTP and a resend", online_delivered_with_resend),
        ("Customer cancels a paid order; refund completes", customer_cancel_refund),
        ("Restaurant rejects", restaurant_rejects),
        (
            "Restaurant cancels while preparing (reason required)",
            restaurant_cancels_while_preparing,
        ),
        ("Online payment fails", payment_fails),
        ("Auto-cancel: restaurant did not confirm in time", confirm_timeout),
        ("Auto-cancel: nobody picked up in time", pickup_timeout),
    ]


def run(print_fn: Callable[[str], None] = print) -> dict[str, str]:
    """Drive one order down each path and print its history; returns final status per path."""
    clock = ManualClock()
    service = bootstrap(clock=clock, seed=7)
    fx = build_fixtures(vendors=5, customers=20, riders=6)
    seed(service, fx)
    tour = Tour(service, clock, fx, say=print_fn)
    finals: dict[str, str] = {}
    for title, path in _paths(tour):
        oid = path()
        detail = service.get_order(SYSTEM_ACTOR, oid)
        finals[title] = detail["order_status"]
        print_fn(
            f"\n== {title}: {detail['order_number']} -> {detail['order_status']}"
            f" (payment {detail['payment_status']}, refund {detail['refund_status']})"
        )
        for entry in service.history(SYSTEM_ACTOR, oid)["history"]:
            print_fn(
                f"   {entry['created_at']}  {entry['status']:<26} {entry['description']}"
                f"  [{entry['updated_by']}]"
            )
        clock.advance(60)
    return finals
