"""A schedule drawn from a scenario file when no simulation timeline is given: arrivals from the
scenario's demand curve (non-homogeneous Poisson), and per order the path and step durations its
probabilities and distributions say. The draw is seeded, so every worker of a distributed run
computes the identical schedule and takes its own share of it.

Only what a client can do is planned; what the server decides (auto-cancel timers, rider
assignment) is left to the server: an order whose restaurant never answers is placed and left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from loadtest.identities import Identities
from loadtest.plan import BACKGROUND, PlannedCall, PlannedOrder, classify
from reference_api.geo import Geometry
from scenarios.schema import Scenario
from scenarios.traces import replayed_rows

MIN = 60.0


@dataclass(frozen=True, slots=True)
class Background:
    """The spec's best-practice client traffic, per order and per identity (scenario seconds).
    ``factor`` scales every rate; 0 turns background traffic off."""

    factor: float = 1.0
    customer_poll_s: tuple[float, float] = (10.0, 30.0)
    restaurant_queue_s: float = 30.0
    rider_poll_s: float = 30.0
    ws_share: float = 0.5  # orders whose customer subscribes by WebSocket instead of polling


def arrivals(scenario: Scenario, horizon_s: float, rng: np.random.Generator) -> list[float]:
    """Arrival offsets (s from the period's start): an order log's placements (scaled and
    shifted as the simulation replays them), or thinning against the curve's peak."""
    demand, start = scenario.demand, scenario.period.start_s
    trace = None if scenario.inputs is None else scenario.inputs.orders
    if trace is not None:
        _, times = replayed_rows(
            trace, demand.scale, demand.shift_min, scenario.period.duration_s, rng
        )
        return [t for t in times.tolist() if t < horizon_s]
    peak = max(p.orders_per_hour for p in demand.points()) * demand.scale / 3600.0
    out: list[float] = []
    if peak <= 0:
        return out
    t = 0.0
    while True:
        t += float(rng.exponential(1.0 / peak))
        if t >= horizon_s:
            return out
        if rng.random() * peak <= demand.rate_per_hour(start + t) / 3600.0:
            out.append(t)


def _ride_s(scenario: Scenario, lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The ride the simulation would time (the ETA's geometry: degrees, or a planar city's
    whole minutes)."""
    fleet = scenario.fleet
    if fleet.instant_travel:
        return 0.0
    geometry = Geometry(fleet.speed_kmh, fleet.detour_factor, scenario.city.metres_per_minute or 0)
    return geometry.seconds(lat1, lon1, lat2, lon2)


def order_calls(
    scenario: Scenario,
    rng: np.random.Generator,
    method: str,
    ride_s: float,
) -> list[PlannedCall]:
    """One order's role steps, as the scenario's probabilities and distributions pick them."""
    v, pay, cust, fleet = scenario.vendors, scenario.payment, scenario.customers, scenario.fleet
    calls = [PlannedCall(0.0, "customer", "place_order")]
    t = 0.0
    cancel_at = (
        cust.cancel_after.sample(rng) if rng.random() < cust.cancel_probability else math.inf
    )
    if method == "online":
        if rng.random() < pay.abandon_probability:
            return calls
        t += pay.delay.sample(rng)
        ok = bool(rng.random() >= pay.failure_rate)
        calls.append(PlannedCall(t, "system", "record_payment", {"success": ok}))
        if not ok:
            return calls
    if rng.random() < v.no_response_probability:
        return calls
    t += v.confirm_delay.sample(rng)
    if cancel_at < t:
        calls.append(PlannedCall(cancel_at, "customer", "cancel", {"reason": "Changed my mind"}))
        return calls
    if rng.random() < v.reject_probability:
        calls.append(PlannedCall(t, "restaurant", "reject", {"reason": "Kitchen too busy"}))
        return calls
    prep = max(60.0, v.prep_time.sample(rng))
    calls.append(
        PlannedCall(t, "restaurant", "confirm", {"estimated_prep_time": round(prep / MIN) or 1})
    )
    if cancel_at < t + 0.5 * MIN:
        calls.append(PlannedCall(t + 5.0, "customer", "cancel", {"reason": "Changed my mind"}))
        return calls
    t += 0.5 * MIN
    calls.append(PlannedCall(t, "restaurant", "start_preparing"))
    if rng.random() < v.cancel_probability:
        calls.append(
            PlannedCall(t + prep / 2, "restaurant", "cancel", {"reason": "An item ran out"})
        )
        return calls
    t += prep
    calls.append(PlannedCall(t, "restaurant", "mark_ready"))
    calls.append(PlannedCall(t + 1.0, "restaurant", "get_otp", {"otp_type": "pickup"}))
    t += fleet.pickup_service.sample(rng)
    t = _otp_step(calls, rng, scenario, t, "pickup", "restaurant")
    calls.append(PlannedCall(t, "rider", "pickup"))
    t += 0.5 * MIN
    calls.append(PlannedCall(t, "rider", "start_delivery"))
    t += ride_s
    calls.append(PlannedCall(t, "customer", "get_otp", {"otp_type": "delivery"}))
    t += fleet.dropoff_service.sample(rng)
    t = _otp_step(calls, rng, scenario, t, "delivery", "customer")
    calls.append(PlannedCall(t, "rider", "complete_delivery"))
    return calls


def _otp_step(
    calls: list[PlannedCall],
    rng: np.random.Generator,
    scenario: Scenario,
    t: float,
    kind: str,
    holder: str,
) -> float:
    """A wrong first entry (refused), and perhaps a resend the holder then reads again."""
    fleet = scenario.fleet
    if rng.random() >= fleet.otp_error_probability:
        return t
    op = "pickup" if kind == "pickup" else "complete_delivery"
    calls.append(PlannedCall(t, "rider", op, {"wrong_otp": True}, "otp_invalid"))
    t += 20.0
    if rng.random() < fleet.otp_resend_probability:
        calls.append(PlannedCall(t, "rider", "resend_otp", {"otp_type": kind}))
        calls.append(PlannedCall(t + 5.0, holder, "get_otp", {"otp_type": kind}))
        t += 20.0
    return t


def with_polling(
    calls: list[PlannedCall], bg: Background, rng: np.random.Generator
) -> list[PlannedCall]:
    """A customer without a WebSocket polls status and ETA every 10-30 s while the order runs."""
    if bg.factor <= 0 or len(calls) < 2:
        return calls
    end = calls[-1].offset_s
    lo, hi = bg.customer_poll_s
    polls = []
    t = float(rng.uniform(lo, hi)) / bg.factor
    flip = False
    while t < end:
        polls.append(
            PlannedCall(t, "customer", "eta" if flip else "get_order", {"background": True})
        )
        flip = not flip
        t += float(rng.uniform(lo, hi)) / bg.factor
    return sorted([*calls, *polls], key=lambda c: c.offset_s)


def build_orders(
    scenario: Scenario,
    identities: Identities,
    horizon_s: float,
    bg: Background,
    seed: int,
) -> list[PlannedOrder]:
    rng = np.random.default_rng(seed)
    n_vendors = len(
        {r.vendor_id for r in identities.restaurants} & {v.id for v in identities.vendors}
    )
    orders = []
    for i, at in enumerate(arrivals(scenario, horizon_s, rng)):
        method = "online" if rng.random() < scenario.payment.online_share else "cod"
        vendor_index = int(rng.integers(0, n_vendors))
        customer_index = int(rng.integers(0, len(identities.customers)))
        vendor = identities.vendor(vendor_index)
        _, addr = identities.customer(customer_index)
        ride = _ride_s(scenario, vendor.latitude, vendor.longitude, addr.latitude, addr.longitude)
        calls = order_calls(scenario, rng, method, ride)
        subscribes = bool(rng.random() < bg.ws_share)
        if not subscribes:
            calls = with_polling(calls, bg, rng)
        orders.append(
            PlannedOrder(
                key=f"o{i:06d}",
                index=i,
                arrival_s=at,
                kind=classify(calls, method),
                payment_method=method,
                vendor_index=vendor_index,
                customer_index=customer_index,
                calls=tuple(calls),
                ws=subscribes,
            )
        )
    return orders


def identity_loops(
    bg: Background, horizon_s: float, identities: Identities, first_index: int
) -> list[PlannedOrder]:
    """Per-identity polling the spec's best practices describe: restaurants poll their queue,
    riders poll available orders and report their position every 30 s."""
    if bg.factor <= 0:
        return []
    loops: list[PlannedOrder] = []

    def loop(key: str, role: str, ops: tuple[str, ...], every: float, who: int) -> None:
        step = every / bg.factor
        calls: list[PlannedCall] = []
        t = step * ((len(loops) % 7) / 7.0)  # stagger identities
        while t < horizon_s:
            calls.extend(
                PlannedCall(t, role, op, {"background": True, "identity": who}) for op in ops
            )
            t += step
        if calls:
            loops.append(
                PlannedOrder(
                    key=key,
                    index=first_index + len(loops),
                    arrival_s=0.0,
                    kind=BACKGROUND,
                    payment_method="",
                    vendor_index=who,
                    customer_index=0,
                    calls=tuple(calls),
                )
            )

    for r in range(len(identities.restaurants)):
        loop(f"bg-restaurant-{r}", "restaurant", ("restaurant_queue",), bg.restaurant_queue_s, r)
    for d in range(len(identities.riders)):
        loop(
            f"bg-rider-{d}",
            "rider",
            ("available_orders", "update_rider_location"),
            bg.rider_poll_s,
            d,
        )
    return loops
