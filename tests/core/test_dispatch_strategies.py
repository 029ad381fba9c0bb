"""The timed dispatch strategies (``just_in_time``, ``rolling_horizon``) against independent
references, their options (``DispatchSpec``), and a bundle's life in the service (D25).

References here recompute everything from the documented rules: the nearest rider by brute force
(same metric and tie-break as ``GridIndex``), ride seconds with ``RideTime``, and the round's
assignment by enumerating every partial assignment."""

from __future__ import annotations

import itertools
import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from reference_api import bootstrap
from reference_api.clock import ManualClock
from reference_api.dispatch import (
    POLICIES,
    Assignment,
    AtConfirm,
    DispatchSpec,
    DispatchSpecError,
    JustInTime,
    RideTime,
)
from reference_api.dispatch.options import OPTIONS
from reference_api.dispatch.rolling_horizon import UNASSIGNED_S, Bundle, RollingHorizon
from reference_api.events import ASSIGNED, DomainEvent
from reference_api.fixtures import build_fixtures, seed
from reference_api.geo import haversine_km
from reference_api.model import Address, Order
from reference_api.policy import Policy
from reference_api.roles import SYSTEM_ACTOR
from reference_api.states import PaymentMethod, PaymentStatus
from reference_api.statuses import DELIVERY_PARTNER_ASSIGNED, OrderStatus

S = OrderStatus
REF_LAT = 19.07
COSLAT = math.cos(math.radians(REF_LAT))
Point = tuple[float, float]

#: a small city (about 16 x 16 km), so rides and ready times are of the same order
points = st.tuples(st.floats(19.0, 19.15, allow_nan=False), st.floats(72.8, 72.95, allow_nan=False))
rides = st.builds(RideTime, st.floats(5.0, 40.0), st.floats(1.0, 2.0))


def _order(
    order_id: str,
    restaurant: Point = (19.07, 72.87),
    customer: Point | None = None,
    *,
    vendor: str = "v",
    ready: float | None = None,
    ready_at: float | None = None,
) -> Order:
    """A confirmed order; only what a strategy reads (ids, places, ready times) matters."""
    to = customer if customer is not None else (restaurant[0] + 0.01, restaurant[1])
    return Order(
        id=order_id,
        order_number=order_id,
        customer_id="c",
        customer_name="C",
        vendor_id=vendor,
        vendor_name=vendor,
        status=S.ORDER_CONFIRMED if ready_at is None else S.READY_FOR_PICKUP,
        items=[],
        address=Address("Home", "1 Main St", to[0], to[1]),
        restaurant_lat=restaurant[0],
        restaurant_lon=restaurant[1],
        subtotal=Decimal(0),
        delivery_fee=Decimal(0),
        tax_amount=Decimal(0),
        total_amount=Decimal(0),
        payment_method=PaymentMethod.COD,
        payment_status=PaymentStatus.PENDING,
        placed_at=0.0,
        estimated_delivery_time=0.0,
        estimated_ready_time=ready,
        ready_at=ready_at,
    )


def _d2(a: Point, b: Point) -> float:
    return (a[1] * COSLAT - b[1] * COSLAT) ** 2 + (a[0] - b[0]) ** 2


def _nearest(riders: dict[str, Point], at: Point) -> str:
    """Brute force, ``GridIndex``'s metric and tie-break (smallest id)."""
    return min(riders, key=lambda k: (_d2(riders[k], at), k))


def _riders(pts: list[Point]) -> dict[str, Point]:
    return {f"r{i:02d}": p for i, p in enumerate(pts)}


# ====================================================================== just_in_time
def _offer(ride: RideTime, slack: float, ready: float, rider: Point, restaurant: Point) -> float:
    """The documented offer time: ready - slack - ride(rider -> restaurant)."""
    return ready - slack - ride.seconds(rider[0], rider[1], restaurant[0], restaurant[1])


@settings(max_examples=200, deadline=None)
@given(
    pts=st.lists(points, min_size=1, max_size=10),
    restaurant=points,
    now=st.floats(0.0, 7200.0),
    ready_in=st.floats(-600.0, 3600.0),  # negative: the estimate has passed (ready now)
    slack=st.floats(0.0, 600.0),
    ride=rides,
)
def test_just_in_time_offers_the_nearest_rider_at_the_offer_time(
    pts: list[Point], restaurant: Point, now: float, ready_in: float, slack: float, ride: RideTime
) -> None:
    riders = _riders(pts)
    estimate = now + ready_in
    ready = max(estimate, now)  # ready_estimate: never earlier than now
    nearest = _nearest(riders, restaurant)
    offer = _offer(ride, slack, ready, riders[nearest], restaurant)
    assume(abs(offer - now) > 1e-6)  # not on the boundary, where rounding decides
    jit = JustInTime(ride, slack_s=slack, ref_lat=REF_LAT)
    for rider_id, (lat, lon) in riders.items():
        jit.rider_available(rider_id, lat, lon)
    got = jit.order_waiting(_order("o1", restaurant, ready=estimate), now)
    if offer <= now:  # due now, or can no longer be reached in time: at once
        assert got == nearest
        assert jit.waiting_count() == 0 and jit.due() is None
        return
    assert got is None and jit.waiting_count() == 1
    due = jit.due()
    assert due == pytest.approx(offer, abs=1e-6)
    assert due is not None
    assert jit.decide(now) == []  # not yet: nothing changes
    assert jit.due() == due
    assert jit.decide(due) == [Assignment(nearest, ("o1",))]
    assert jit.waiting_count() == 0 and jit.due() is None
    # the rider it took is no longer offered
    assert jit.order_waiting(_order("o2", riders[nearest], ready_at=due), due) != nearest


