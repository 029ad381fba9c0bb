"""The SimPy model: customers, payment gateway, kitchens and riders around the reference API.

Every state change is a call on ``OrderService`` with a clock that reads SimPy time, so a
simulated order can only do what the API allows. What the service decides on its own (rider
assignment, auto-cancellation, refunds) reaches the model through the service's hooks: the model
is an ``events.Observer`` (told of each status change and assignment, with the order itself) and
a timer listener; one SimPy wake-up is kept pending at the earliest armed rule timer. Processes
sleep on SimPy events and never poll.

A refusal the model did not expect is a bug in the model or the rules: it propagates and fails
the run (``SimulationBug``). Expected refusals (a customer cancelling too late, a rider typing a
wrong OTP, a resend asked too soon) are behaviour and are logged as API calls with their code.
"""

from __future__ import annotations

import gc
import math
from collections import deque
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import simpy
from simpy.resources.resource import Request

from reference_api import bootstrap
from reference_api.dispatch import NearestRiderDispatch
from reference_api.errors import OrderflowError, OtpExpired, OtpInvalid, Throttled
from reference_api.fixtures import fixture_id
from reference_api.geo import haversine_km
from reference_api.model import Order, Rider, User, Vendor
from reference_api.permissions import CANCEL_FROM
from reference_api.policy import Policy
from reference_api.roles import SYSTEM_ACTOR, Actor, Role
from reference_api.service import (
    CONFIRM_TIMEOUT,
    PAYMENT_TIMEOUT,
    PICKUP_TIMEOUT,
    OrderService,
)
from reference_api.statuses import ACTIVE, OrderStatus
from reference_api.store.memory import MemoryStore
from scenarios.schema import Scenario, clock_seconds
from sim import codes
from sim.city import City, build_city
from sim.codes import (
    ASSIGNED,
    ENDED,
    EP,
    OUTCOME,
    PHASES,
    PLACED,
    REASON,
    RIDER_ARRIVED,
    STATUS_PHASE,
)
from sim.plan import BLOCK, Block, OrderPlan
from sim.recorder import EP_SHIFT, NAN, OUTCOME_SHIFT, PARAMS_SHIFT, Recorder
from sim.scheduler import BucketedEnvironment
from sim.streams import service_rng, streams

S = OrderStatus
#: 2024-01-15T00:00:00Z: simulated days start here (a fixed date keeps outputs reproducible).
EPOCH_DAY = 1_705_276_800.0
#: Orders' patience timeouts are scheduled this long before the earliest possible deadline.
PATIENCE_LEAD = 300.0
#: Rule timers are woken this long after their due time so float rounding never wakes them early.
TIMER_SLACK_S = 1e-6

