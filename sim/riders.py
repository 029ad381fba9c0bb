"""The rider process: one SimPy process per rider for their shift.

On shift, a rider delivers the orders the service assigns them, in order: ride to the
restaurant, wait for the food, take it with the pickup OTP, ride to the customer and hand it
over with the delivery OTP. With nothing to do they sleep on ``RiderState.wake``, which an
assignment (``ServiceBridge.assigned``) or the shift's end succeeds. At the shift's end they go
off duty and take no new orders, but finish what they hold.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, cast

import simpy

from reference_api.errors import OtpExpired, OtpInvalid, Throttled
from reference_api.geo import Geometry, haversine_km
from reference_api.model import Vendor
from reference_api.roles import Actor
from reference_api.service import OrderService
from reference_api.statuses import OrderStatus
from scenarios.schema import Scenario
from sim.calls import OK, R_CUSTOMER, R_RESTAURANT, R_RIDER, Log, RequestCodes
from sim.codes import EP, OUTCOME, RIDER_ARRIVED
from sim.gauges import Gauges
from sim.records import OrderRec, RiderState

Process = Generator[simpy.Event, Any, None]
#: The moves log's append: rider index, departure time, from, to (``RiderState.where`` codes).
Moves = Callable[[int, float, int, int], None]


class Fleet:
    __slots__ = (
        "_customer_lat",
        "_customer_lon",
        "_customers",
        "_env",
        "_flush",
        "_instant",
        "_log",
        "_moves",
        "_p_at",
        "_p_empty",
        "_p_off",
        "_p_on",
        "_p_otp",
        "_p_wrong",
        "_planar_ride",
        "_restaurants",
        "_set_busy",
        "_set_on",
        "_speed_factor",
        "_spend",
        "_split",
        "_svc",
        "_until",
        "_vendors",
    )

    def __init__(
        self,
        s: Scenario,
        env: simpy.Environment,
        svc: OrderService,
        vendors: list[Vendor],
        restaurants: list[Actor],
        customers: list[Actor],
        customer_lat: list[float],
        customer_lon: list[float],
        codes: RequestCodes,
        log: Log,
        flush: Callable[[], None],
        gauges: Gauges,
        epoch: float = 0.0,
        moves: Moves | None = None,
    ) -> None:
        self._env, self._svc = env, svc
        self._vendors, self._restaurants, self._customers = vendors, restaurants, customers
        self._customer_lat, self._customer_lon = customer_lat, customer_lon
        self._log, self._flush = log, flush
        self._set_busy, self._set_on, self._spend = gauges.set_busy, gauges.set_on, gauges.spend
        fl = s.fleet
        self._instant = fl.instant_travel
        #: seconds of riding per km as the crow flies
        self._speed_factor = fl.detour_factor / fl.speed_kmh * 3600.0
        mpm = s.city.metres_per_minute
        self._planar_ride = (
            Geometry(metres_per_minute=mpm).seconds if s.city.planar and mpm is not None else None
        )
        self._split = fl.service_model == "split"
        #: a roster's riders tell the service when their shift ends (epoch seconds), so it
        #: never gives them a pickup they could not make in time; None: drawn shifts do not
        self._until: float | None = (
            epoch if s.inputs is not None and s.inputs.roster is not None else None
        )
        self._moves = moves
        self._p_at, self._p_otp, self._p_wrong = codes.at, codes.otp, codes.wrong_otp
        self._p_on, self._p_off, self._p_empty = codes.on, codes.off, codes.empty

    def _travel(self, r: RiderState, lat: float, lon: float) -> float:
        if self._instant:
            return 0.0
        if self._planar_ride is not None:
            return self._planar_ride(r.lat, r.lon, lat, lon)
        return haversine_km(r.lat, r.lon, lat, lon) * self._speed_factor

    def shift(self, r: RiderState) -> Process:
        """Every shift of the rider in turn: one, unless a roster gives them several, each
        later one starting where the roster says. One generator for all of them: a helper per
        shift would put a generator frame more under every resume of the rider."""
        env = self._env
        while True:
            yield env.timeout(max(0.0, r.shift_start - env.now))
            if r.shift_start < r.shift_end:
                self._on_duty(r)
                while True:
                    if not r.jobs:
                        if r.busy:
                            self._set_busy(r, False)
                        if env.now >= r.shift_end:
                            if r.on:
                                self._set_on(r, False)
                            break
                        r.wake = env.event()
                        yield r.wake
                        continue
                    rec = r.jobs.popleft()
                    if rec.bundle is None and not self._split:
                        yield from self._deliver(r, rec)
                    else:  # the rest of its bundle was assigned in the same instant, behind it
                        recs = [rec]
                        while r.jobs and rec.bundle is not None and r.jobs[0].bundle == rec.bundle:
                            recs.append(r.jobs.popleft())
                        if self._split:
                            yield from self._deliver_split(r, recs)
                        else:
                            yield from self._deliver_bundle(r, recs)
                        del recs
                    # A rider idle for hours (one the dispatch never finds nearest) would keep
                    # its last order's record alive, and with it the block of draws the record
                    # points to (thousands of orders' worth): let go before sleeping.
                    del rec
                    self._flush()
            # the next shift the rider can still work (a delivery may have run past some)
            while r.later and r.later[0][1] <= env.now:
                r.later.pop(0)
            if not r.later:
                return
            start, end, lat, lon = r.later.pop(0)
            r.shift_start, r.shift_end, r.where = start, end, -1
            # a roster's shift starts where it says, unless the rider is late for it (then
            # where they are, as a staffing's always does)
            if lat == lat and env.now <= start:
                r.lat, r.lon = lat, lon

    def _on_duty(self, r: RiderState) -> None:
        """The rider goes on duty where they are; a roster's rider says when the shift ends."""
        env, svc = self._env, self._svc
        if self._until is None:
            svc.set_rider_availability(r.actor, available=True, latitude=r.lat, longitude=r.lon)
        else:
            svc.set_rider_availability(
                r.actor,
                available=True,
                latitude=r.lat,
                longitude=r.lon,
                until=self._until + r.shift_end,
            )
        self._log(-1, r.idx, R_RIDER, EP["set_rider_availability"], OK, self._p_on)
        self._set_on(r, True)
        self._flush()
        env.timeout(r.shift_end - env.now, r).callbacks.append(self._shift_over)

    def _shift_over(self, event: simpy.Event) -> None:
        """Off duty at shift end: no new orders; the current one is still delivered."""
        r = cast(RiderState, event.value)
        self._svc.set_rider_availability(r.actor, available=False)
        self._log(-1, r.idx, R_RIDER, EP["set_rider_availability"], OK, self._p_off)
        if r.wake is not None:
            r.wake.succeed()
            r.wake = None

    def _deliver(self, r: RiderState, rec: OrderRec) -> Process:
        """One order, from accepting it to handing it over; it may end (cancelled, timed out)
        at any wait, and the rider then moves on to the next."""
        env, svc = self._env, self._svc
        idx, oid, actor = rec.idx, rec.oid, r.actor
        if rec.done:
            return
        if rec.no_show:  # never turns up: the pickup timeout will cancel the order
            rec.ends_ev = env.event()
            yield rec.ends_ev
            return
        # The legs are written out here rather than through ``_ride`` and ``_hand_over`` (as the
        # bundle's are): this is the path nearly every order takes, and each helper is a
        # generator frame more per leg.
        spend = self._spend
        vendor = self._vendors[rec.vendor]
        start = env.now
        leg = self._travel(r, vendor.latitude, vendor.longitude)
        yield env.timeout(leg)
        spend("travel", start, start + leg)
        r.lat, r.lon = vendor.latitude, vendor.longitude
        if rec.done:
            return
        svc.update_rider_location(actor, latitude=r.lat, longitude=r.lon)
        self._log(idx, r.idx, R_RIDER, EP["update_rider_location"], OK, self._p_at["restaurant"])
        rec.ts[RIDER_ARRIVED] = start = env.now
        if rec.status is not OrderStatus.READY_FOR_PICKUP:
            rec.ready_ev = env.event()
            yield rec.ready_ev
            spend("wait", start, env.now)
            if rec.done:
                return
            start = env.now
        yield env.timeout(rec.pickup_s)
        spend("handover", start, start + rec.pickup_s)
        if rec.done:
            return
        self._otp_handover(r, rec, "pickup")
        svc.start_delivery(actor, oid)
        self._log(idx, r.idx, R_RIDER, EP["start_delivery"], OK, self._p_empty)
        lat, lon = self._customer_lat[rec.customer], self._customer_lon[rec.customer]
        start = env.now
        leg = self._travel(r, lat, lon)
        yield env.timeout(leg)
        spend("travel", start, start + leg)
        r.lat, r.lon = lat, lon
        svc.update_rider_location(actor, latitude=lat, longitude=lon)
        self._log(idx, r.idx, R_RIDER, EP["update_rider_location"], OK, self._p_at["customer"])
        yield env.timeout(rec.dropoff_s)
        spend("handover", start + leg, start + leg + rec.dropoff_s)
        self._otp_handover(r, rec, "delivery")

    def _ride(self, r: RiderState, lat: float, lon: float) -> Process:
        start = self._env.now
        yield self._env.timeout(self._travel(r, lat, lon))
        self._spend("travel", start, self._env.now)
        r.lat, r.lon = lat, lon

    def _hand_over(self, seconds: float) -> Process:
        start = self._env.now
        yield self._env.timeout(seconds)
        self._spend("handover", start, self._env.now)

    def _drop_off(self, r: RiderState, rec: OrderRec) -> Process:
        """Ride to the customer and hand the order over with its delivery OTP."""
        lat, lon = self._customer_lat[rec.customer], self._customer_lon[rec.customer]
        yield from self._ride(r, lat, lon)
        self._svc.update_rider_location(r.actor, latitude=lat, longitude=lon)
        self._log(rec.idx, r.idx, R_RIDER, EP["update_rider_location"], OK, self._p_at["customer"])
        yield from self._hand_over(rec.dropoff_s)
        self._otp_handover(r, rec, "delivery")

    def _at_restaurant(
        self, r: RiderState, recs: list[OrderRec]
    ) -> Generator[simpy.Event, Any, list[OrderRec]]:
        """Ride to the restaurant of ``recs`` and report arriving; the orders still live then
        (none: every one ended on the way, or the rider is a no-show, who waits for the pickup
        timeout to end them all)."""
        env = self._env
        live = [rec for rec in recs if not rec.done]
        if not live:
            return []
        if any(rec.no_show for rec in live):
            for rec in live:
                if not rec.done:
                    rec.ends_ev = env.event()
                    yield rec.ends_ev
            return []
        v = live[0].vendor
        vendor = self._vendors[v]
        self._move(r, v)
        yield from self._ride(r, vendor.latitude, vendor.longitude)
        live = [rec for rec in live if not rec.done]
        if not live:
            return []
        self._svc.update_rider_location(r.actor, latitude=r.lat, longitude=r.lon)
        self._log(
            live[0].idx, r.idx, R_RIDER, EP["update_rider_location"], OK, self._p_at["restaurant"]
        )
        arrived = env.now
        for rec in live:
            rec.ts[RIDER_ARRIVED] = arrived
        return live

    def _deliver_bundle(self, r: RiderState, recs: list[OrderRec]) -> Process:
        """Several orders of one restaurant (D25): one ride there; each order picked up with its
        own code as soon as its food is ready (whichever is ready first); then each taken out
        and delivered in the sequence the service assigned. An order of the bundle may end
        (cancelled, timed out) at any wait; the others go on. A no-show rider abandons the whole
        bundle."""
        svc, actor = self._svc, r.actor
        live = yield from self._at_restaurant(r, recs)
        if not live:
            return
        carried: list[OrderRec] = []
        pending = live
        while True:
            pending = [p for p in pending if not p.done]
            if not pending:
                break
            first = next((p for p in pending if p.status is OrderStatus.READY_FOR_PICKUP), None)
            if first is None:  # nothing ready yet: wait for whichever food comes first
                yield from self._first_food(pending)
                continue
            pending.remove(first)
            yield from self._hand_over(first.pickup_s)
            if first.done:
                continue
            self._otp_handover(r, first, "pickup")
            carried.append(first)
        carried.sort(key=recs.index)  # delivered in the sequence the service assigned
        for rec in carried:
            svc.start_delivery(actor, rec.oid)
            self._log(rec.idx, r.idx, R_RIDER, EP["start_delivery"], OK, self._p_empty)
        for rec in carried:
            yield from self._drop_off(r, rec)

    def _first_food(self, pending: list[OrderRec]) -> Process:
        """Wait at the counter until the food of one of ``pending`` is ready (or one ends)."""
        env = self._env
        waited = env.now
        for p in pending:
            if p.ready_ev is None:
                p.ready_ev = env.event()
        yield env.any_of([p.ready_ev for p in pending if p.ready_ev is not None])
        self._spend("wait", waited, env.now)

    def _move(self, r: RiderState, to: int) -> None:
        """Log a departure (the moves log: only kept for an MDRP solution)."""
        if self._moves is not None:
            self._moves(r.idx, self._env._now, r.where, to)
        r.where = to

    def _deliver_split(self, r: RiderState, recs: list[OrderRec]) -> Process:
        """The MDRP's service model, for one order or a bundle: ride to the restaurant, walk in
        (half the pickup service), wait until all the food is ready, take every order with its
        code at that moment, walk back (the other half), then for each customer in sequence:
        ride, walk up (half the drop-off service), hand over with the code, walk back. The
        rider is free for the service at the hand-over but sets off only after the walk."""
        svc, actor = self._svc, r.actor
        live = yield from self._at_restaurant(r, recs)
        if not live:
            return
        half = live[0].pickup_s / 2
        yield from self._hand_over(half)
        while True:
            live = [p for p in live if not p.done]
            pending = [p for p in live if p.status is not OrderStatus.READY_FOR_PICKUP]
            if not pending:
                break
            yield from self._first_food(pending)
        if not live:
            return
        for rec in live:
            self._otp_handover(r, rec, "pickup")
        yield from self._hand_over(half)
        for rec in live:
            svc.start_delivery(actor, rec.oid)
            self._log(rec.idx, r.idx, R_RIDER, EP["start_delivery"], OK, self._p_empty)
        for rec in live:
            lat, lon = self._customer_lat[rec.customer], self._customer_lon[rec.customer]
            self._move(r, -2 - rec.idx)
            yield from self._ride(r, lat, lon)
            svc.update_rider_location(actor, latitude=lat, longitude=lon)
            self._log(
                rec.idx, r.idx, R_RIDER, EP["update_rider_location"], OK, self._p_at["customer"]
            )
            yield from self._hand_over(rec.dropoff_s / 2)
            self._otp_handover(r, rec, "delivery")
            yield from self._hand_over(rec.dropoff_s / 2)

    def _otp_handover(self, r: RiderState, rec: OrderRec, kind: str) -> None:
        """The code holder reads the OTP (restaurant: pickup, customer: delivery) and the rider
        types it; a wrong first entry is refused, sometimes followed by a resend request; an
        expired code (rider late) is resent and read again."""
        svc, idx, oid = self._svc, rec.idx, rec.oid
        holder, holder_role = (
            (self._restaurants[rec.vendor], R_RESTAURANT)
            if kind == "pickup"
            else (self._customers[rec.customer], R_CUSTOMER)
        )
        act = svc.pickup if kind == "pickup" else svc.complete_delivery
        ep_act = EP["pickup"] if kind == "pickup" else EP["complete_delivery"]
        p_otp = self._p_otp[kind]
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
                self._log(idx, r.idx, R_RIDER, ep_act, OUTCOME["otp_invalid"], self._p_wrong)
                typo = False
                if not rec.otp_resend:
                    continue
                try:
                    svc.resend_otp(r.actor, oid, otp_type=kind)
                except Throttled:  # asked too soon after the last code: keep the current one
                    self._log(idx, r.idx, R_RIDER, EP["resend_otp"], OUTCOME["throttled"], p_otp)
                    continue
            except OtpExpired:  # the rider came late: ask for a new code
                out, params = OUTCOME["otp_expired"], self._p_wrong if typo else self._p_empty
                self._log(idx, r.idx, R_RIDER, ep_act, out, params)
                svc.resend_otp(r.actor, oid, otp_type=kind)
            else:
                self._log(idx, r.idx, R_RIDER, ep_act, OK, self._p_empty)
                return
            self._log(idx, r.idx, R_RIDER, EP["resend_otp"], OK, p_otp)
            code = svc.get_otp(holder, oid, otp_type=kind)["otp"]
            self._log(idx, -1, holder_role, EP["get_otp"], OK, p_otp)