def test_just_in_time_order_out_of_reach_goes_at_once() -> None:
    ride = RideTime(20.0, 1.3)
    jit = JustInTime(ride, slack_s=120.0)
    jit.rider_available("far", 19.11, 72.87)  # about 4.4 km: some 17 minutes away
    jit.rider_available("farther", 19.2, 72.87)
    assert jit.order_waiting(_order("o1", (19.07, 72.87), ready=1_000.0 + 300), 1_000.0) == "far"
    assert jit.waiting_count() == 0 and jit.due() is None


def test_just_in_time_replans_when_a_nearer_rider_frees_up() -> None:
    ride = RideTime(20.0, 1.3)
    rest = (19.07, 72.87)
    far, near = (19.10, 72.87), (19.075, 72.87)
    jit = JustInTime(ride, slack_s=120.0)
    jit.rider_available("far", *far)
    assert jit.order_waiting(_order("o1", rest, ready=3_600.0), 0.0) is None
    first = jit.due()
    assert first == pytest.approx(_offer(ride, 120.0, 3_600.0, far, rest))
    jit.rider_available("near", *near)  # nearer: can leave later
    assert first is not None and jit.decide(first) == []
    later = jit.due()
    assert later == pytest.approx(_offer(ride, 120.0, 3_600.0, near, rest))
    assert later is not None and later > first
    assert jit.decide(later) == [Assignment("near", ("o1",))]


def test_just_in_time_planned_rider_taken_meanwhile_stalls_the_order() -> None:
    ride = RideTime(20.0, 1.3)
    jit = JustInTime(ride, slack_s=120.0)
    jit.rider_available("r", 19.10, 72.87)
    assert jit.order_waiting(_order("o1", ready=3_600.0), 0.0) is None
    due = jit.due()
    assert due is not None
    jit.rider_unavailable("r")  # taken by something else
    assert jit.decide(due) == []
    assert jit.due() is None and jit.waiting_count() == 1  # stalled: a freed rider takes it
    assert jit.order_for("r2", 19.07, 72.87, 3_600.0) == ("o1",)


@settings(max_examples=200, deadline=None)
@given(
    restaurant=points,
    rider=points,
    now=st.floats(0.0, 7200.0),
    ready_in=st.floats(0.0, 3600.0),
    freed_after=st.floats(0.0, 3600.0),
    slack=st.floats(0.0, 600.0),
    ride=rides,
)
def test_just_in_time_stalled_order_goes_to_a_freed_rider_when_its_time_has_come(
    restaurant: Point,
    rider: Point,
    now: float,
    ready_in: float,
    freed_after: float,
    slack: float,
    ride: RideTime,
) -> None:
    """No rider free when the order comes: it waits with no time. A rider who frees up takes it
    if its offer time with that rider has come, else it is planned for that time."""
    ready = now + ready_in
    freed = now + freed_after
    offer = _offer(ride, slack, ready, rider, restaurant)
    assume(abs(offer - freed) > 1e-6)
    # a longitude the grid does not store exactly re-plans the offer an instant later: see
    # test_just_in_time_plan_from_a_freed_rider_is_kept_at_its_time
    jit = JustInTime(ride, slack_s=slack, ref_lat=REF_LAT)
    assert jit.order_waiting(_order("o1", restaurant, ready=ready), now) is None
    assert jit.due() is None and jit.waiting_count() == 1
    got = jit.order_for("r", rider[0], rider[1], freed)
    if offer <= freed:
        assert got == ("o1",)
        assert jit.waiting_count() == 0 and jit.due() is None
        return
    assert got == () and jit.waiting_count() == 1
    due = jit.due()
    assert due == pytest.approx(offer, abs=1e-6)
    # The service then lists the rider as available; the plan gives them the order on time.
    jit.rider_available("r", rider[0], rider[1])
    assert due is not None and jit.decide(due) == [Assignment("r", ("o1",))]
    assert jit.waiting_count() == 0


def test_just_in_time_plan_from_a_freed_rider_is_kept_at_its_time() -> None:
    """order_for plans with the rider's reported longitude and decide() recomputes from the
    grid: the grid keeps positions as given (a lon * coslat / coslat round trip can differ by
    an ulp, which made the offer 7e-11 s late and planned it again)."""
    rider = (19.08, 72.8722)  # 72.8722 * cos(19.07 deg) / cos(19.07 deg) != 72.8722
    assert rider[1] * COSLAT / COSLAT != rider[1]
    jit = JustInTime(RideTime(), slack_s=120.0, ref_lat=REF_LAT)
    jit.order_waiting(_order("o1", (19.07, 72.87), ready=3_600.0), 0.0)
    assert jit.order_for("r", *rider, 0.0) == ()  # stalled; planned with this rider's ride
    jit.rider_available("r", *rider)  # what the service does next
    due = jit.due()
    assert due is not None and jit.decide(due) == [Assignment("r", ("o1",))]


