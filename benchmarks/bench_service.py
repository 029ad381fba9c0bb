"""How many order journeys per second the in-process API sustains on one core.

Two journeys, each a sequence of real service calls on a ManualClock (the clock moves as it
would in a simulation, so cached timestamps only help where real traffic repeats a second):

- complete: place (COD) -> confirm -> start-preparing -> mark-ready -> restaurant reads the
  pickup OTP -> pickup with it -> start-delivery -> customer reads the delivery OTP ->
  complete-delivery with it -> due timers processed (the stale confirm/pickup timers fire and do
  nothing). 9 endpoint calls + 1 timer sweep.
- refunded: place (online) -> payment success -> customer cancels -> refund timers run to
  completion (pending -> processing -> completed, order REFUND_COMPLETED). 3 endpoint calls +
  2 timer sweeps.

The baseline, measured in the same run, is a bare loop doing the minimal bookkeeping a complete
journey needs without any rule: the same 9 uuid4 strings drawn from a seeded RNG, 8 HMAC-SHA256
digests (issue and check two OTPs), one order dict stored by id, 8 history tuples and 9 small
response dicts. The ratio says how many times slower the rules are than that floor.

Run: ``.venv/bin/python benchmarks/bench_service.py`` (``--profile`` for the hot spots).
"""

from __future__ import annotations

import argparse
import cProfile
import hmac
import os
import pstats
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reference_api import bootstrap
from reference_api.clock import ManualClock
from reference_api.events import DomainEvent
from reference_api.fixtures import build_fixtures, seed
from reference_api.roles import SYSTEM_ACTOR, Actor
from reference_api.service import OrderService
from reference_api.statuses import OrderStatus

ITEMS = [{"name": "Margherita", "quantity": 2, "unit_price": "374.00"}]
TARGET = 10_000.0


class Bench:
    """One service with fixtures, and the two journeys as methods."""

    def __init__(self, *, sink: bool = False) -> None:
        self.clock = ManualClock()
        self.events: list[DomainEvent] = []
        self.svc: OrderService = bootstrap(
            clock=self.clock, seed=1, sinks=[self.events.append] if sink else ()
        )
        self.fx = build_fixtures(vendors=20, customers=200, riders=50)
        seed(self.svc, self.fx)
        self.riders: dict[str, Actor] = {a.user_id: a for a in self.fx.riders}
        self.addresses = [
            {"latitude": lat, "longitude": lon, "address_line_1": f"{i} Main St"}
            for i, (lat, lon) in enumerate(self.fx.customer_homes)
        ]
        self.n = 0

    def complete(self) -> str:
        svc, clock, fx = self.svc, self.clock, self.fx
        i = self.n
        self.n += 1
        c, v = i % len(fx.customers), i % len(fx.vendors)
        customer, restaurant = fx.customers[c], fx.restaurants[v]
        oid = svc.place_order(
            customer, vendor_id=fx.vendors[v].id, items=ITEMS, delivery_address=self.addresses[c]
        )["id"]
        clock.advance(30)
        svc.confirm(restaurant, oid, estimated_prep_time=15)
        clock.advance(60)
        svc.start_preparing(restaurant, oid)
        clock.advance(900)
        svc.mark_ready(restaurant, oid)
        # How the rider learns of the assignment is not an endpoint of the spec (push/WS):
        # read it from the store rather than add a call the journey would not make.
        rider = self.riders[svc.store.get_order(oid).rider_id]  # type: ignore[union-attr,index]
        code = svc.get_otp(restaurant, oid, otp_type="pickup")["otp"]
        clock.advance(120)
        svc.pickup(rider, oid, otp=code)
        svc.start_delivery(rider, oid)
        clock.advance(600)
        code = svc.get_otp(customer, oid, otp_type="delivery")["otp"]
        svc.complete_delivery(rider, oid, otp=code)
        svc.process_due_timers()
        return str(oid)

    def refunded(self) -> str:
        svc, clock, fx = self.svc, self.clock, self.fx
        i = self.n
        self.n += 1
        c, v = i % len(fx.customers), i % len(fx.vendors)
        customer = fx.customers[c]
        oid = svc.place_order(
            customer,
            vendor_id=fx.vendors[v].id,
            items=ITEMS,
            delivery_address=self.addresses[c],
            payment_method="online",
        )["id"]
        clock.advance(20)
        svc.record_payment(SYSTEM_ACTOR, oid, success=True, reference="txn")
        clock.advance(40)
        svc.cancel(customer, oid, reason="Changed my mind")
        clock.advance(svc.policy.refund_processing_delay_s)
        svc.process_due_timers()
        clock.advance(svc.policy.refund_settle_delay_s)
        svc.process_due_timers()
        return str(oid)


