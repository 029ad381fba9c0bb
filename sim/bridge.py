"""The bridge between SimPy and the reference service, both ways.

Into the service: its clock reads SimPy time, and its policy comes from the scenario. Out of it:
what the service decides on its own (rider assignment, auto-cancellation, refunds) reaches the
model through the service's hooks. ``ServiceBridge`` is an ``events.Observer``, told of each
status change and assignment with the order itself, and a timer listener that keeps one SimPy
wake-up pending at the earliest armed rule timer, so no process ever polls.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import cast

import numpy as np
import simpy

from reference_api import bootstrap
from reference_api.clock import Clock
from reference_api.dispatch import DispatchSpec
from reference_api.model import Order, Rider
from reference_api.policy import Policy
from reference_api.service import OrderService
from reference_api.states import TimerKind
from reference_api.statuses import OrderStatus
from reference_api.store.memory import MemoryStore
from scenarios.schema import Scenario
from sim.calls import prep_estimate_min
from sim.city import City
from sim.codes import ASSIGNED, ENDED, REASON, STATUS_PHASE
from sim.gauges import Gauges
from sim.ledger import Ledger
from sim.records import OrderRec, RiderState
from sim.streams import refund_gateway, service_rng

S = OrderStatus
#: 2024-01-15T00:00:00Z: simulated days start here (a fixed date keeps outputs reproducible).
EPOCH_DAY = 1_705_276_800.0
#: Rule timers are woken this long after their due time so float rounding never wakes them early.
TIMER_SLACK_S = 1e-6
ENDINGS = frozenset({S.DELIVERED, S.CANCELLED, S.RESTAURANT_REJECTED, S.PAYMENT_FAILED})
TIMER_REASON: dict[str, int] = {
    TimerKind.CONFIRM_TIMEOUT: REASON["confirm_timeout"],
    TimerKind.PICKUP_TIMEOUT: REASON["pickup_timeout"],
    TimerKind.PAYMENT_TIMEOUT: REASON["payment_timeout"],
}


class SimClock:
    """The service's clock: SimPy time plus the epoch of the simulated period's start."""

    __slots__ = ("env", "epoch")

    def __init__(self, env: simpy.Environment, epoch: float) -> None:
        self.env = env
        self.epoch = epoch

    def now(self) -> float:
        # ``env._now`` is what the ``env.now`` property returns, without the call: this read and
        # those in ``CallLog.log`` and ``ServiceBridge.moved`` happen on every API call
        return self.epoch + self.env._now


def policy_for(s: Scenario) -> Policy:
    ac, rf, fl = s.auto_cancel, s.refunds, s.fleet
    # In the split service model a rider is free at a hand-over but sets off half the drop-off
    # service later, and then needs half the pickup service before taking the food: dispatch
    # counts both before a rider's shift ends (MDRP: no pickup after the off-time).
    lead = (
        (fl.pickup_service.mean_s + fl.dropoff_service.mean_s) / 2
        if fl.service_model == "split"
        else 0.0
    )
    return Policy(
        confirm_timeout_s=ac.confirm_timeout_min * 60,
        pickup_timeout_s=ac.pickup_timeout_min * 60,
        payment_timeout_s=ac.payment_timeout_min * 60,
        refund_processing_delay_s=rf.processing_delay_min * 60,
        refund_settle_delay_s=rf.settle_delay_min * 60,
        refund_failure_rate=rf.failure_rate,
        rider_speed_kmh=fl.speed_kmh,
        detour_factor=fl.detour_factor,
        default_prep_minutes=prep_estimate_min(s),
        metres_per_minute=s.city.metres_per_minute or 0.0,
        pickup_lead_s=lead,
    )


def open_service(
    s: Scenario, clock: Clock, city: City, rngs: Mapping[str, np.random.Generator]
) -> tuple[MemoryStore, OrderService]:
    """The service the model drives (``clock``: a ``SimClock``, or a manual one for a replay),
    on an in-memory store (the ledger has it forget each order once recorded), with the
    scenario's dispatch strategy on a grid sized to the fleet's density."""
    fleet = s.fleet
    cell = fleet.dispatch_cell_km or min(
        2.0, max(0.25, math.sqrt(city.area_km2 / max(1.0, s.rider_count / 3)))
    )
    chosen = s.dispatch.spec()
    # the projection's latitude: the city's centre, or where a restaurants file puts them
    places = None if s.inputs is None else s.inputs.restaurants
    ref_lat = s.city.center_lat if places is None or s.city.planar else float(places.lat.mean())
    grid = {"cell_km": cell, "ref_lat": max(-89.0, min(89.0, ref_lat))}
    spec = DispatchSpec(chosen.policy, {**chosen.options, **grid})
    store = MemoryStore()
    policy = policy_for(s)
    svc = bootstrap(
        clock=clock,
        store=store,
        rng=service_rng(rngs["service"]),
        policy=policy,
        refunds=refund_gateway(s.refunds.failure_rate, rngs["refunds"]),
        dispatch=spec.build(policy),
    )
    return store, svc


class ServiceBridge:
    """The service's hooks into the model: status changes, assignments and rule timers."""

    __slots__ = (
        "_active",
        "_clock",
        "_counts",
        "_env",
        "_flush",
        "_maybe_finished",
        "_rider_by_id",
        "_set_busy",
        "_store",
        "_svc",
        "_wake",
        "_wake_due",
        "_wakes",
    )

    def __init__(
        self,
        env: simpy.Environment,
        clock: SimClock,
        store: MemoryStore,
        svc: OrderService,
        ledger: Ledger,
        gauges: Gauges,
        rider_by_id: dict[str, RiderState],
    ) -> None:
        self._env, self._clock, self._store, self._svc = env, clock, store, svc
        self._active, self._maybe_finished, self._flush = (
            ledger.active,
            ledger.maybe_finished,
            ledger.flush,
        )
        self._counts, self._set_busy = gauges.counts, gauges.set_busy
        self._rider_by_id = rider_by_id
        #: the current rule-timer wake-up, and the due time it serves
        self._wake: simpy.Event | None = None
        self._wake_due = math.inf
        #: every scheduled wake-up by the due time it serves (the current one and superseded ones)
        self._wakes: dict[float, simpy.Event] = {}

    def attach(self) -> None:
        self._svc.observers.append(self)
        self._svc.timer_listeners.append(self.on_timer)

    # ------------------------------------------------------------------ rule timers
    def on_timer(self, due: float) -> None:
        """One SimPy wake-up is current at a time, at the earliest armed rule timer; a timer due
        later needs none yet (timers disarmed by a status change never wake the model). A wake-up
        superseded by an earlier timer stays scheduled, and is reused if its time becomes the
        earliest again, so no two wake-ups are ever pending for the same moment."""
        if due < self._wake_due:
            wake = self._wakes.get(due)
            if wake is None:
                delay = max(0.0, due - self._clock.now()) + TIMER_SLACK_S
                wake = self._env.timeout(delay, due)
                wake.callbacks.append(self._fire_timers)
                self._wakes[due] = wake
            self._wake, self._wake_due = wake, due

    def _fire_timers(self, event: simpy.Event) -> None:
        del self._wakes[cast(float, event.value)]
        if event is not self._wake:
            return  # superseded by an earlier timer armed after this wake-up was scheduled
        self._wake, self._wake_due = None, math.inf
        for kind, oid, outcome in self._svc.process_due_timers():
            rec = self._active.get(oid)
            if rec is None:
                continue
            reason = TIMER_REASON.get(kind)
            if reason is not None and rec.reason == 0:
                rec.reason = reason
            if outcome == "refund_failed":
                rec.refund_open = False
                self._maybe_finished(rec)
        due = self._store.next_timer_due()  # in memory: no transaction to open
        if due is not None:
            self.on_timer(due)
        self._flush()

    # ------------------------------------------------------------------ events.Observer
    def moved(self, order: Order, previous: OrderStatus, now: float) -> None:
        rec = self._active.get(order.id)
        if rec is None:
            return
        new = order.status
        counts = self._counts
        if previous in counts:
            counts[previous] -= 1
        if new in counts:
            counts[new] += 1
        rec.status = new
        t = self._env._now  # see ``SimClock.now``
        phase = STATUS_PHASE.get(new)
        if phase is not None:
            rec.ts[phase] = t
        if new in ENDINGS:
            self._ended(rec, t)
        elif new is S.READY_FOR_PICKUP and rec.ready_ev is not None:
            rec.ready_ev.succeed()
            rec.ready_ev = None
        elif new is S.REFUND_COMPLETED:
            rec.refund_open = False
            self._maybe_finished(rec)

    def assigned(self, order: Order, rider: Rider, now: float) -> None:
        rec = self._active.get(order.id)
        if rec is None:
            return
        r = self._rider_by_id[rider.id]
        rec.rider = r.idx
        bundle = order.bundle
        if bundle is not None:
            rec.bundle, rec.bundle_size = order.bundle_id, len(bundle)
        if rec.ts[ASSIGNED] != rec.ts[ASSIGNED]:  # NaN: first assignment
            rec.ts[ASSIGNED] = self._env.now
        r.jobs.append(rec)
        if not r.busy:
            self._set_busy(r, True)
        if r.wake is not None:
            r.wake.succeed()
            r.wake = None

    def _ended(self, rec: OrderRec, now: float) -> None:
        """Whatever waits on the order stops waiting: its place in a kitchen queue is given up,
        and a rider waiting for the food (or for the pickup timeout) moves on."""
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