def test_just_in_time_freed_rider_takes_the_first_due_and_plans_the_others() -> None:
    ride = RideTime(20.0, 1.3)
    rider = (19.07, 72.87)
    jit = JustInTime(ride, slack_s=120.0)
    # most urgent, but right next to the rider: not due before 600 - 120 - ~0
    assert jit.order_waiting(_order("urgent", rider, ready=600.0), 0.0) is None
    # later, but 4.4 km away: due long ago for this rider
    assert jit.order_waiting(_order("far", (19.11, 72.87), ready=700.0), 0.0) is None
    assert jit.order_for("r", *rider, 0.0) == ("far",)
    assert jit.waiting_count() == 1
    assert jit.due() == pytest.approx(_offer(ride, 120.0, 600.0, rider, rider))
    # a planned order is left to its plan: another freed rider does not take it early
    assert jit.order_for("r2", *rider, 1.0) == ()


def test_just_in_time_planned_order_is_left_to_its_nearest_rider() -> None:
    """A far rider freeing up does not take an order planned for a nearer one, even though for
    the far rider its time has come: the plan gives it to the nearest rider on time."""
    ride = RideTime(20.0, 1.3)
    rest = (19.07, 72.87)
    jit = JustInTime(ride, slack_s=120.0)
    jit.rider_available("near", *rest)
    assert jit.order_waiting(_order("o1", rest, ready=3_600.0), 0.0) is None
    assert jit.due() == pytest.approx(3_480.0)
    far = (19.11, 72.87)  # 17 minutes away: for them the offer was due at about 2440
    assert _offer(ride, 120.0, 3_600.0, far, rest) < 3_000.0
    assert jit.order_for("far", *far, 3_000.0) == ()
    jit.rider_available("far", *far)
    assert jit.decide(3_480.0) == [Assignment("near", ("o1",))]


# ====================================================================== rolling_horizon: match
def _pair_cost(bundle: Bundle, rider: Point, now: float, ride: RideTime) -> tuple[float, float]:
    """``(cost, ride seconds)`` of giving ``bundle`` to a rider at ``rider``, per ``match()``:

    cost = ride + max(0, last ready - arrival)        # the rider's time until pickup
         + sum over orders of max(0, arrival - ready)  # each order's food waiting for them
         + 1                                           # (the sparse solver reads 0 as no edge)

    with arrival = now + ride and ride = RideTime seconds from the rider to the restaurant."""
    travel = ride.seconds(rider[0], rider[1], bundle.lat, bundle.lon)
    arrival = now + travel
    rider_wait = max(0.0, max(bundle.readies) - arrival)
    food_wait = sum(max(0.0, arrival - r) for r in bundle.readies)
    return travel + rider_wait + food_wait + 1.0, travel


def _best_total(costs: list[list[float]], n_riders: int) -> float:
    """The minimum over every partial injective assignment of bundles to riders, a bundle left
    out costing ``UNASSIGNED_S``."""
    best = math.inf
    choices = [*range(n_riders), None]
    for pick in itertools.product(choices, repeat=len(costs)):
        used = [k for k in pick if k is not None]
        if len(used) != len(set(used)):
            continue
        total = sum(UNASSIGNED_S if k is None else costs[b][k] for b, k in enumerate(pick))
        best = min(best, total)
    return best


@st.composite
def _bundle(draw: st.DrawFn) -> Bundle:
    lat, lon = draw(points)
    b = Bundle(lat, lon)
    readies = draw(st.lists(st.floats(-900.0, 2400.0), min_size=1, max_size=3))
    b.readies = readies
    b.order_ids = [f"o{i}" for i in range(len(readies))]
    return b


@settings(max_examples=200, deadline=None)
@given(
    bundles=st.lists(_bundle(), min_size=1, max_size=4),
    pts=st.lists(points, min_size=1, max_size=4),
    ride=rides,
    now=st.floats(0.0, 3600.0),
)
def test_rolling_horizon_match_is_the_minimum_cost_assignment(
    bundles: list[Bundle], pts: list[Point], ride: RideTime, now: float
) -> None:
    rh = RollingHorizon(ride, candidates=8, ref_lat=REF_LAT)  # 8 >= riders: every pair costed
    riders = [(f"r{i}", lat, lon) for i, (lat, lon) in enumerate(pts)]
    costs = [[_pair_cost(b, (r[1], r[2]), now, ride)[0] for r in riders] for b in bundles]
    got = rh.match(bundles, riders, now)
    assert rh.work.pairs_costed == len(bundles) * len(riders)
    assert len({b for b, _, _ in got}) == len(got) and len({k for _, k, _ in got}) == len(got)
    assert len(got) == min(len(bundles), len(riders))  # as many assigned as can be
    for b, k, travel in got:
        want = ride.seconds(riders[k][1], riders[k][2], bundles[b].lat, bundles[b].lon)
        assert travel == pytest.approx(want, rel=1e-9, abs=1e-9)
    total = sum(costs[b][k] for b, k, _ in got) + UNASSIGNED_S * (len(bundles) - len(got))
    assert total == pytest.approx(_best_total(costs, len(riders)), rel=1e-12, abs=1e-6)