class Baseline:
    """The floor: a complete journey's bookkeeping without the rules (see module docstring)."""

    def __init__(self) -> None:
        self.rng = random.Random(1)
        self.secret = b"orderflow-development-secret-change-me"
        self.orders: dict[str, dict[str, object]] = {}

    def _uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def journey(self) -> str:
        oid = self._uuid()
        history: list[tuple[str, str, float]] = []
        order: dict[str, object] = {"id": oid, "status": "ORDER_PLACED", "history": history}
        self.orders[oid] = order
        responses = [{"id": oid, "order_number": "ORD12345678", "status": "ORDER_PLACED"}]
        for step in range(8):
            history.append((self._uuid(), "STATUS", float(step)))
            order["status"] = step
            responses.append({"success": True, "order_id": oid, "status": step, "message": ""})
        for kind in ("pickup", "delivery"):
            nonce = f"{self.rng.getrandbits(64):016x}"
            code = hmac.digest(self.secret, f"{oid}|{kind}|{nonce}".encode(), "sha256")
            stored = hmac.digest(self.secret, f"h|{nonce}|{code[:6]!r}".encode(), "sha256")
            hmac.digest(self.secret, f"{oid}|{kind}|{nonce}".encode(), "sha256")  # read
            check = hmac.digest(self.secret, f"h|{nonce}|{code[:6]!r}".encode(), "sha256")
            assert hmac.compare_digest(stored, check)
        return oid


def rate(fn: Callable[[], object], n: int, repeat: int) -> float:
    """Best of ``repeat`` runs of ``n`` calls, in calls per second."""
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = max(best, n / (time.perf_counter() - start))
    return best


def _check(bench: Bench, oid: str, want: OrderStatus) -> None:
    order = bench.svc.store.get_order(oid)
    assert order is not None and order.status is want, (oid, order and order.status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--journeys", type=int, default=5000, help="journeys per timed run")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best is kept")
    parser.add_argument("--profile", action="store_true", help="print cProfile hot spots")
    args = parser.parse_args(argv)
    if args.journeys < 1 or args.repeat < 1:
        parser.error("--journeys and --repeat must be at least 1")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    if args.profile:
        bench = Bench()
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [bench.complete() for _ in range(args.journeys)])
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return 0

    n, r = args.journeys, args.repeat
    complete, refunded, with_sink = Bench(), Bench(), Bench(sink=True)
    _check(complete, complete.complete(), OrderStatus.DELIVERED)
    _check(refunded, refunded.refunded(), OrderStatus.REFUND_COMPLETED)
    _check(with_sink, with_sink.complete(), OrderStatus.DELIVERED)
    base = rate(Baseline().journey, n, r)
    results = {
        "complete journey (both OTPs)": rate(complete.complete, n, r),
        "complete journey, event sink attached": rate(with_sink.complete, n, r),
        "cancelled-and-refunded journey": rate(refunded.refunded, n, r),
    }
    assert len(with_sink.events) == 11 * with_sink.n, "every journey emits its 11 events"
    print(f"in-process API, one core, best of {r} x {n} journeys (python {sys.version.split()[0]})")
    print(f"baseline (bare bookkeeping, no rules): {base:12,.0f} journeys/s")
    for name, value in results.items():
        print(
            f"{name:<40} {value:10,.0f} journeys/s  {1e6 / value:7.1f} us/journey  "
            f"{base / value:5.1f}x baseline cost"
        )
    headline = results["complete journey (both OTPs)"]
    verdict = "meets" if headline >= TARGET else "misses"
    print(f"target {TARGET:,.0f} complete journeys/s: {verdict} ({headline / TARGET:.2f}x target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