R_CUSTOMER, R_RESTAURANT, R_RIDER, R_SYSTEM = (codes.ROLE[r] for r in Role)
OK = OUTCOME["ok"]
ENDINGS = frozenset({S.DELIVERED, S.CANCELLED, S.RESTAURANT_REJECTED, S.PAYMENT_FAILED})
#: Orders in each active state are sampled; the columns follow the enum's lifecycle order.
COUNTED = tuple(s for s in OrderStatus if s in ACTIVE)
TIMER_REASON = {
    CONFIRM_TIMEOUT: REASON["confirm_timeout"],
    PICKUP_TIMEOUT: REASON["pickup_timeout"],
    PAYMENT_TIMEOUT: REASON["payment_timeout"],
}
CUSTOMER_CANCELLABLE = CANCEL_FROM[Role.CUSTOMER]


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """A city-scale run keeps hundreds of thousands of objects alive (orders in flight, pending
    events) and allocates millions more; with CPython's default thresholds the cyclic collector
    rescans the long-lived ones over and over (it was half the run time of a 1M-order day).
    Freeze what exists, collect young objects in larger batches, rarely do full passes; restore
    the settings afterwards. Objects here are almost all freed by reference counting anyway."""
    gc.collect()
    gc.freeze()
    before = gc.get_threshold()
    gc.set_threshold(100_000, 50, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


class SimulationBug(RuntimeError):
    """The model made a move the API refused without the model expecting it."""


class SimClock:
    """The service's clock: SimPy time plus the epoch of the simulated period's start."""

    __slots__ = ("env", "epoch")

    def __init__(self, env: simpy.Environment, epoch: float) -> None:
        self.env = env
        self.epoch = epoch

    def now(self) -> float:
        return self.epoch + self.env._now  # the attribute behind env.now: read ~20x per order


class OrderRec:
    """The model's view of one order while it is in flight."""

    __slots__ = (
        "blk",
        "customer",
        "deadline",
        "done",
        "dropoff_s",
        "ends_ev",
        "idx",
        "j",
        "no_show",
        "oid",
        "online",
        "otp_err_d",
        "otp_err_p",
        "otp_resend",
        "pickup_s",
        "ready_ev",
        "reason",
        "refund_open",
        "rider",
        "slot_req",
        "status",
        "ts",
        "vendor",
    )

    def __init__(
        self, idx: int, vendor: int, customer: int, online: bool, blk: Block, j: int
    ) -> None:
        self.idx = idx
        self.vendor = vendor
        self.customer = customer
        self.online = online
        self.oid = ""
        self.status = S.ORDER_PLACED
        self.ts = [NAN] * len(PHASES)
        self.rider = -1
        self.reason = 0
        self.deadline = 0.0  # when the customer's patience runs out
        self.done = False  # reached an ending status (delivered, cancelled, rejected, failed)
        self.refund_open = False
        self.ready_ev: simpy.Event | None = None
        self.ends_ev: simpy.Event | None = None
        self.slot_req: Request | None = None  # kitchen slot: queued for it, then holding it
        self.blk = blk  # what was drawn for this order: ``blk.<field>[j]``
        self.j = j
        self.pickup_s = 0.0
        self.dropoff_s = 0.0
        self.no_show = False
        self.otp_err_p = False
        self.otp_err_d = False
        self.otp_resend = False


class RiderState:
    __slots__ = ("actor", "busy", "idx", "jobs", "lat", "lon", "on", "shift_end", "wake")

    def __init__(self, idx: int, actor: Actor, lat: float, lon: float, shift_end: float) -> None:
        self.idx = idx
        self.actor = actor
        self.lat = lat
        self.lon = lon
        self.shift_end = shift_end
        self.jobs: deque[OrderRec] = deque()
        self.wake: simpy.Event | None = None
        self.on = False
        self.busy = False


@dataclass
class ReplicationResult:
    replication: int
    recorder: Recorder
    placed: int
    end_time: float
    utilisation: dict[str, float]
    window: tuple[float, float]


def policy_for(s: Scenario) -> Policy:
    ac, rf, fl = s.auto_cancel, s.refunds, s.fleet
    return Policy(
        confirm_timeout_s=ac.confirm_timeout_min * 60,
        pickup_timeout_s=ac.pickup_timeout_min * 60,
        payment_timeout_s=ac.payment_timeout_min * 60,
        refund_processing_delay_s=rf.processing_delay_min * 60,
        refund_settle_delay_s=rf.settle_delay_min * 60,
        refund_failure_rate=rf.failure_rate,
        rider_speed_kmh=fl.speed_kmh,
        detour_factor=fl.detour_factor,
        default_prep_minutes=max(1, min(240, round(s.vendors.prep_time.mean_s / 60))),
    )


class Model:
    def __init__(self, scenario: Scenario, seed: int, replication: int) -> None:
        self.s = scenario
        self.replication = replication
        rngs = streams(seed, replication)
        self.rngs = rngs
        self.env = env = BucketedEnvironment()
        self.clock = SimClock(env, EPOCH_DAY + scenario.period.start_s)
        self.city: City = build_city(scenario, rngs["city"], rngs["riders"])
        fleet = scenario.fleet
        cell = fleet.dispatch_cell_km or min(
            2.0, max(0.25, math.sqrt(self.city.area_km2 / max(1.0, fleet.riders / 3)))
        )
        self.store = MemoryStore()  # forget_order drops each order once it is recorded
        self.svc: OrderService = bootstrap(
            clock=self.clock,
            store=self.store,
            rng=service_rng(rngs["service"]),
            policy=policy_for(scenario),
            dispatch=NearestRiderDispatch(cell_km=cell, ref_lat=scenario.city.center_lat),
        )
        self.svc.observers.append(self)
        self.svc.timer_listeners.append(self._on_timer)
        #: the current rule-timer wake-up; its value is the due time it serves
        self._wake: simpy.Event | None = None
        #: every scheduled wake-up by the due time it serves (the current one and superseded ones)
        self._wakes: dict[float, simpy.Event] = {}
        self._patience_fifo: deque[OrderRec] = deque()
        patience = scenario.customers.patience
        #: how long after placement an order's patience timeout is scheduled (see _patience_from)
        self._patience_head_start = 0.0 if patience is None else patience.min_s - PATIENCE_LEAD
        self.rec = rec = Recorder(replication)
        self._call_t, self._call_order = rec.call_t.append, rec.call_order.append
        self._call_rider, self._call_key = rec.call_rider.append, rec.call_key.append
        self.progress: Callable[[float], None] | None = None  # told the simulated time
        self.plan = OrderPlan(scenario, rngs)
        self.active: dict[str, OrderRec] = {}
        self.finished: list[OrderRec] = []
        self.counts: dict[OrderStatus, int] = dict.fromkeys(COUNTED, 0)
        self.placed = 0
        self.arrivals_done = False
        self.closing = False  # set when the run ends: record whatever is left
        self.end = env.event()
        p = scenario.period
        self.window = (p.warmup_min * 60, p.duration_s - p.cooldown_min * 60)
        self._setup_world()
        self._params()

    # ------------------------------------------------------------------ world
    def _setup_world(self) -> None:
        s, city, svc = self.s, self.city, self.svc
        self.vendors: list[Vendor] = []
        self.restaurants: list[Actor] = []
        for i in range(s.vendors.count):
            vid, owner = fixture_id("vendor", i), fixture_id("owner", i)
            v = Vendor(vid, f"Kitchen {i}", owner, city.vendor_lat[i], city.vendor_lon[i])
            svc.add_vendor(v)
            self.vendors.append(v)
            self.restaurants.append(Actor(Role.RESTAURANT, owner, v.name, vid))
        self.kitchens = [
            simpy.Resource(self.env, capacity=s.vendors.kitchen_slots) for _ in self.vendors
        ]
        self.customers: list[Actor] = []
        for i in range(s.customers.count):
            actor = Actor(Role.CUSTOMER, fixture_id("customer", i), f"Customer {i}")
            svc.add_user(User(actor.user_id, actor.name, Role.CUSTOMER.value))
            self.customers.append(actor)
        self.addresses = [
            {"latitude": lat, "longitude": lon}
            for lat, lon in zip(city.customer_lat, city.customer_lon, strict=True)
        ]
        self.riders: list[RiderState] = []
        self.rider_by_id: dict[str, RiderState] = {}
        shifts = s.fleet.shifts
        period = s.period
        if shifts:
            shares = np.array([sh.share for sh in shifts], dtype=float)
            which = self.rngs["riders"].choice(
                len(shifts), size=s.fleet.riders, p=shares / shares.sum()
            )
            spans = [
                (clock_seconds(sh.start) - period.start_s, clock_seconds(sh.end) - period.start_s)
                for sh in shifts
            ]
        else:
            which = np.zeros(s.fleet.riders, dtype=np.int64)
            spans = [(0.0, period.duration_s)]
        for i in range(s.fleet.riders):
            actor = Actor(Role.RIDER, fixture_id("rider", i), f"Rider {i}")
            svc.add_user(User(actor.user_id, actor.name, Role.RIDER.value))
            start, end = spans[int(which[i])]
            r = RiderState(i, actor, city.rider_lat[i], city.rider_lon[i], end)
            self.riders.append(r)
            self.rider_by_id[actor.user_id] = r
            self.env.process(self._rider(r, max(0.0, start)))
        self.riders_on = 0
        self.riders_busy = 0
        # utilisation integrals (rider-seconds busy / on shift, kitchen slot-seconds busy)
        self._acc_t = 0.0
        self._acc = {"busy": 0.0, "on": 0.0, "slots": 0.0}
        self._snap: dict[str, dict[str, float]] = {}
        self.slots_busy = 0

    def _params(self) -> None:
        code = self.rec.params.code
        fl = self.s.fleet
        self.instant = fl.instant_travel
        self.speed_factor = fl.detour_factor / fl.speed_kmh * 3600.0
        price = f"{self.s.customers.item_price:.2f}"
        self.items: dict[int, list[Mapping[str, Any]]] = {
            q: [{"name": "Meal", "quantity": q, "unit_price": price}]
            for q in range(1, self.s.customers.basket_items_max + 1)
        }
        self.p_place = {
            (online, q): code({"payment_method": "online" if online else "cod", "quantity": q})
            for online in (False, True)
            for q in self.items
        }
        est = max(1, min(240, round(self.s.vendors.prep_time.mean_s / 60)))
        self.prep_estimate = est
        self.p_confirm = code({"estimated_prep_time": est})
        self.p_pay_ok = code({"success": True})
        self.p_pay_fail = code({"success": False})
        self.p_otp = {k: code({"otp_type": k}) for k in ("pickup", "delivery")}
        self.p_wrong = code({"wrong_otp": True})
        self.p_at = {k: code({"at": k}) for k in ("restaurant", "customer")}
        self.p_on = code({"available": True})
        self.p_off = code({"available": False})
        self.reasons = {
            "customer_changed_mind": "Changed my mind",
            "customer_impatient": "Taking too long",
            "restaurant_out_of_stock": "An item ran out",
            "restaurant_rejected": "Kitchen too busy",
        }
        self.p_reason = {k: code({"reason": v}) for k, v in self.reasons.items()}
        self.EMPTY = self.rec.params.EMPTY

    # ------------------------------------------------------------------ hooks from the service
    def _on_timer(self, due: float) -> None:
        """One SimPy wake-up is current at a time, at the earliest armed rule timer; a timer due
        later needs none yet (timers disarmed by a status change never wake the model). A wake-up
        superseded by an earlier timer stays scheduled, and is reused if its time becomes the
        earliest again, so no two wake-ups are ever pending for the same moment."""
        current = self._wake
        if current is None or due < current._value:
            wake = self._wakes.get(due)
            if wake is None:
                wake = self.env.timeout(max(0.0, due - self.clock.now()) + TIMER_SLACK_S, due)
                wake.callbacks.append(self._fire_timers)
                self._wakes[due] = wake
            self._wake = wake

    def _fire_timers(self, event: simpy.Event) -> None:
        del self._wakes[event._value]
        if event is not self._wake:
            return  # superseded by an earlier timer armed after this wake-up was scheduled
        self._wake = None
        for kind, oid, outcome in self.svc.process_due_timers():
            rec = self.active.get(oid)
            if rec is None:
                continue
            reason = TIMER_REASON.get(kind)
            if reason is not None and rec.reason == 0:
                rec.reason = reason
            if outcome == "refund_failed":
                rec.refund_open = False
                self._maybe_finished(rec)
        due = self.store.next_timer_due()  # in memory: no transaction to open
        if due is not None:
            self._on_timer(due)
        self._flush()

    # ``events.Observer``: the service tells the model of each status change and assignment
    def moved(self, order: Order, previous: OrderStatus, now: float) -> None:
        rec = self.active.get(order.id)
        if rec is None:
            return
        new = order.status
        counts = self.counts
        if previous in counts:
            counts[previous] -= 1
        if new in counts:
            counts[new] += 1
        rec.status = new
        t = self.env._now
        phase = STATUS_PHASE.get(new)
        if phase is not None:
            rec.ts[phase] = t
        if new in ENDINGS:
            self._ended(rec, new, t)
        elif new is S.READY_FOR_PICKUP and rec.ready_ev is not None:
            rec.ready_ev.succeed()
            rec.ready_ev = None
        elif new is S.REFUND_COMPLETED:
            rec.refund_open = False
            self._maybe_finished(rec)

    def assigned(self, order: Order, rider: Rider, now: float) -> None:
        rec = self.active.get(order.id)
        if rec is None:
            return
        r = self.rider_by_id[rider.id]
        rec.rider = r.idx
        if rec.ts[ASSIGNED] != rec.ts[ASSIGNED]:  # NaN: first assignment
            rec.ts[ASSIGNED] = self.env._now
        r.jobs.append(rec)
        if not r.busy:
            self._set_busy(r, True)
        if r.wake is not None:
            r.wake.succeed()
            r.wake = None

    def _ended(self, rec: OrderRec, new: OrderStatus, now: float) -> None:
        rec.done = True
        rec.ts[ENDED] = now
        if rec.slot_req is not None and not rec.slot_req.triggered:  # still queued for a slot
            rec.slot_req.cancel()
            rec.slot_req = None
        for waiting in (rec.ready_ev, rec.ends_ev):
            if waiting is not None:
                waiting.succeed()
        rec.ready_ev = rec.ends_ev = None
        self._maybe_finished(rec)

    def _maybe_finished(self, rec: OrderRec) -> None:
        if rec.done and not rec.refund_open:
            self.finished.append(rec)

    def _refund_pending(self, rec: OrderRec, order: Order) -> bool:
        """A cancelled paid order still changes when its refund settles: keep it until then."""
        refund = order.refund
        rec.refund_open = refund is not None and refund.status in ("pending", "processing")
        return rec.refund_open

    def _flush(self) -> None:
        """Record and drop orders that can no longer change (after the API call returned, so
        the service never finds an order missing mid-call)."""
        if not self.finished:
            return
        store = self.store
        for rec in self.finished:
            order = store.get_order(rec.oid)
            assert order is not None, f"order {rec.oid} vanished before it was recorded"
            if not self.closing and self._refund_pending(rec, order):
                continue
            self._record(rec, order)
            self.active.pop(rec.oid, None)
            store.forget_order(rec.oid)
        self.finished.clear()
        self.rec.spill_if_full()
        if self.arrivals_done and not self.active and not self.end.triggered:
            self.end.succeed()

    def _record(self, rec: OrderRec, order: Order) -> None:
        r = self.rec
        epoch = self.clock.epoch
        idx = rec.idx
        status_code, role_code = codes.STATUS, codes.ROLE_BY_VALUE
        history = order.history
        r.ev_order.extend([idx] * len(history))
        r.ev_seq.extend(range(len(history)))
        r.ev_t.extend([e.created_at - epoch for e in history])
        r.ev_status.extend([status_code[e.status] for e in history])
        r.ev_role.extend([role_code[e.actor_role] for e in history])
        r.o_idx.append(idx)
        r.o_phases.extend(rec.ts)
        r.o_promised.append(order.estimated_delivery_time - epoch)
        r.o_status.append(status_code[order.status.value])
        ended_by = order.cancelled_by
        if order.status is S.PAYMENT_FAILED:
            ended_by = Role.SYSTEM.value
        r.o_reason.append(rec.reason)
        r.o_actor.append(0 if ended_by is None else 1 + role_code[ended_by])
        r.o_online.append(1 if rec.online else 0)
        r.o_vendor.append(rec.vendor)
        r.o_customer.append(rec.customer)
        r.o_rider.append(rec.rider)
        refund = order.refund
        r.o_refund.append(0 if refund is None else codes.REFUND_STATE[refund.status])
        placed = rec.ts[PLACED]
        r.o_window.append(1 if self.window[0] <= placed < self.window[1] else 0)

    # ------------------------------------------------------------------ bookkeeping
    def _accumulate(self) -> None:
        now = self.env.now
        dt = now - self._acc_t
        if dt > 0:
            acc = self._acc
            acc["busy"] += self.riders_busy * dt
            acc["on"] += self.riders_on * dt
            acc["slots"] += self.slots_busy * dt
            self._acc_t = now

    def _set_busy(self, r: RiderState, busy: bool) -> None:
        self._accumulate()
        r.busy = busy
        self.riders_busy += 1 if busy else -1

    def _set_on(self, r: RiderState, on: bool) -> None:
        self._accumulate()
        r.on = on
        self.riders_on += 1 if on else -1

    def _slots(self, delta: int) -> None:
        self._accumulate()
        self.slots_busy += delta

    def _log(self, order: int, rider: int, role: int, ep: int, out: int, params: int) -> None:
        """``Recorder.call`` inlined (about ten calls an order): four appends, no method hop."""
        self._call_t(self.env._now)
        self._call_order(order)
        self._call_rider(rider)
        self._call_key(role | ep << EP_SHIFT | out << OUTCOME_SHIFT | params << PARAMS_SHIFT)

    # ------------------------------------------------------------------ processes
    def _arrivals(self) -> Generator[simpy.Event, Any, None]:
        env, plan, svc = self.env, self.plan, self.svc
        times = plan.times.tolist()
        city = self.city
        choices = city.choices
        ep_place = EP["place_order"]
        for i, t in enumerate(times):
            yield env.timeout(t - env.now)
            blk = plan.block(i // BLOCK)
            j = i % BLOCK
            cust = blk.customer[j]
            vendor = int(choices[cust, blk.vendor_slot[j]])
            online = blk.online[j]
            rec = OrderRec(i, vendor, cust, online, blk, j)
            rec.ts[PLACED] = env.now
            q = blk.quantity[j]
            oid = svc.place_order_id(
                self.customers[cust],
                vendor_id=self.vendors[vendor].id,
                items=self.items[q],
                delivery_address=self.addresses[cust],
                payment_method="online" if online else "cod",
            )
            rec.oid = oid
            self.active[oid] = rec
            self.placed += 1
            self._log(i, -1, R_CUSTOMER, ep_place, OK, self.p_place[online, q])
            rec.status = S.PAYMENT_PENDING if online else S.ORDER_PLACED
            self.counts[rec.status] += 1
            rec.pickup_s = blk.pickup_service[j]
            rec.dropoff_s = blk.dropoff_service[j]
            rec.no_show = blk.no_show[j]
            rec.otp_err_p = blk.otp_err_pickup[j]
            rec.otp_err_d = blk.otp_err_delivery[j]
            rec.otp_resend = blk.otp_resend[j]
            if blk.cust_cancel[j]:
                self.env.timeout(blk.cust_cancel_after[j], rec).callbacks.append(self._changed_mind)
            if blk.patience is not None:
                self._patience_from(rec, blk.patience[j])
            self._order(rec)
        # the period runs to its end even if the last orders finish early (the measured window
        # and the utilisation integrals need it)
        yield env.timeout(max(0.0, self.s.period.duration_s - env.now))
        self.arrivals_done = True
        if not self.active and not self.end.triggered:
            self.end.succeed()

    # Customer patience. Every order gets a deadline, an hour or so away, and in a healthy city
    # most orders are delivered long before it: a SimPy timeout per order at placement would
    # mostly fire for nothing, and would keep an hour of orders (their records, their events)
    # alive in memory. No deadline comes sooner than the patience distribution's minimum after
    # placement, so orders wait in a FIFO (placement order) until ``PATIENCE_LEAD`` before that
    # earliest possible deadline; one wake-up then takes every order due within the next half
    # lead and gives the unfinished ones a timeout at their exact deadline. Finished ones need
    # nothing. Same deadlines, same behaviour, fewer events.
    def _patience_from(self, rec: OrderRec, patience: float) -> None:
        now = self.env._now
        rec.deadline = now + patience
        if self._patience_head_start <= 0.0:  # no useful lower bound: a timeout now
            self.env.timeout(patience, rec).callbacks.append(self._impatient)
            return
        fifo = self._patience_fifo
        fifo.append(rec)
        if len(fifo) == 1:
            self._wake_for_patience(now)

    def _wake_for_patience(self, now: float) -> None:
        head = self._patience_fifo[0]
        at = head.ts[PLACED] + self._patience_head_start
        self.env.timeout(max(0.0, at - now)).callbacks.append(self._promote_patience)

    def _promote_patience(self, _event: simpy.Event) -> None:
        fifo, env = self._patience_fifo, self.env
        now = env._now
        horizon = now + PATIENCE_LEAD / 2 - self._patience_head_start
        while fifo and fifo[0].ts[PLACED] <= horizon:
            rec = fifo.popleft()
            if not rec.done:
                env.timeout(rec.deadline - now, rec).callbacks.append(self._impatient)
        if fifo:
            self._wake_for_patience(now)

    def _changed_mind(self, event: simpy.Event) -> None:
        self._customer_cancel(event._value, "customer_changed_mind")

    def _impatient(self, event: simpy.Event) -> None:
        self._customer_cancel(event._value, "customer_impatient")

    def _customer_cancel(self, rec: OrderRec, why: str) -> None:
        """A customer who knows the order is finished does nothing; otherwise they press
        cancel, which the API refuses once preparation has started (behaviour, logged)."""
        if rec.done:
            return
        ep = EP["cancel"]
        try:
            self.svc.cancel(self.customers[rec.customer], rec.oid, reason=self.reasons[why])
        except OrderflowError as exc:
            if rec.status in CUSTOMER_CANCELLABLE:
                raise
            self._log(rec.idx, -1, R_CUSTOMER, ep, OUTCOME[exc.code], self.p_reason[why])
            return
        rec.reason = REASON[why]
        self._log(rec.idx, -1, R_CUSTOMER, ep, OK, self.p_reason[why])
        self._flush()

    # ------------------------------------------------------------------ the order's own steps
    # Payment gateway, then the restaurant: confirm (or reject, or never answer), wait for a
    # kitchen slot, prepare, mark ready (or cancel mid-way). A chain of SimPy callbacks rather
    # than a process per order (a process costs two extra events and a generator resume per
    # step): each step schedules the next, with the order's record as the timeout's value.
    def _order(self, rec: OrderRec) -> None:
        blk, j = rec.blk, rec.j
        if rec.online:
            if blk.pay_abandon[j]:
                return  # never pays: the payment timeout fails the order
            self.env.timeout(blk.pay_delay[j], rec).callbacks.append(self._pay)
        else:
            self.env.timeout(blk.confirm_delay[j], rec).callbacks.append(self._answer)

    def _pay(self, event: simpy.Event) -> None:
        rec: OrderRec = event._value
        if rec.done:
            return
        fail = rec.blk.pay_fail[rec.j]
        self.svc.record_payment(SYSTEM_ACTOR, rec.oid, success=not fail)
        self._log(
            rec.idx,
            -1,
            R_SYSTEM,
            EP["record_payment"],
            OK,
            self.p_pay_fail if fail else self.p_pay_ok,
        )
        if fail:
            rec.reason = REASON["payment_declined"]
            self._flush()
            return
        self.env.timeout(rec.blk.confirm_delay[rec.j], rec).callbacks.append(self._answer)

    def _answer(self, event: simpy.Event) -> None:
        rec: OrderRec = event._value
        blk, j = rec.blk, rec.j
        if rec.done or blk.no_response[j]:
            return  # cancelled meanwhile, or the restaurant never answers (confirm timeout)
        svc, idx, oid = self.svc, rec.idx, rec.oid
        kitchen = self.restaurants[rec.vendor]
        if blk.reject[j]:
            svc.reject(kitchen, oid, reason=self.reasons["restaurant_rejected"])
            rec.reason = REASON["restaurant_rejected"]
            self._log(idx, -1, R_RESTAURANT, EP["reject"], OK, self.p_reason["restaurant_rejected"])
            self._flush()
            return
        svc.confirm(kitchen, oid, estimated_prep_time=self.prep_estimate)
        self._log(idx, -1, R_RESTAURANT, EP["confirm"], OK, self.p_confirm)
        req = self.kitchens[rec.vendor].request()
        rec.slot_req = req  # cancelled by _ended while it waits in the queue
        req.callbacks.append(partial(self._cook, rec))

    def _cook(self, rec: OrderRec, _granted: simpy.Event) -> None:
        if rec.done:  # cancelled in the very instant the slot was granted
            self._release_slot(rec, busy=False)
            return
        self._slots(1)
        kitchen = self.restaurants[rec.vendor]
        self.svc.start_preparing(kitchen, rec.oid)
        self._log(rec.idx, -1, R_RESTAURANT, EP["start_preparing"], OK, self.EMPTY)
        blk, j = rec.blk, rec.j
        if blk.rest_cancel[j]:
            prep, then = blk.prep[j] * blk.rest_cancel_frac[j], self._out_of_stock
        else:
            prep, then = blk.prep[j], self._ready
        self.env.timeout(prep, rec).callbacks.append(then)

    def _out_of_stock(self, event: simpy.Event) -> None:
        rec: OrderRec = event._value
        why = "restaurant_out_of_stock"
        self.svc.cancel(self.restaurants[rec.vendor], rec.oid, reason=self.reasons[why])
        rec.reason = REASON[why]
        self._log(rec.idx, -1, R_RESTAURANT, EP["cancel"], OK, self.p_reason[why])
        self._release_slot(rec, busy=True)

    def _ready(self, event: simpy.Event) -> None:
        rec: OrderRec = event._value
        self.svc.mark_ready(self.restaurants[rec.vendor], rec.oid)
        self._log(rec.idx, -1, R_RESTAURANT, EP["mark_ready"], OK, self.EMPTY)
        self._release_slot(rec, busy=True)

    def _release_slot(self, rec: OrderRec, *, busy: bool) -> None:
        req = rec.slot_req
        assert req is not None
        rec.slot_req = None
        self.kitchens[rec.vendor].release(req)
        if busy:
            self._slots(-1)
            self._flush()

    def _travel(self, r: RiderState, lat: float, lon: float) -> float:
        if self.instant:
            return 0.0
        return haversine_km(r.lat, r.lon, lat, lon) * self.speed_factor

    def _rider(self, r: RiderState, start: float) -> Generator[simpy.Event, Any, None]:
        env, svc = self.env, self.svc
        yield env.timeout(start)
        if start >= r.shift_end:
            return
        svc.set_rider_availability(r.actor, available=True, latitude=r.lat, longitude=r.lon)
        self._log(-1, r.idx, R_RIDER, EP["set_rider_availability"], OK, self.p_on)
        self._set_on(r, True)
        self._flush()
        env.timeout(r.shift_end - env.now).callbacks.append(lambda _e: self._shift_over(r))
        while True:
            if not r.jobs:
                if r.busy:
                    self._set_busy(r, False)
                if env.now >= r.shift_end:
                    if r.on:
                        self._set_on(r, False)
                    return
                r.wake = env.event()
                yield r.wake
                continue
            rec = r.jobs.popleft()
            yield from self._deliver(r, rec)
            self._flush()

    def _shift_over(self, r: RiderState) -> None:
        """Off duty at shift end: no new orders; the current one is still delivered."""
        self.svc.set_rider_availability(r.actor, available=False)
        self._log(-1, r.idx, R_RIDER, EP["set_rider_availability"], OK, self.p_off)
        if r.wake is not None:
            r.wake.succeed()
            r.wake = None

    def _deliver(self, r: RiderState, rec: OrderRec) -> Generator[simpy.Event, Any, None]:
        env, svc = self.env, self.svc
        idx, oid, actor = rec.idx, rec.oid, r.actor
        if rec.done:
            return
        if rec.no_show:  # never turns up: the pickup timeout will cancel the order
            rec.ends_ev = env.event()
            yield rec.ends_ev
            return
        vendor = self.vendors[rec.vendor]
        yield env.timeout(self._travel(r, vendor.latitude, vendor.longitude))
        r.lat, r.lon = vendor.latitude, vendor.longitude
        if rec.done:
            return
        svc.update_rider_location(actor, latitude=r.lat, longitude=r.lon)
        self._log(idx, r.idx, R_RIDER, EP["update_rider_location"], OK, self.p_at["restaurant"])
        rec.ts[RIDER_ARRIVED] = env.now
        if rec.status is not S.READY_FOR_PICKUP:
            rec.ready_ev = env.event()
            yield rec.ready_ev
            if rec.done:
                return
        yield env.timeout(rec.pickup_s)
        if rec.done:
            return
        self._otp_handover(r, rec, "pickup")
        svc.start_delivery(actor, oid)
        self._log(idx, r.idx, R_RIDER, EP["start_delivery"], OK, self.EMPTY)
        lat, lon = self.city.customer_lat[rec.customer], self.city.customer_lon[rec.customer]
        yield env.timeout(self._travel(r, lat, lon))
        r.lat, r.lon = lat, lon
        svc.update_rider_location(actor, latitude=lat, longitude=lon)
        self._log(idx, r.idx, R_RIDER, EP["update_rider_location"], OK, self.p_at["customer"])
        yield env.timeout(rec.dropoff_s)
        self._otp_handover(r, rec, "delivery")

    def _otp_handover(self, r: RiderState, rec: OrderRec, kind: str) -> None:
        """The code holder reads the OTP (restaurant: pickup, customer: delivery) and the rider
        types it; a wrong first entry is refused, sometimes followed by a resend request; an
        expired code (rider late) is resent and read again."""
        svc, idx, oid = self.svc, rec.idx, rec.oid
        holder, holder_role = (
            (self.restaurants[rec.vendor], R_RESTAURANT)
            if kind == "pickup"
            else (self.customers[rec.customer], R_CUSTOMER)
        )
        act = svc.pickup if kind == "pickup" else svc.complete_delivery
        ep_act = EP["pickup"] if kind == "pickup" else EP["complete_delivery"]
        p_otp = self.p_otp[kind]
        code = svc.get_otp(holder, oid, otp_type=kind)["otp"]
        self._log(idx, -1, holder_role, EP["get_otp"], OK, p_otp)
        typo = rec.otp_err_p if kind == "pickup" else rec.otp_err_d
        while True:
            entered = f"{(int(code) + 1) % 1_000_000:06d}" if typo else code
            try:
                act(r.actor, oid, otp=entered)
            except OtpInvalid:
                if not typo:
                    raise
                self._log(idx, r.idx, R_RIDER, ep_act, OUTCOME["otp_invalid"], self.p_wrong)
                typo = False
                if not rec.otp_resend:
                    continue
                try:
                    svc.resend_otp(r.actor, oid, otp_type=kind)
                except Throttled:  # asked too soon after the last code: keep the current one
                    self._log(idx, r.idx, R_RIDER, EP["resend_otp"], OUTCOME["throttled"], p_otp)
                    continue
            except OtpExpired:  # the rider came late: ask for a new code
                out = OUTCOME["otp_expired"]
                self._log(idx, r.idx, R_RIDER, ep_act, out, self.p_wrong if typo else self.EMPTY)
                svc.resend_otp(r.actor, oid, otp_type=kind)
            else:
                self._log(idx, r.idx, R_RIDER, ep_act, OK, self.EMPTY)
                return
            self._log(idx, r.idx, R_RIDER, EP["resend_otp"], OK, p_otp)
            code = svc.get_otp(holder, oid, otp_type=kind)["otp"]
            self._log(idx, -1, holder_role, EP["get_otp"], OK, p_otp)

    def _sampler(self, interval: float) -> Generator[simpy.Event, Any, None]:
        """Resource samples at a fixed simulated interval (reads counters the model keeps up to
        date on every change; this is the only periodic process, and it only observes)."""
        env, counts, kitchens = self.env, self.counts, self.kitchens
        names = [f"orders_{s.value.lower()}" for s in COUNTED]
        total = len(self.riders)
        while True:
            queues = [len(k.queue) for k in kitchens]
            values = {
                "riders_off": total - self.riders_on,
                "riders_idle": self.riders_on - self.riders_busy,
                "riders_busy": self.riders_busy,
                "kitchen_slots_busy": self.slots_busy,
                "kitchen_queue": sum(queues),
                "kitchen_queue_max": max(queues),
                "orders_waiting_for_rider": self.svc.dispatch.waiting_count(),
            }
            for name, status in zip(names, COUNTED, strict=True):
                values[name] = counts[status]
            values["orders_in_system"] = sum(counts.values())
            self.rec.sample(env.now, values)
            if self.progress is not None:
                self.progress(env.now)
            yield env.timeout(interval)

    def _at(self, t: float, name: str) -> None:
        def snap(_event: simpy.Event) -> None:
            self._snapshot(name)

        self.env.timeout(t).callbacks.append(snap)

    def _snapshot(self, name: str) -> None:
        self._accumulate()
        self._snap[name] = dict(self._acc)

    # ------------------------------------------------------------------ run
    def run(self) -> ReplicationResult:
        env, p = self.env, self.s.period
        env.process(self._arrivals())
        env.process(self._sampler(self.s.output.resource_sample_min * 60))
        for name, at in zip(("start", "end"), self.window, strict=True):
            self._at(at, name)
        limit = p.duration_s + p.drain_h * 3600

        def time_up(_e: simpy.Event) -> None:
            if not self.end.triggered:
                self.end.succeed()

        env.timeout(limit).callbacks.append(time_up)
        try:
            with _fewer_collections():
                env.run(until=self.end)
        except OrderflowError as exc:
            raise SimulationBug(
                f"replication {self.replication}, t={env.now:.1f}s: the API refused a move the "
                f"model did not expect: {type(exc).__name__}: {exc}"
            ) from exc
        for rec in list(self.active.values()):  # in flight at the end
            self.finished.append(rec)
        self.closing = True
        self._flush()
        return ReplicationResult(
            self.replication, self.rec, self.placed, env.now, self._utilisation(), self.window
        )

    def _utilisation(self) -> dict[str, float]:
        a, b = self._snap.get("start"), self._snap.get("end")
        if a is None or b is None:
            return {}
        span = self.window[1] - self.window[0]
        on = b["on"] - a["on"]
        slots = len(self.kitchens) * self.s.vendors.kitchen_slots * span
        return {
            "rider_busy_s": b["busy"] - a["busy"],
            "rider_on_s": on,
            "kitchen_busy_s": b["slots"] - a["slots"],
            "kitchen_capacity_s": slots,
        }