def test_rolling_horizon_match_costs_only_the_nearest_candidates() -> None:
    """Two bundles whose nearest rider is the same one: with one candidate each, one of them
    is left for the next round even though another rider is free; with two, both go."""
    ride = RideTime()
    bundles = []
    for lat in (19.07, 19.071):
        b = Bundle(lat, 72.87)
        b.order_ids, b.readies = [f"o{lat}"], [0.0]
        bundles.append(b)
    riders = [("near", 19.0705, 72.87), ("far", 19.2, 72.87)]
    one = RollingHorizon(ride, candidates=1).match(bundles, riders, 0.0)
    assert [k for _, k, _ in one] == [0]
    two = RollingHorizon(ride, candidates=2)
    assert sorted(k for _, k, _ in two.match(bundles, riders, 0.0)) == [0, 1]
    assert two.work.pairs_costed == 4


# ====================================================================== rolling_horizon: bundles
VENDORS = {"v0": (19.07, 72.87), "v1": (19.09, 72.85), "v2": (19.05, 72.9)}


@st.composite
def _waiting_orders(draw: st.DrawFn) -> list[Order]:
    n = draw(st.integers(1, 10))
    out = []
    for i in range(n):
        vendor = draw(st.sampled_from(sorted(VENDORS)))
        rest = VENDORS[vendor]
        dlat = draw(st.floats(-0.02, 0.02))
        dlon = draw(st.floats(-0.02, 0.02))
        ready = draw(st.floats(0.0, 1500.0))
        customer = (rest[0] + dlat, rest[1] + dlon)
        out.append(_order(f"o{i}", rest, customer, vendor=vendor, ready=ready))
    return out


def _to(order: Order) -> Point:
    return order.address.latitude, order.address.longitude


@settings(max_examples=200, deadline=None)
@given(
    orders=_waiting_orders(),
    free=st.integers(1, 4),
    max_bundle=st.integers(1, 4),
    window=st.sampled_from([0.0, 120.0, 300.0, 900.0]),
    stack_km=st.sampled_from([0.0, 0.5, 1.5, 5.0]),
)
def test_rolling_horizon_bundles_follow_the_rules(
    orders: list[Order], free: int, max_bundle: int, window: float, stack_km: float
) -> None:
    interval, horizon = 300.0, 600.0
    rh = RollingHorizon(
        RideTime(),
        interval_s=interval,
        horizon_s=horizon,
        max_bundle=max_bundle,
        bundle_window_s=window,
        stack_km=stack_km,
    )
    for order in orders:
        assert rh.order_waiting(order, 0.0) is None  # no rider: all wait
    by_id = {o.id: o for o in orders}
    seq = {o.id: i for i, o in enumerate(orders)}
    ready = {o.id: o.estimated_ready_time or 0.0 for o in orders}
    bundles = rh.bundles(0.0, free)

    placed = [oid for b in bundles for oid in b.order_ids]
    assert len(placed) == len(set(placed))
    assert set(placed) == {oid for oid, r in ready.items() if r <= horizon}  # within horizon
    urgent = sum(r <= interval for r in ready.values() if r <= horizon)
    target = min(max_bundle, max(1, math.ceil(urgent / free)))
    for b in bundles:
        members = [by_id[oid] for oid in b.order_ids]
        assert len({o.vendor_id for o in members}) == 1  # one restaurant
        assert (b.lat, b.lon) == (members[0].restaurant_lat, members[0].restaurant_lon)
        assert b.readies == [ready[o.id] for o in members]
        assert len(members) <= max_bundle
        by_ready = sorted(members, key=lambda o: (ready[o.id], seq[o.id]))
        first = by_ready[0]
        assert all(ready[o.id] - ready[first.id] <= window for o in members)
        for extra in by_ready[target:]:  # beyond the target: only on the way
            assert haversine_km(*_to(first), *_to(extra)) <= stack_km
        # delivered nearest customer first (ties: the earlier order)
        keys = [
            (haversine_km(o.restaurant_lat, o.restaurant_lon, *_to(o)), seq[o.id]) for o in members
        ]
        assert keys == sorted(keys)


def _rh_with(orders: list[Order], **options: Any) -> RollingHorizon:
    rh = RollingHorizon(RideTime(), **options)
    for order in orders:
        rh.order_waiting(order, 0.0)
    return rh


def _spread(n: int, vendor: str = "v", ready: float = 100.0) -> list[Order]:
    """``n`` orders of one restaurant whose customers are 0.03 degrees (3.3 km) apart."""
    rest = (19.07, 72.87)
    return [
        _order(
            f"{vendor}{i}", rest, (rest[0] + 0.03 * (i + 1), rest[1]), vendor=vendor, ready=ready
        )
        for i in range(n)
    ]


