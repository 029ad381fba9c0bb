"""A replication's API calls replayed against a fresh service: no SimPy, no model.

``Replay.of(model)`` reads the run's own API-call log (``Recorder.call_*`` and the parameters
codes) and the orders it placed, builds a service exactly as ``Model`` does (same scenario,
streams, world registration and dispatch strategy) on a ``ManualClock``, and turns every logged
call into a ready-made step. ``run()`` then makes those calls in the logged order at the logged
simulated times, fires the service's rule timers at the moments ``ServiceBridge`` wakes the
model for them (its wake-ups and their arithmetic, without SimPy) and has the store forget an
order once it can no longer change (as ``Ledger.flush`` does). Because the service's randomness
comes from the same stream and it hears the same calls at the same times, it makes the same
decisions: ``run`` counts every call whose outcome differs from the logged one (none is
expected; ``tests/sim/test_replay_calls.py`` checks every status change and assignment too). One
thing the log cannot tell: where a rider with several shifts goes on duty again after an order
was cancelled under them on the way (the model moves them without a report); the replay puts
them where they last reported, so only such a rider's later shifts may differ.

What ``run`` costs is the API's own cost for that day, so a benchmark can set it beside the full
model's (``benchmarks/bench_sim.py``: overhead = full / (skeleton + replay)). The steps are built
beforehand, so ``run`` does little besides the calls: a tuple unpack and a branch per call.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from reference_api.clock import ManualClock
from reference_api.errors import OrderflowError
from reference_api.roles import SYSTEM_ACTOR, Actor
from reference_api.service import OrderService
from reference_api.states import OPEN_REFUND
from reference_api.statuses import ACTIVE
from reference_api.store.memory import MemoryStore
from sim import codes
from sim.bridge import EPOCH_DAY, TIMER_SLACK_S, open_service
from sim.city import build_city
from sim.records import RiderState
from sim.streams import streams
from sim.world import build_world

if TYPE_CHECKING:
    from sim.model import Model

EP = codes.EP
#: What each step does (the first field of a step after its time).
(
    PLACE,
    PAY,
    CONFIRM,
    REJECT,
    START_PREP,
    READY,
    CANCEL,
    GET_OTP,
    PICKUP,
    START_DELIVERY,
    COMPLETE,
    RESEND,
    AVAILABLE,
    LOCATE,
) = range(14)
_KIND = {
    EP["place_order"]: PLACE,
    EP["record_payment"]: PAY,
    EP["confirm"]: CONFIRM,
    EP["reject"]: REJECT,
    EP["start_preparing"]: START_PREP,
    EP["mark_ready"]: READY,
    EP["cancel"]: CANCEL,
    EP["get_otp"]: GET_OTP,
    EP["pickup"]: PICKUP,
    EP["start_delivery"]: START_DELIVERY,
    EP["complete_delivery"]: COMPLETE,
    EP["resend_otp"]: RESEND,
    EP["set_rider_availability"]: AVAILABLE,
    EP["update_rider_location"]: LOCATE,
}
#: A step: time (simulated s), kind, order index (-1: none), actor, two arguments, outcome code.
Step = tuple[float, int, int, Actor, Any, Any, int]


@dataclass
class ReplayResult:
    calls: int
    timer_sweeps: int
    #: ``(call number, endpoint, expected outcome, replayed outcome)`` of the first mismatches
    mismatches: list[tuple[int, str, str, str]] = field(default_factory=list)
    mismatch_count: int = 0


class Replay:
    """The steps of one replication's calls and the fresh service to make them on."""

    def __init__(
        self,
        svc: OrderService,
        store: MemoryStore,
        clock: ManualClock,
        steps: list[Step],
        riders: list[RiderState],
        *,
        roster: bool,
        end_s: float,
    ) -> None:
        self.svc, self.store, self.clock, self.steps = svc, store, clock, steps
        self._riders, self._roster = riders, roster
        self.end_s = max(end_s, steps[-1][0] if steps else 0.0)
        self.epoch = clock.t

    @classmethod
    def of(cls, model: Model, end_s: float = 0.0) -> Replay:
        """The calls ``model`` logged (run it first), against a service built as it built its
        own. ``end_s``: run the rule timers up to this simulated time after the last call (the
        model's end time: refunds settle after the last call)."""
        s, rep = model.s, model.rec
        rngs = streams(model.seed, model.replication)
        clock = ManualClock(EPOCH_DAY + s.period.start_s)
        city = build_city(s, rngs["city"], rngs["riders"])
        store, svc = open_service(s, clock, city, rngs)
        # registers vendors, customers and riders as the model does (the kitchens' SimPy
        # resources are built and never used)
        world = build_world(s, simpy.Environment(), svc, city, rngs["riders"])
        orders = rep.orders()  # by order index, every placed order
        vendor_of = orders.column("vendor_idx").to_numpy().tolist()
        customer_of = orders.column("customer_idx").to_numpy().tolist()
        params = [json.loads(text) for text in rep.params.texts]
        price = f"{s.customers.item_price:.2f}"
        restaurants, customers = world.restaurants, world.customers
        riders = [r.actor for r in world.riders]
        steps: list[Step] = []
        role_of, ep_of, out_of, params_of = (
            np.concatenate(c) if c else np.empty(0, np.int64) for c in rep.call_codes()
        )
        for t, o, r, role, ep, out, code in zip(
            rep.call_t.values().tolist(),
            rep.call_order.values().tolist(),
            rep.call_rider.values().tolist(),
            role_of.tolist(),
            ep_of.tolist(),
            out_of.tolist(),
            params_of.tolist(),
            strict=True,
        ):
            p = params[code]
            kind = _KIND[ep]
            actor: Actor = SYSTEM_ACTOR
            a: Any = None
            b: Any = None
            if kind == PLACE:
                c, v = customer_of[o], vendor_of[o]
                actor = customers[c]
                items = [
                    {
                        "name": "Meal",
                        "quantity": p["quantity"],
                        "unit_price": p.get("unit_price", price),
                    }
                ]
                a = (world.vendors[v].id, items, world.addresses[c])
                b = p["payment_method"]
            elif kind == PAY:
                a = p["success"]
            elif kind in (CONFIRM, REJECT, START_PREP, READY):
                actor = restaurants[vendor_of[o]]
                a = p.get("estimated_prep_time", p.get("reason"))
            elif kind == CANCEL:
                actor = (
                    customers[customer_of[o]]
                    if role == codes.ROLE_BY_VALUE["customer"]
                    else restaurants[vendor_of[o]]
                )
                a = p["reason"]
            elif kind == GET_OTP:
                a = p["otp_type"]
                actor = restaurants[vendor_of[o]] if a == "pickup" else customers[customer_of[o]]
            elif kind in (PICKUP, COMPLETE):
                actor, a = riders[r], bool(p.get("wrong_otp"))
            elif kind == RESEND:
                actor, a = riders[r], p["otp_type"]
            elif kind == START_DELIVERY:
                actor = riders[r]
            elif kind == AVAILABLE:
                actor, a, b = riders[r], p["available"], r
            elif kind == LOCATE:
                actor, b = riders[r], r
                if p["at"] == "restaurant":
                    v = vendor_of[o]
                    a = (city.vendor_lat[v], city.vendor_lon[v])
                else:
                    c = customer_of[o]
                    a = (city.customer_lat[c], city.customer_lon[c])
            steps.append((t, kind, o, actor, a, b, out))
        roster = s.inputs is not None and s.inputs.roster is not None
        return cls(svc, store, clock, steps, world.riders, roster=roster, end_s=end_s)

    def run(self) -> ReplayResult:
        """Make every call; see the module docstring. Run it once per ``Replay``."""
        svc, store, clock, epoch = self.svc, self.store, self.clock, self.epoch
        # The rule timers' wake-ups, kept as ``ServiceBridge`` keeps its SimPy ones: one is
        # current, at the earliest armed timer; a superseded one stays pending and is reused if
        # its due time becomes the earliest again. Times are computed with the bridge's own
        # arithmetic, so the service reads the same clock at every sweep.
        wakes: list[tuple[float, int, float]] = []  # (simulated time, order scheduled, due)
        scheduled: set[float] = set()
        current = [math.inf]  # the due time the current wake-up serves
        now = [0.0]  # simulated seconds
        order_of = itertools.count()

        def armed(due: float) -> None:
            if due < current[0]:
                if due not in scheduled:
                    at = now[0] + (max(0.0, due - clock.t) + TIMER_SLACK_S)
                    heapq.heappush(wakes, (at, next(order_of), due))
                    scheduled.add(due)
                current[0] = due

        svc.timer_listeners.append(armed)
        ids: list[str] = []
        otp: dict[int, str] = {}
        # where each rider is (they go on duty where they are), and their shifts still to come
        lat = [r.lat for r in self._riders]
        lon = [r.lon for r in self._riders]
        later = [list(r.later) for r in self._riders]
        started = [False] * len(self._riders)
        result = ReplayResult(len(self.steps), 0)
        get, forget = store.get_order, store.forget_order

        def settle(oid: str) -> None:
            order = get(oid)
            if order is None or order.status in ACTIVE:
                return
            refund = order.refund
            if refund is None or refund.status not in OPEN_REFUND:
                forget(oid)

        def sweep(until: float) -> None:
            """Every wake-up due by ``until``, in time order; superseded ones do nothing."""
            while wakes and wakes[0][0] <= until:
                at, _, due = heapq.heappop(wakes)
                scheduled.discard(due)
                if due != current[0]:
                    continue
                current[0] = math.inf
                now[0] = at
                clock.t = epoch + at
                result.timer_sweeps += 1
                for _kind, oid, _outcome in svc.process_due_timers():
                    settle(oid)
                following = store.next_timer_due()
                if following is not None:
                    armed(following)

        outcome = codes.OUTCOME
        ok = outcome["ok"]
        for n, (t, kind, o, actor, a, b, expected) in enumerate(self.steps):
            if wakes and wakes[0][0] <= t:
                sweep(t)
            now[0] = t
            clock.t = epoch + t
            got = ok
            try:
                if kind == PLACE:
                    vendor_id, items, address = a
                    ids.append(
                        svc.place_order_id(
                            actor,
                            vendor_id=vendor_id,
                            items=items,
                            delivery_address=address,
                            payment_method=b,
                        )
                    )
                elif kind == CONFIRM:
                    svc.confirm(actor, ids[o], estimated_prep_time=a)
                elif kind == START_PREP:
                    svc.start_preparing(actor, ids[o])
                elif kind == READY:
                    svc.mark_ready(actor, ids[o])
                elif kind == GET_OTP:
                    otp[o] = svc.get_otp(actor, ids[o], otp_type=a)["otp"]
                elif kind in (PICKUP, COMPLETE):
                    code = otp[o]
                    if a:  # typed one digit off, as the model's riders do
                        code = f"{(int(code) + 1) % 1_000_000:06d}"
                    if kind == PICKUP:
                        svc.pickup(actor, ids[o], otp=code)
                    else:
                        svc.complete_delivery(actor, ids[o], otp=code)
                        settle(ids[o])
                elif kind == START_DELIVERY:
                    svc.start_delivery(actor, ids[o])
                elif kind == LOCATE:
                    lat[b], lon[b] = a
                    svc.update_rider_location(actor, latitude=a[0], longitude=a[1])
                elif kind == PAY:
                    svc.record_payment(actor, ids[o], success=a)
                    settle(ids[o])
                elif kind == CANCEL:
                    svc.cancel(actor, ids[o], reason=a)
                    settle(ids[o])
                elif kind == REJECT:
                    svc.reject(actor, ids[o], reason=a)
                    settle(ids[o])
                elif kind == RESEND:
                    svc.resend_otp(actor, ids[o], otp_type=a)
                elif kind == AVAILABLE:
                    if a:
                        self._on_duty(b, t, lat, lon, later, started)
                    else:
                        svc.set_rider_availability(actor, available=False)
            except OrderflowError as exc:
                got = outcome[exc.code]
            if got != expected:
                result.mismatch_count += 1
                if len(result.mismatches) < 10:
                    ep = codes.ENDPOINT_NAMES[_EP_OF[kind]]
                    result.mismatches.append((n, ep, codes.OUTCOMES[expected], codes.OUTCOMES[got]))
        sweep(self.end_s)
        return result

    def _on_duty(
        self,
        r: int,
        t: float,
        lat: list[float],
        lon: list[float],
        later: list[list[tuple[float, float, float, float]]],
        started: list[bool],
    ) -> None:
        """A rider goes on duty where they are, or where a roster's later shift starts (as
        ``Fleet.shift`` does); a roster's rider says when the shift ends."""
        rider = self._riders[r]
        end = rider.shift_end
        if started[r]:  # a later shift: the first whose end is still ahead
            shifts = later[r]
            while shifts and shifts[0][1] <= t:
                shifts.pop(0)
            start, end, slat, slon = shifts.pop(0)
            if slat == slat and t <= start:
                lat[r], lon[r] = slat, slon
        started[r] = True
        if self._roster:
            self.svc.set_rider_availability(
                rider.actor,
                available=True,
                latitude=lat[r],
                longitude=lon[r],
                until=self.epoch + end,
            )
        else:
            self.svc.set_rider_availability(
                rider.actor, available=True, latitude=lat[r], longitude=lon[r]
            )


_EP_OF = {kind: ep for ep, kind in _KIND.items()}
