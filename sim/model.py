"""The SimPy model: customers, payment gateway, kitchens and riders around the reference API.

Every state change is a call on ``OrderService`` with a clock that reads SimPy time, so a
simulated order can only do what the API allows. ``Model`` builds one replication from its parts
and runs it:

- ``sim.world``: vendors, kitchens, customers and riders on the city, registered with the service;
- ``sim.bridge``: the service's clock and hooks (status changes, assignments, rule timers);
- ``sim.customers``: orders placed at the planned times, and customers cancelling them;
- ``sim.kitchen``: payment and the restaurant, a callback chain per order;
- ``sim.riders``: a process per rider, delivering what the service assigns;
- ``sim.ledger``, ``sim.gauges``, ``sim.calls``: what is recorded, counted and logged.

A refusal the model did not expect is a bug in the model or the rules: it propagates and fails
the run (``SimulationBug``). Expected refusals (a customer cancelling too late, a rider typing a
wrong OTP, a resend asked too soon) are behaviour and are logged as API calls with their code.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import simpy

from reference_api.errors import OrderflowError
from scenarios.schema import Scenario
from sim.bridge import EPOCH_DAY, ServiceBridge, SimClock, open_service
from sim.calls import CallLog, RequestCodes
from sim.city import City, build_city
from sim.customers import Customers
from sim.gauges import Gauges
from sim.kitchen import KitchenFlow
from sim.ledger import Ledger
from sim.plan import OrderPlan
from sim.recorder import Recorder
from sim.riders import Fleet
from sim.scheduler import BucketedEnvironment
from sim.streams import streams
from sim.world import build_world


@contextmanager
def fewer_collections() -> Iterator[None]:
    """A city-scale run keeps hundreds of thousands of objects alive (orders in flight, pending
    events) and allocates millions more; with CPython's default thresholds the cyclic collector
    would rescan the long-lived ones over and over. Freeze what exists, collect young objects in
    larger batches, rarely do full passes; restore the settings afterwards. Objects here are
    almost all freed by reference counting anyway."""
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


@dataclass
class ReplicationResult:
    replication: int
    recorder: Recorder
    placed: int
    end_time: float
    utilisation: dict[str, float]
    window: tuple[float, float]


class Model:
    """One replication. Its parts are built in a fixed order: random streams are drawn and
    SimPy events scheduled in that order, and outputs depend on both."""

    def __init__(self, scenario: Scenario, seed: int, replication: int) -> None:
        self.s = s = scenario
        self.seed, self.replication = seed, replication
        self.rngs = rngs = streams(seed, replication)
        self.env = env = BucketedEnvironment()
        self.clock = clock = SimClock(env, EPOCH_DAY + s.period.start_s)
        self.city: City = build_city(s, rngs["city"], rngs["riders"])
        self.store, self.svc = open_service(s, clock, self.city, rngs)
        self.rec = rec = Recorder(replication)
        self.progress: Callable[[float], None] | None = None  # told the simulated time
        self.plan = OrderPlan(s, rngs)
        rec.reserve_orders(len(self.plan))
        p = s.period
        self.window = (p.warmup_min * 60, p.duration_s - p.cooldown_min * 60)
        self.ledger = ledger = Ledger(self.store, rec, env.event(), clock.epoch, self.window)
        self.gauges = gauges = Gauges(env, self.window)
        self.world = world = build_world(s, env, self.svc, self.city, rngs["riders"])
        ServiceBridge(env, clock, self.store, self.svc, ledger, gauges, world.rider_by_id).attach()
        codes = RequestCodes(s, rec)
        log = CallLog(env, rec).log
        self.fleet = Fleet(
            s,
            env,
            self.svc,
            world.vendors,
            world.restaurants,
            world.customers,
            self.city.customer_lat,
            self.city.customer_lon,
            codes,
            log,
            ledger.flush,
            gauges,
            clock.epoch,
            rec.move if s.mdrp is not None else None,
        )
        for r in world.riders:
            env.process(self.fleet.shift(r))
        kitchen = KitchenFlow(
            env, self.svc, world.restaurants, world.kitchens, codes, log, ledger.flush, gauges.slots
        )
        self.customers = Customers(
            s, env, self.svc, self.city, world, self.plan, codes, log, ledger, gauges, kitchen
        )

    def run(self) -> ReplicationResult:
        env, s = self.env, self.s
        env.process(self.customers.arrivals())
        world, gauges = self.world, self.gauges
        sampler = gauges.sampler(
            s.output.resource_sample_min * 60,
            world.kitchens,
            len(world.riders),
            self.svc,
            self.rec,
            self.progress,
        )
        env.process(sampler)
        for name, at in zip(("start", "end"), self.window, strict=True):
            gauges.snapshot_at(at, name)
        end = self.ledger.end

        def time_up(_event: simpy.Event) -> None:
            if not end.triggered:
                end.succeed()

        env.timeout(s.period.duration_s + s.period.drain_h * 3600).callbacks.append(time_up)
        try:
            with fewer_collections():
                env.run(until=end)
        except OrderflowError as exc:
            raise SimulationBug(
                f"replication {self.replication}, t={env.now:.1f}s: the API refused a move the "
                f"model did not expect: {type(exc).__name__}: {exc}"
            ) from exc
        self.ledger.close()
        slots = len(world.kitchens) * s.vendors.kitchen_slots
        utilisation = gauges.utilisation(self.window, slots)
        work = self.svc.dispatch.work  # the whole run's deciding, counted (not timed)
        utilisation["dispatch_decisions"] = float(work.decisions)
        utilisation["dispatch_pairs_costed"] = float(work.pairs_costed)
        return ReplicationResult(
            self.replication,
            self.rec,
            self.customers.placed,
            env.now,
            utilisation,
            self.window,
        )