def test_bundle_target_comes_from_urgent_orders_per_free_rider() -> None:
    orders = _spread(4)  # customers far apart: no stacking beyond the target
    rh = _rh_with(orders, max_bundle=3)
    assert [len(b.order_ids) for b in rh.bundles(0.0, 2)] == [2, 2]  # 4 urgent / 2 riders
    assert [len(b.order_ids) for b in rh.bundles(0.0, 4)] == [1, 1, 1, 1]
    assert [len(b.order_ids) for b in rh.bundles(0.0, 1)] == [3, 1]  # capped at max_bundle
    # orders not urgent (ready after the next round) do not raise the target
    later = _rh_with([*_spread(2), *_spread(2, vendor="w", ready=500.0)], max_bundle=3)
    assert sorted(len(b.order_ids) for b in later.bundles(0.0, 2)) == [1, 1, 1, 1]


def test_bundle_stacks_beyond_the_target_only_when_on_the_way() -> None:
    rest = (19.07, 72.87)
    close = [
        _order("a", rest, (19.08, 72.87), ready=100.0),
        _order("b", rest, (19.085, 72.87), ready=150.0),  # 0.56 km from a's customer
        _order("c", rest, (19.12, 72.87), ready=160.0),  # 4.4 km from a's customer
    ]
    rh = _rh_with(close, max_bundle=3, stack_km=1.0)
    assert [b.order_ids for b in rh.bundles(0.0, 10)] == [["a", "b"], ["c"]]
    assert [b.order_ids for b in _rh_with(close, max_bundle=3, stack_km=0.1).bundles(0.0, 10)] == [
        ["a"],
        ["b"],
        ["c"],
    ]


def test_bundle_needs_one_vendor_the_window_and_the_horizon() -> None:
    rest = (19.07, 72.87)
    orders = [
        _order("a", rest, (19.08, 72.87), vendor="v", ready=100.0),
        _order("b", rest, (19.08, 72.87), vendor="w", ready=100.0),  # same place, other vendor
        _order("c", rest, (19.08, 72.87), vendor="v", ready=500.0),  # 400 s after a
        _order("d", rest, (19.08, 72.87), vendor="v", ready=700.0),  # beyond the horizon
    ]
    rh = _rh_with(orders, max_bundle=4, bundle_window_s=300.0, horizon_s=600.0, stack_km=5.0)
    assert sorted(b.order_ids for b in rh.bundles(0.0, 1)) == [["a"], ["b"], ["c"]]
    wide = _rh_with(orders, max_bundle=4, bundle_window_s=600.0, horizon_s=600.0, stack_km=5.0)
    assert sorted(b.order_ids for b in wide.bundles(0.0, 1)) == [["a", "c"], ["b"]]


def test_bundle_is_delivered_nearest_customer_first() -> None:
    rest = (19.07, 72.87)
    orders = [
        _order("far", rest, (19.08, 72.87), ready=100.0),  # first, but 1.1 km away
        _order("near", rest, (19.075, 72.87), ready=120.0),  # 0.56 km
    ]
    (bundle,) = _rh_with(orders, stack_km=5.0).bundles(0.0, 1)
    assert bundle.order_ids == ["near", "far"] and bundle.readies == [120.0, 100.0]


# ====================================================================== rolling_horizon: rounds
def test_rounds_fall_on_multiples_of_the_interval() -> None:
    rh = RollingHorizon(RideTime(), interval_s=300.0)
    assert rh.due() is None
    rh.order_waiting(_order("o1", ready=5_000.0), 123.0)
    assert rh.due() == 300.0
    rh.order_waiting(_order("o2", ready=5_000.0), 250.0)
    assert rh.due() == 300.0  # one round for both
    assert rh.decide(300.0) == []  # no rider free
    assert rh.due() == 600.0  # the next round strictly after
    assert rh.decide(640.0) == [] and rh.due() == 900.0  # a late round keeps the grid
    rh.order_gone("o1")
    rh.order_gone("o2")
    assert rh.decide(900.0) == [] and rh.due() is None  # nothing waits: no more rounds
    odd = RollingHorizon(RideTime(), interval_s=90.0)
    odd.order_waiting(_order("o1", ready=5_000.0), 1_000.0)
    assert odd.due() == 1_080.0


