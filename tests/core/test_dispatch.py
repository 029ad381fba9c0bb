"""Rider dispatch (D2): assignment is not a status but ``delivery_status`` plus a tracking entry
and an ``order.assigned`` event; attempted at confirmation, retried at mark-ready and whenever a
rider frees up. The grid index agrees with brute force."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_api.dispatch import BRUTE_FORCE_MAX, AtConfirm, GridIndex
from reference_api.errors import ValidationFailed
from reference_api.events import ASSIGNED
from reference_api.model import Order
from reference_api.roles import SYSTEM_ACTOR
from reference_api.statuses import OrderStatus
from tests.core.conftest import make_world
from tests.core.test_dispatch_strategies import _order as confirmed_order

S = OrderStatus
REF_LAT = 19.07
COSLAT = math.cos(math.radians(REF_LAT))

points = st.tuples(st.floats(18.9, 19.3, allow_nan=False), st.floats(72.7, 73.1, allow_nan=False))


def _order(order_id: str, lat: float = 19.0, lon: float = 72.8) -> Order:
    """A confirmed order of a restaurant at ``(lat, lon)``: only what a strategy reads is real."""
    return confirmed_order(order_id, (lat, lon))


def _d2(a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[1] * COSLAT - b[1] * COSLAT) ** 2 + (a[0] - b[0]) ** 2


@settings(max_examples=150, deadline=None)
@given(
    riders=st.lists(points, min_size=0, max_size=120),
    removed=st.sets(st.integers(0, 119), max_size=30),
    query=points,
    cell_km=st.sampled_from([0.2, 1.0, 5.0]),
)
def test_grid_nearest_matches_brute_force(
    riders: list[tuple[float, float]],
    removed: set[int],
    query: tuple[float, float],
    cell_km: float,
) -> None:
    grid = GridIndex(cell_km, REF_LAT)
    alive: dict[str, tuple[float, float]] = {}
    for i, (lat, lon) in enumerate(riders):
        grid.add(f"r{i:03d}", lat, lon)
        alive[f"r{i:03d}"] = (lat, lon)
    for i in removed:
        grid.remove(f"r{i:03d}")
        alive.pop(f"r{i:03d}", None)
    assert len(grid) == len(alive)
    got = grid.nearest(*query)
    if not alive:
        assert got is None
        return
    assert got is not None and got in alive
    # the exact nearest point, ties to the smallest key
    assert got == min(alive, key=lambda k: (_d2(alive[k], query), k))


@settings(max_examples=150, deadline=None)
@given(
    script=st.lists(
        # mostly adds, so the index often holds more than BRUTE_FORCE_MAX riders (ring walk)
        st.tuples(st.sampled_from(["add", "add", "remove", "query"]), st.integers(0, 99), points),
        min_size=1,
        max_size=200,
    ),
    cell_km=st.sampled_from([0.05, 0.5, 2.0]),
)
def test_interleaved_moves_and_queries_match_brute_force(
    script: list[tuple[str, int, tuple[float, float]]], cell_km: float
) -> None:
    """Riders going on and off duty and moving (re-added) between queries, on grids from very
    sparse to crowded: every answer is the exact nearest, ties to the smallest id."""
    d = AtConfirm(cell_km=cell_km, ref_lat=REF_LAT)
    alive: dict[str, tuple[float, float]] = {}
    for op, n, (lat, lon) in script:
        rider = f"rider-{n:03d}"
        if op == "add":
            d.rider_available(rider, lat, lon)
            alive[rider] = (lat, lon)
        elif op == "remove":
            d.rider_unavailable(rider)
            alive.pop(rider, None)
        else:
            want = min(alive, key=lambda k: (_d2(alive[k], (lat, lon)), k)) if alive else None
            assert d.rider_for(lat, lon) == want


def test_both_search_paths_are_exercised() -> None:
    """Few points: scan them all; many: walk rings. Both agree on a crowded and a sparse grid."""
    rng = random.Random(7)
    pts = {f"r{i:03d}": (rng.uniform(18.9, 19.3), rng.uniform(72.7, 73.1)) for i in range(300)}
    for size in (5, BRUTE_FORCE_MAX, BRUTE_FORCE_MAX + 1, 300):
        grid = GridIndex(0.5, REF_LAT)
        chosen = dict(list(pts.items())[:size])
        for key, (lat, lon) in chosen.items():
            grid.add(key, lat, lon)
        for _ in range(50):
            q = (rng.uniform(18.8, 19.4), rng.uniform(72.6, 73.2))
            want = min(chosen, key=lambda k: (_d2(chosen[k], q), k))
            assert grid.nearest(*q) == want


def test_sparse_grid_falls_back_to_a_scan_with_the_same_answer() -> None:
    """Few points spread over a fine grid: the ring walk gives up once it has probed more cells
    than there are points and scans them all; the answer is still the exact nearest."""
    rng = random.Random(11)
    grid = GridIndex(0.05, REF_LAT)
    pts = {f"r{i:03d}": (rng.uniform(18.9, 19.3), rng.uniform(72.7, 73.1)) for i in range(60)}
    for key, (lat, lon) in pts.items():
        grid.add(key, lat, lon)
    for _ in range(100):
        q = (rng.uniform(18.8, 19.4), rng.uniform(72.6, 73.2))
        assert grid.nearest(*q) == min(pts, key=lambda k: (_d2(pts[k], q), k))


def test_waiting_queue_stays_fifo_after_many_departures() -> None:
    d = AtConfirm()
    for i in range(10_000):
        assert d.order_waiting(_order(f"o{i}"), 0.0) is None  # no rider: it waits
    for i in range(0, 9_990):
        assert d.order_for("r", 19.0, 72.8, 0.0) == (f"o{i}",)
        d.order_gone(f"o{i}")
    assert d.waiting_count() == 10 and d.order_for("r", 19.0, 72.8, 0.0) == ("o9990",)


def test_grid_moves_a_point_on_re_add() -> None:
    grid = GridIndex(1.0)
    grid.add("a", 19.0, 72.8)
    grid.add("b", 19.2, 72.8)
    grid.add("a", 19.3, 72.8)  # moved next to the query
    assert grid.nearest(19.29, 72.8) == "a"
    assert len(grid) == 2 and "a" in grid


def test_at_confirm_queue_is_fifo() -> None:
    d = AtConfirm()
    assert d.rider_for(19.0, 72.8) is None
    assert d.order_for("r", 19.0, 72.8, 0.0) == ()
    o1, o2 = _order("o1"), _order("o2")
    d.order_waiting(o1, 0.0)
    d.order_waiting(o2, 1.0)
    d.order_waiting(o1, 2.0)  # re-queued orders keep their place
    assert d.waiting_count() == 2 and d.order_for("r", 19.0, 72.8, 3.0) == ("o1",)
    d.order_gone("o1")
    assert d.order_for("r", 19.0, 72.8, 3.0) == ("o2",)
    d.order_gone("o2")
    d.order_gone("o2")  # unknown ids are ignored
    assert d.waiting_count() == 0 and d.order_for("r", 19.0, 72.8, 3.0) == ()


def test_at_confirm_gives_the_nearest_rider_at_once() -> None:
    d = AtConfirm()
    d.rider_available("far", 19.2, 72.8)
    d.rider_available("near", 19.01, 72.8)
    assert d.order_waiting(_order("o1"), 0.0) == "near"
    assert d.waiting_count() == 0  # given a rider, the order does not wait
    assert d.due() is None and d.decide(0.0) == []  # only events drive it


def test_confirmation_assigns_the_nearest_rider() -> None:
    w = make_world(riders=6)
    oid = w.place()
    w.svc.confirm(w.restaurant(0), oid)
    order = w.order(oid)
    v = w.fx.vendors[0]
    dists = {
        a.user_id: math.dist((v.latitude, v.longitude * COSLAT), (lat, lon * COSLAT))
        for a, (lat, lon) in zip(w.fx.riders, w.fx.rider_starts, strict=True)
    }
    assert order.rider_id == min(dists, key=dists.__getitem__)
    assert order.delivery_status == "assigned" and order.status is S.ORDER_CONFIRMED
    entry = order.history[-1]
    assert entry.status == "DELIVERY_PARTNER_ASSIGNED" and entry.updated_by == "System"
    assert entry.metadata["delivery_person"] == order.rider_id
    assigned = [e for e in w.events if e.event_type == ASSIGNED]
    assert len(assigned) == 1 and assigned[0].data["delivery_person"] == order.rider_id


def test_waiting_order_is_served_when_a_rider_goes_available() -> None:
    w = make_world(riders_available=False)
    first = w.at(S.ORDER_CONFIRMED)
    second = w.at(S.ORDER_CONFIRMED, customer=1)
    assert w.svc.dispatch.waiting_count() == 2
    assert w.order(first).delivery_status == "unassigned"
    lat, lon = w.fx.rider_starts[0]
    w.svc.set_rider_availability(w.rider(0), available=True, latitude=lat, longitude=lon)
    assert w.order(first).rider_id == w.rider(0).user_id  # oldest first
    assert w.order(second).rider_id is None
    # The rider delivers; freed, they take the next waiting order.
    w.svc.start_preparing(w.restaurant(0), first)
    w.svc.mark_ready(w.restaurant(0), first)
    w.svc.pickup(w.rider(0), first, otp=w.otp(first, "pickup"))
    w.svc.start_delivery(w.rider(0), first)
    w.svc.complete_delivery(w.rider(0), first, otp=w.otp(first, "delivery"))
    assert w.order(second).rider_id == w.rider(0).user_id
    assert w.svc.dispatch.waiting_count() == 0


def test_assignment_is_retried_at_mark_ready() -> None:
    w = make_world(riders_available=False)
    oid = w.at(S.PREPARING)
    assert w.order(oid).rider_id is None
    # A rider appears in the index without being offered the queue (e.g. a custom policy).
    w.svc.dispatch.order_gone(oid)
    rider = w.svc.store.get_rider(w.rider(1).user_id)
    assert rider is not None
    rider.available, (rider.latitude, rider.longitude) = True, w.fx.rider_starts[1]
    w.svc.dispatch.rider_available(rider.id, rider.latitude, rider.longitude)
    w.svc.mark_ready(w.restaurant(0), oid)
    assert w.order(oid).rider_id == rider.id
    assert [e.status for e in w.order(oid).history][-2:] == [
        "READY_FOR_PICKUP",
        "DELIVERY_PARTNER_ASSIGNED",
    ]


def test_cancelled_waiting_order_leaves_the_queue() -> None:
    w = make_world(riders_available=False)
    oid = w.at(S.ORDER_CONFIRMED)
    w.svc.cancel(w.customer(0), oid)
    assert w.svc.dispatch.waiting_count() == 0
    lat, lon = w.fx.rider_starts[0]
    out = w.svc.set_rider_availability(w.rider(0), available=True, latitude=lat, longitude=lon)
    assert out["current_order"] is None and out["available"] is True


def test_off_duty_rider_is_not_dispatched_and_needs_a_position_to_go_on() -> None:
    w = make_world(riders=1)
    w.svc.set_rider_availability(w.rider(0), available=False)
    oid = w.at(S.ORDER_CONFIRMED)
    assert w.order(oid).rider_id is None
    w2 = make_world(riders_available=False)
    with pytest.raises(ValidationFailed, match="position"):
        w2.svc.set_rider_availability(w2.rider(0), available=True)


def test_dispatch_state_is_rebuilt_from_the_store() -> None:
    from reference_api import bootstrap

    w = make_world(riders_available=False)
    waiting = w.at(S.ORDER_CONFIRMED)
    svc2 = bootstrap(clock=w.clock, store=w.svc.store, seed=9)
    assert svc2.dispatch.waiting_count() == 1
    lat, lon = w.fx.rider_starts[2]
    svc2.set_rider_availability(w.rider(2), available=True, latitude=lat, longitude=lon)
    assert w.order(waiting).rider_id == w.rider(2).user_id
    assert svc2.get_order(SYSTEM_ACTOR, waiting)["delivery_status"] == "assigned"
