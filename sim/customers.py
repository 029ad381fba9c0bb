"""Customers: placing orders at the planned arrival times, and cancelling them, either on a
change of mind or when their patience runs out.

A customer who knows the order is finished does nothing; otherwise they press cancel, which the
API refuses once preparation has started (behaviour, logged with its code).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from typing import Any, cast

import simpy

from reference_api.errors import OrderflowError
from reference_api.permissions import CANCEL_FROM
from reference_api.roles import Role
from reference_api.service import OrderService
from reference_api.statuses import OrderStatus
from scenarios.schema import Scenario
from sim.calls import METHOD, OK, R_CUSTOMER, REASON_TEXT, Log, RequestCodes
from sim.city import City
from sim.codes import EP, OUTCOME, PLACED, REASON
from sim.gauges import Gauges
from sim.kitchen import KitchenFlow
from sim.ledger import Ledger
from sim.plan import BLOCK, OrderPlan
from sim.records import OrderRec
from sim.world import World

#: Orders' patience timeouts are scheduled this long before the earliest possible deadline.
PATIENCE_LEAD = 300.0
CUSTOMER_CANCELLABLE = CANCEL_FROM[Role.CUSTOMER]


class Customers:
    __slots__ = (
        "_city",
        "_codes",
        "_env",
        "_flush",
        "_gauges",
        "_kitchen",
        "_ledger",
        "_log",
        "_patience_fifo",
        "_patience_head_start",
        "_plan",
        "_s",
        "_svc",
        "_world",
        "placed",
    )

    def __init__(
        self,
        s: Scenario,
        env: simpy.Environment,
        svc: OrderService,
        city: City,
        world: World,
        plan: OrderPlan,
        codes: RequestCodes,
        log: Log,
        ledger: Ledger,
        gauges: Gauges,
        kitchen: KitchenFlow,
    ) -> None:
        self._s, self._env, self._svc = s, env, svc
        self._city, self._world, self._plan, self._codes = city, world, plan, codes
        self._log, self._ledger, self._flush = log, ledger, ledger.flush
        self._gauges, self._kitchen = gauges, kitchen
        self.placed = 0
        self._patience_fifo: deque[OrderRec] = deque()
        patience = s.customers.patience
        #: how long after placement an order's patience timeout is scheduled (see _patience_from)
        self._patience_head_start = 0.0 if patience is None else patience.min_s - PATIENCE_LEAD

    def arrivals(self) -> Generator[simpy.Event, Any, None]:
        """Each planned order at its time, with the decisions drawn for it; then the period
        runs to its end even if the last orders finish early (the measured window and the
        utilisation integrals need it)."""
        env, plan, svc = self._env, self._plan, self._svc
        world, codes = self._world, self._codes
        customers, vendors, addresses, items = (
            world.customers,
            world.vendors,
            world.addresses,
            codes.items,
        )
        active, counts, start = self._ledger.active, self._gauges.counts, self._kitchen.start
        choices = self._city.choices
        ep_place = EP["place_order"]
        for i, t in enumerate(plan.times.tolist()):
            yield env.timeout(t - env.now)
            blk = plan.block(i // BLOCK)
            j = i % BLOCK
            cust = blk.customer[j]
            vendor = int(choices[cust, blk.vendor_slot[j]]) if blk.vendor is None else blk.vendor[j]
            online = blk.online[j]
            rec = OrderRec(i, vendor, cust, online, blk, j)
            rec.ts[PLACED] = env.now
            q = blk.quantity[j]
            basket = None if blk.basket is None else codes.basket(blk.basket[j])
            oid = svc.place_order_id(
                customers[cust],
                vendor_id=vendors[vendor].id,
                items=items[q] if basket is None else basket,
                delivery_address=addresses[cust],
                payment_method=METHOD[online],
            )
            rec.oid = oid
            active[oid] = rec
            self.placed += 1
            place = codes.place[online, q] if basket is None else codes.place_basket(online, basket)
            self._log(i, -1, R_CUSTOMER, ep_place, OK, place)
            rec.status = OrderStatus.PAYMENT_PENDING if online else OrderStatus.ORDER_PLACED
            counts[rec.status] += 1
            rec.pickup_s = blk.pickup_service[j]
            rec.dropoff_s = blk.dropoff_service[j]
            rec.no_show = blk.no_show[j]
            rec.otp_err_p = blk.otp_err_pickup[j]
            rec.otp_err_d = blk.otp_err_delivery[j]
            rec.otp_resend = blk.otp_resend[j]
            if blk.cust_cancel[j]:
                env.timeout(blk.cust_cancel_after[j], rec).callbacks.append(self._changed_mind)
            if blk.patience is not None:
                self._patience_from(rec, blk.patience[j])
            start(rec)
        yield env.timeout(max(0.0, self._s.period.duration_s - env.now))
        self._ledger.arrivals_over()

    # Patience. Every order gets a deadline, typically long after it is delivered: a timeout
    # per order at placement would mostly fire for nothing, and keep the order's record and
    # events alive until then. No deadline comes sooner than the patience distribution's
    # minimum after placement, so orders wait in a FIFO (placement order) until
    # ``PATIENCE_LEAD`` before that earliest possible deadline; one wake-up then takes every
    # order due within the next half lead and gives the unfinished ones a timeout at their
    # exact deadline. Finished ones need nothing. Same deadlines, same behaviour, fewer events.
    def _patience_from(self, rec: OrderRec, patience: float) -> None:
        now = self._env.now
        rec.deadline = now + patience
        if self._patience_head_start <= 0.0:  # no useful lower bound: a timeout now
            self._env.timeout(patience, rec).callbacks.append(self._impatient)
            return
        fifo = self._patience_fifo
        fifo.append(rec)
        if len(fifo) == 1:
            self._wake_for_patience(now)

    def _wake_for_patience(self, now: float) -> None:
        head = self._patience_fifo[0]
        at = head.ts[PLACED] + self._patience_head_start
        self._env.timeout(max(0.0, at - now)).callbacks.append(self._promote_patience)

    def _promote_patience(self, _event: simpy.Event) -> None:
        fifo, env = self._patience_fifo, self._env
        now = env.now
        horizon = now + PATIENCE_LEAD / 2 - self._patience_head_start
        while fifo and fifo[0].ts[PLACED] <= horizon:
            rec = fifo.popleft()
            if not rec.done:
                env.timeout(rec.deadline - now, rec).callbacks.append(self._impatient)
        if fifo:
            self._wake_for_patience(now)

    def _changed_mind(self, event: simpy.Event) -> None:
        self._cancel(cast(OrderRec, event.value), "customer_changed_mind")

    def _impatient(self, event: simpy.Event) -> None:
        self._cancel(cast(OrderRec, event.value), "customer_impatient")

    def _cancel(self, rec: OrderRec, why: str) -> None:
        if rec.done:
            return
        ep, params = EP["cancel"], self._codes.reason[why]
        try:
            self._svc.cancel(self._world.customers[rec.customer], rec.oid, reason=REASON_TEXT[why])
        except OrderflowError as exc:
            if rec.status in CUSTOMER_CANCELLABLE:
                raise
            self._log(rec.idx, -1, R_CUSTOMER, ep, OUTCOME[exc.code], params)
            return
        rec.reason = REASON[why]
        self._log(rec.idx, -1, R_CUSTOMER, ep, OK, params)
        self._flush()