@pytest.mark.parametrize(
    ("ready", "committed_at"),
    [
        (650.0, 300.0),  # departs at 416, 116 s after the round at 300: now
        (800.0, 600.0),  # departs at 566: 266 s after 300, nearer the round at 600
        (1_000.0, 900.0),  # departs at 766: 466 s after 300, 166 s after 600
    ],
)
def test_round_commits_a_pair_only_within_half_an_interval_of_its_departure(
    ready: float, committed_at: float
) -> None:
    """The ideal departure is the first order's ready time less the ride (234 s here). A round
    commits the pair only if that is at most half an interval (150 s) after it; otherwise the
    order stays waiting and the rider stays free for the next round."""
    ride = RideTime(20.0, 1.3)
    rest = (19.07, 72.87)
    rider = (19.07 + 1.0 / 111.195, 72.87)  # 1 km north
    assert ride.seconds(*rider, *rest) == pytest.approx(234.0, abs=0.1)
    rh = RollingHorizon(ride, interval_s=300.0, horizon_s=1_200.0)
    rh.rider_available("r", *rider)
    assert rh.order_waiting(_order("o1", rest, ready=ready), 0.0) is None
    assert rh.due() == 300.0
    for round_at in (300.0, 600.0, 900.0):
        if round_at < committed_at:
            assert rh.decide(round_at) == []
            assert rh.waiting_count() == 1 and rh.due() == round_at + 300.0
    assert rh.decide(committed_at) == [Assignment("r", ("o1",))]
    assert rh.waiting_count() == 0 and rh.due() is None
    # the committed rider is taken: a ready order finds nobody free now
    assert rh.order_waiting(_order("o2", rest, ready_at=committed_at), committed_at) is None


def test_round_gives_a_bundle_to_one_rider_in_delivery_order() -> None:
    rest = (19.07, 72.87)
    rh = RollingHorizon(RideTime(), stack_km=1.0)
    rh.rider_available("r1", 19.08, 72.87)
    rh.rider_available("r2", 19.2, 72.87)
    rh.order_waiting(_order("a", rest, (19.08, 72.87), ready=200.0), 0.0)
    rh.order_waiting(_order("b", rest, (19.075, 72.87), ready=250.0), 10.0)
    assert rh.decide(300.0) == [Assignment("r1", ("b", "a"))]
    assert rh.waiting_count() == 0 and rh.due() is None


def test_between_rounds_a_freed_rider_takes_only_cooked_food() -> None:
    rest = (19.07, 72.87)
    rh = RollingHorizon(RideTime())
    rh.order_waiting(_order("due", rest, ready=50.0), 0.0)  # estimate passed, not cooked
    assert rh.order_for("r", *rest, 100.0) == ()
    rh.order_waiting(_order("late", rest, ready_at=90.0), 100.0)  # cooked, nobody free
    rh.order_waiting(_order("early", rest, ready_at=80.0), 100.0)
    rh.order_waiting(_order("gone", rest, ready_at=70.0), 100.0)
    rh.order_gone("gone")
    assert rh.waiting_count() == 3
    assert rh.order_for("r", *rest, 120.0) == ("early",)  # its food has waited longest
    assert rh.order_for("r", *rest, 120.0) == ("late",)
    assert rh.order_for("r", *rest, 120.0) == ()  # "due" is still cooking
    assert rh.waiting_count() == 1 and rh.due() == 300.0  # left to the round
    # the estimate that passed is cooked now: it is the freed rider's
    rh.order_waiting(_order("due", rest, ready_at=130.0), 130.0)
    assert rh.order_for("r", *rest, 140.0) == ("due",)
    assert rh.waiting_count() == 0 and rh.due() is None


def test_between_rounds_food_ready_goes_to_the_nearest_free_rider_at_once() -> None:
    rest = (19.07, 72.87)
    rh = RollingHorizon(RideTime())
    rh.rider_available("near", 19.075, 72.87)
    rh.rider_available("far", 19.1, 72.87)
    assert rh.order_waiting(_order("o1", rest, ready=400.0), 0.0) is None  # waits for a round
    assert rh.order_waiting(_order("o1", rest, ready_at=120.0), 120.0) == "near"  # ready now
    assert rh.waiting_count() == 0


# ====================================================================== DispatchSpec
@pytest.mark.parametrize(
    ("policy", "options", "field"),
    [
        ("nearest", {}, "policy"),
        (None, {}, "policy"),
        ("rolling_horizon", {"bogus": 1}, "bogus"),
        ("at_confirm", {"slack_min": 2}, "slack_min"),
        ("just_in_time", {"interval_min": 5}, "interval_min"),
        ("at_confirm", {"max_bundle": 2}, "max_bundle"),
        ("rolling_horizon", {"interval_min": 0}, "interval_min"),
        ("rolling_horizon", {"max_bundle": 11}, "max_bundle"),
        ("just_in_time", {"slack_min": -1}, "slack_min"),
        ("at_confirm", {"cell_km": "inf"}, "cell_km"),
        ("at_confirm", {"cell_km": float("nan")}, "cell_km"),
        ("at_confirm", {"ref_lat": 90}, "ref_lat"),
        ("just_in_time", {"slack_min": "soon"}, "slack_min"),
        ("just_in_time", {"slack_min": None}, "slack_min"),
        ("just_in_time", {"slack_min": True}, "slack_min"),
        ("just_in_time", {"slack_min": [2]}, "slack_min"),
        ("rolling_horizon", {"max_bundle": 2.5}, "max_bundle"),
        ("rolling_horizon", {"max_bundle": "2.5"}, "max_bundle"),
        ("rolling_horizon", {"candidates": 1.5}, "candidates"),
        ("rolling_horizon", {"stack_km": 1.0, "horizon_min": 999}, "horizon_min"),
    ],
)
def test_spec_refusals_name_the_option(
    policy: object, options: dict[str, object], field: str
) -> None:
    with pytest.raises(DispatchSpecError) as caught:
        DispatchSpec.parse(policy, options)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_spec_accepts_numbers_and_text_in_range() -> None:
    spec = DispatchSpec.parse(
        "rolling_horizon", {"max_bundle": "3", "interval_min": 2, "stack_km": " 0.5 "}
    )
    assert spec.options == {"max_bundle": 3.0, "interval_min": 2.0, "stack_km": 0.5}
    assert spec.value("candidates") == OPTIONS["candidates"].default
    described = spec.describe()
    assert described["policy"] == "rolling_horizon" and described["max_bundle"] == 3.0
    assert "slack_min" not in described
    assert DispatchSpec.parse("at_confirm", {}).describe() == {
        "policy": "at_confirm",
        "cell_km": 1.0,
        "ref_lat": 19.07,
    }
    assert set(POLICIES) == {"at_confirm", "just_in_time", "rolling_horizon"}


