"""How many order journeys per second the in-process API sustains on one core.

Two journeys, each a sequence of real service calls on a ManualClock, run in waves of ``WAVE``
orders in flight at once (every step is taken for the whole wave, as a simulation interleaves
its orders, so the clock moves per wave rather than per journey):

- complete: place (COD) -> confirm (rider assigned) -> start-preparing -> mark-ready ->
  restaurant reads the pickup OTP -> pickup with it -> start-delivery -> customer reads the
  delivery OTP -> complete-delivery with it; then one timer sweep per wave (the stale confirm
  timers fire and do nothing). 9 endpoint calls per journey.
- refunded: place (online) -> payment success -> customer cancels -> refund timers run to
  completion (pending -> processing -> completed, order REFUND_COMPLETED).

Rates are journeys per CPU-second of this single-threaded process (``time.process_time``), so
other work on a shared machine does not count against the figure. The default garbage collector
stays on; one extra line shows the same journey with ``gc.freeze()`` after each wave, which
separates the rules' own cost from the collector re-walking the ever-growing in-memory store.

The baseline, measured in the same run, is a bare loop doing the minimal bookkeeping a complete
journey needs without any rule: the same 9 uuid4 strings drawn from a seeded RNG, 4 HMAC-SHA256
digests (read and check two OTPs, D7), one order dict stored by id, 8 history tuples and 9
small response dicts. "Nx baseline cost" says how many times that floor a journey costs.

Run: ``.venv/bin/python benchmarks/bench_service.py`` (``--profile`` for the hot spots).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import hmac
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
#: Orders in flight at once; each step is taken for the whole wave, as a simulation interleaves
#: its orders, so the clock moves per wave and not per journey. One rider per order.
WAVE = 50


class Bench:
    """One service with fixtures; journeys run in waves of ``WAVE`` concurrent orders."""

    def __init__(self, *, sink: bool = False, freeze: bool = False) -> None:
        self.clock = ManualClock()
        self.events = 0
        self.freeze = freeze
        self.svc: OrderService = bootstrap(
            clock=self.clock, seed=1, sinks=[self._count] if sink else ()
        )
        self.fx = build_fixtures(vendors=20, customers=200, riders=WAVE)
        seed(self.svc, self.fx)
        self.riders: dict[str, Actor] = {a.user_id: a for a in self.fx.riders}
        self.addresses = [
            {"latitude": lat, "longitude": lon, "address_line_1": f"{i} Main St"}
            for i, (lat, lon) in enumerate(self.fx.customer_homes)
        ]
        self.n = 0

    def _count(self, event: DomainEvent) -> None:
        """A sink that forwards nowhere (a hub would serialise and fan out; not measured)."""
        self.events += 1

    def _place(self, method: str) -> list[tuple[str, Actor, Actor]]:
        svc, fx = self.svc, self.fx
        placed = []
        for _ in range(WAVE):
            i = self.n
            self.n += 1
            c, v = i % len(fx.customers), i % len(fx.vendors)
            customer = fx.customers[c]
            oid = svc.place_order(
                customer,
                vendor_id=fx.vendors[v].id,
                items=ITEMS,
                delivery_address=self.addresses[c],
                payment_method=method,
            )["id"]
            placed.append((str(oid), customer, fx.restaurants[v]))
        return placed

    def complete(self) -> list[str]:
        """``WAVE`` complete journeys, each step taken for every order of the wave in turn."""
        svc, clock = self.svc, self.clock
        wave = self._place("cod")
        clock.advance(30)
        for oid, _, restaurant in wave:
            svc.confirm(restaurant, oid, estimated_prep_time=15)
        clock.advance(60)
        for oid, _, restaurant in wave:
            svc.start_preparing(restaurant, oid)
        clock.advance(900)
        for oid, _, restaurant in wave:
            svc.mark_ready(restaurant, oid)
        riders = []
        for oid, _, restaurant in wave:
            # How a rider learns of the assignment is a push, not an endpoint of the spec:
            # read it from the store rather than add a call the journey would not make.
            order = svc.store.get_order(oid)
            assert order is not None and order.rider_id is not None
            riders.append(self.riders[order.rider_id])
            code = svc.get_otp(restaurant, oid, otp_type="pickup")["otp"]
            clock.advance(2)
            svc.pickup(riders[-1], oid, otp=code)
        for (oid, _, _), rider in zip(wave, riders, strict=True):
            svc.start_delivery(rider, oid)
        clock.advance(600)
        for (oid, customer, _), rider in zip(wave, riders, strict=True):
            code = svc.get_otp(customer, oid, otp_type="delivery")["otp"]
            svc.complete_delivery(rider, oid, otp=code)
            clock.advance(2)
        svc.process_due_timers()
        if self.freeze:
            gc.freeze()  # what a long-running process may do: stop re-walking settled objects
        return [oid for oid, _, _ in wave]

    def refunded(self) -> list[str]:
        """``WAVE`` paid orders cancelled by their customers and refunded."""
        svc, clock = self.svc, self.clock
        wave = self._place("online")
        clock.advance(20)
        for oid, _, _ in wave:
            svc.record_payment(SYSTEM_ACTOR, oid, success=True, reference="txn")
        clock.advance(40)
        for oid, customer, _ in wave:
            svc.cancel(customer, oid, reason="Changed my mind")
        clock.advance(svc.policy.refund_processing_delay_s)
        svc.process_due_timers()
        clock.advance(svc.policy.refund_settle_delay_s)
        svc.process_due_timers()
        return [oid for oid, _, _ in wave]


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
            read = hmac.digest(self.secret, f"{oid}|{kind}|{nonce}".encode(), hashlib.sha256)
            check = hmac.digest(self.secret, f"{oid}|{kind}|{nonce}".encode(), hashlib.sha256)
            assert hmac.compare_digest(read[:6], check[:6])  # the code is derived, never stored
        return oid


def rate(fn: Callable[[], object], calls: int, per_call: int, repeat: int) -> float:
    """Best of ``repeat`` runs of ``calls`` calls of ``fn`` (each doing ``per_call`` journeys),
    in journeys per CPU-second of this single-threaded process: CPU time rather than wall time,
    so other work on a shared machine does not count against us, and "per second on one core"
    is what is measured. Used for the baseline."""
    best = 0.0
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(calls):
            fn()
        best = max(best, calls * per_call / (time.process_time() - start))
    return best


def measure(make: Callable[[], Bench], journey: str, waves: int, repeat: int) -> float:
    """Best of ``repeat`` runs, each on a fresh service (so no run pays for another's heap),
    after one checked warm-up wave; journeys per CPU-second."""
    best = 0.0
    for _ in range(repeat):
        bench = make()
        run = getattr(bench, journey)
        want = OrderStatus.DELIVERED if journey == "complete" else OrderStatus.REFUND_COMPLETED
        _check(bench, run(), want)
        gc.collect()
        start = time.process_time()
        for _ in range(waves):
            run()
        best = max(best, waves * WAVE / (time.process_time() - start))
        if bench.svc.sinks:
            assert bench.events == 11 * bench.n, "every complete journey emits its 11 events"
        gc.unfreeze()
        del bench, run
        gc.collect()
    return best


def _check(bench: Bench, oids: list[str], want: OrderStatus) -> None:
    for oid in oids:
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
    if args.profile:
        bench = Bench()
        profiler = cProfile.Profile(time.process_time)
        profiler.runcall(lambda: [bench.complete() for _ in range(args.journeys // WAVE)])
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return 0

    n, r = max(1, args.journeys // WAVE), args.repeat
    base = rate(Baseline().journey, n * WAVE, 1, r)
    results = {
        "complete journey (both OTPs)": measure(Bench, "complete", n, r),
        "complete journey, event sink attached": measure(
            lambda: Bench(sink=True), "complete", n, r
        ),
        "cancelled-and-refunded journey": measure(Bench, "refunded", n, r),
        "complete journey, gc.freeze() per wave": measure(
            lambda: Bench(freeze=True), "complete", n, r
        ),
    }
    print(
        f"in-process API, one thread, journeys per CPU-second, best of {r} x {n * WAVE} "
        f"in waves of {WAVE} (python {sys.version.split()[0]})"
    )
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