def test_spec_builds_each_strategy_with_its_options() -> None:
    policy = Policy(rider_speed_kmh=15.0, detour_factor=1.5)
    ride = RideTime(15.0, 1.5)
    assert type(DispatchSpec().build(policy)) is AtConfirm

    jit = DispatchSpec.parse("just_in_time", {"slack_min": 3}).build(policy)
    assert isinstance(jit, JustInTime) and jit.name == "just_in_time"
    rest, rider = (19.07, 72.87), (19.08, 72.87)
    jit.rider_available("r", *rider)
    jit.order_waiting(_order("o1", rest, ready=5_000.0), 0.0)
    # offer = ready - 3 minutes - the policy's ride
    assert jit.due() == pytest.approx(5_000.0 - 180.0 - ride.seconds(*rider, *rest))

    options = {
        "interval_min": 2,
        "horizon_min": 20,
        "max_bundle": 3,
        "bundle_window_min": 4,
        "stack_km": 0.5,
        "candidates": 5,
        "cell_km": 2,
    }
    rh = DispatchSpec.parse("rolling_horizon", options).build(policy)
    assert isinstance(rh, RollingHorizon) and rh.name == "rolling_horizon"
    assert rh._ride == ride
    assert (rh._interval, rh._horizon, rh._bundle_window) == (120.0, 1_200.0, 240.0)
    assert (rh._max_bundle, rh._candidates, rh._stack_km) == (3, 5, 0.5)
    assert type(rh._max_bundle) is int and type(rh._candidates) is int
    rh.order_waiting(_order("o1", ready=5_000.0), 0.0)
    assert rh.due() == 120.0  # rounds every 2 minutes


# ====================================================================== in the service
def test_service_bundle_assigned_cancelled_in_part_and_delivered() -> None:
    """Under rolling_horizon two orders of one restaurant for customers 200 m apart share a
    rider at the round; cancelling one leaves the other with them; delivering it frees them."""
    clock = ManualClock()
    policy = Policy()
    events: list[DomainEvent] = []
    strategy = DispatchSpec.parse("rolling_horizon", {}).build(policy)
    svc = bootstrap(clock=clock, seed=1, policy=policy, dispatch=strategy, sinks=[events.append])
    fx = build_fixtures(vendors=2, customers=3, riders=3)
    seed(svc, fx)
    assert svc.dispatch is strategy

    vendor = fx.vendors[0]
    homes = [
        (vendor.latitude + 0.01, vendor.longitude),
        (vendor.latitude + 0.012, vendor.longitude),
    ]
    oids = []
    for i, (lat, lon) in enumerate(homes):
        placed = svc.place_order(
            fx.customers[i],
            vendor_id=vendor.id,
            items=[{"name": "Margherita", "quantity": 1, "unit_price": "374.00"}],
            delivery_address={"latitude": lat, "longitude": lon, "address_line_1": "1 Main St"},
            payment_method="cod",
        )
        oid = str(placed["id"])
        svc.confirm(fx.restaurants[0], oid, estimated_prep_time=5)
        oids.append(oid)

    def order(oid: str) -> Order:
        found = svc.store.get_order(oid)
        assert found is not None
        return found

    assert all(order(o).rider_id is None for o in oids)  # waiting for the round
    due = svc.dispatch.due()
    assert due is not None and due % 300 == 0 and due > clock.now()
    clock.advance(due - clock.now() + 1)  # past the round
    svc.process_due_timers()

    rider_id = order(oids[0]).rider_id
    assert rider_id is not None and order(oids[1]).rider_id == rider_id
    rider = svc.store.get_rider(rider_id)
    assert rider is not None and len(rider.order_ids) == 2 and set(rider.order_ids) == set(oids)
    # delivered nearest customer first: the first home is nearer the restaurant
    sequence = list(rider.order_ids)
    assert sequence == oids
    views = [svc.get_order(fx.customers[i], oid)["bundle"] for i, oid in enumerate(oids)]
    bundle_id = views[0]["id"]
    assert bundle_id
    for position, view in enumerate(views, start=1):
        assert view == {"id": bundle_id, "orders": sequence, "position": position}
    for oid in oids:
        (entry,) = [e for e in order(oid).history if e.status == DELIVERY_PARTNER_ASSIGNED]
        assert entry.metadata["delivery_person"] == rider_id
        assert entry.metadata["bundle"] == {"id": bundle_id, "orders": sequence}
    assigned = [e for e in events if e.event_type == ASSIGNED]
    assert sorted(e.order_id for e in assigned) == sorted(oids)
    assert all(e.data["bundle"] == {"id": bundle_id, "orders": sequence} for e in assigned)

    # The first customer cancels (still allowed: the order is only confirmed).
    holder = next(a for a in fx.riders if a.user_id == rider_id)
    svc.cancel(fx.customers[0], oids[0], reason="Changed my mind")
    kept = order(oids[1])
    assert kept.rider_id == rider_id and kept.status is S.ORDER_CONFIRMED
    rider = svc.store.get_rider(rider_id)
    assert rider is not None and rider.order_ids == (oids[1],) and not rider.dispatchable

    # Every other rider goes off duty; a third order's food gets ready: the rider holding the
    # rest of the bundle is not free, so nobody takes it.
    for actor in fx.riders:
        if actor.user_id != rider_id:
            svc.set_rider_availability(actor, available=False)
    third = svc.place_order_id(
        fx.customers[2],
        vendor_id=vendor.id,
        items=[{"name": "Margherita", "quantity": 1, "unit_price": "374.00"}],
        delivery_address={"latitude": homes[0][0], "longitude": homes[0][1], "address_line_1": "x"},
        payment_method="cod",
    )
    restaurant = fx.restaurants[0]
    svc.confirm(restaurant, third, estimated_prep_time=5)
    svc.start_preparing(restaurant, third)
    svc.mark_ready(restaurant, third)
    assert order(third).rider_id is None and svc.get_order(SYSTEM_ACTOR, third)["bundle"] is None

    # Delivering the last order of the bundle frees the rider, who takes the waiting food.
    last = oids[1]
    svc.start_preparing(restaurant, last)
    svc.mark_ready(restaurant, last)
    otp = str(svc.get_otp(SYSTEM_ACTOR, last, otp_type="pickup")["otp"])
    svc.pickup(holder, last, otp=otp)
    svc.start_delivery(holder, last)
    otp = str(svc.get_otp(SYSTEM_ACTOR, last, otp_type="delivery")["otp"])
    svc.complete_delivery(holder, last, otp=otp)
    assert order(last).status is S.DELIVERED
    rider = svc.store.get_rider(rider_id)
    assert rider is not None and rider.order_ids == (third,)
    assert order(third).rider_id == rider_id


def test_round_spends_no_rider_on_a_pair_that_would_wait() -> None:
    """Pairs are filtered by the commitment rule before the matching, not after: with one rider,
    a bundle at their door whose food is minutes away does not take them from a bundle whose
    ride must start now (review finding: the round returned nothing)."""
    rh = RollingHorizon(RideTime(20.0, 1.0), interval_s=300.0, horizon_s=1800.0, stack_km=0.0)
    here, far = (19.07, 72.87), (19.07, 72.90)  # about 3.2 km apart: a 9.5 min ride
    rh.rider_available("r", *here)
    rh.order_waiting(_order("soon_far", far, vendor="b", ready=570.0), 0.0)  # leave by ~0
    rh.order_waiting(_order("later_here", here, vendor="a", ready=180.0), 0.0)  # leave by 180
    assert rh.decide(1.0) == [Assignment("r", ("soon_far",))]


def test_just_in_time_plans_survive_a_rebuild() -> None:
    """After a restart or rollback the service refills a fresh strategy with the waiting
    orders first, then the free riders: a rider coming back plans the orders that found no
    rider, so the offer is made on time rather than lost (review finding)."""
    clock = ManualClock()
    policy = Policy()
    svc = bootstrap(clock=clock, seed=1, policy=policy, dispatch=JustInTime(RideTime()))
    fx = build_fixtures(vendors=1, customers=1, riders=2)
    seed(svc, fx)
    for rider, (lat, lon) in zip(fx.riders, fx.rider_starts, strict=True):
        svc.set_rider_availability(rider, available=True, latitude=lat, longitude=lon)
    placed = svc.place_order(
        fx.customers[0],
        vendor_id=fx.vendors[0].id,
        items=[{"name": "Margherita", "quantity": 1, "unit_price": "374.00"}],
        delivery_address={"latitude": 19.08, "longitude": 72.88},
        payment_method="cod",
    )
    oid = str(placed["id"])
    svc.confirm(fx.restaurants[0], oid, estimated_prep_time=30)
    planned = svc.dispatch.due()
    assert planned is not None and planned > clock.now()

    svc.rebuild_dispatch(JustInTime(RideTime()))
    assert svc.dispatch.due() == pytest.approx(planned)
    assert svc.next_timer_due() == pytest.approx(planned)
    clock.advance(planned - clock.now() + 1e-3)
    svc.process_due_timers()
    assert svc.get_order(fx.customers[0], oid)["delivery_person"] is not None
