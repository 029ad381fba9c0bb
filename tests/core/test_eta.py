"""ETA (D10): the promise at placement, and the current ETA following the status and the
rider's last position. Haversine x detour factor / speed, all from the policy."""

from __future__ import annotations

import math

import pytest

from reference_api.clock import iso
from reference_api.geo import haversine_km, travel_seconds
from reference_api.roles import SYSTEM_ACTOR
from reference_api.statuses import OrderStatus
from tests.core.conftest import World, make_world

S = OrderStatus


def test_haversine_known_distances() -> None:
    assert haversine_km(51.5074, -0.1278, 48.8566, 2.3522) == pytest.approx(343.5, abs=1.0)
    assert haversine_km(0, 0, 1, 0) == pytest.approx(111.195, abs=0.01)
    assert haversine_km(19.07, 72.87, 19.07, 72.87) == 0.0
    assert haversine_km(0, 0, 0, 180) == pytest.approx(math.pi * 6371.0088)


def test_travel_seconds_applies_detour_and_speed() -> None:
    assert travel_seconds(10.0, 20.0, 1.0) == 1800.0
    assert travel_seconds(10.0, 20.0, 1.3) == pytest.approx(2340.0)


def _ride(w: World, a: tuple[float, float], b: tuple[float, float]) -> float:
    p = w.svc.policy
    return haversine_km(*a, *b) * p.detour_factor / p.rider_speed_kmh * 3600


def _points(w: World, oid: str) -> tuple[tuple[float, float], tuple[float, float]]:
    o = w.order(oid)
    return (o.restaurant_lat, o.restaurant_lon), (o.address.latitude, o.address.longitude)


def test_promise_at_placement() -> None:
    w = make_world()
    oid = w.place()
    rest, home = _points(w, oid)
    expected = w.clock.now() + 300 + 20 * 60 + _ride(w, rest, home) + 300
    assert w.order(oid).estimated_delivery_time == pytest.approx(expected)
    assert w.svc.get_order(SYSTEM_ACTOR, oid)["estimated_delivery_time"] == iso(expected)


def test_promise_follows_the_policy() -> None:
    slow = make_world(rider_speed_kmh=10.0, detour_factor=2.0, default_prep_minutes=40)
    fast = make_world()
    a, b = slow.place(), fast.place()
    rest, home = _points(fast, b)
    # 20 more minutes of prep; the ride is (2.0 / 1.3) x longer by detour, 2 x by speed.
    diff = slow.order(a).estimated_delivery_time - fast.order(b).estimated_delivery_time
    assert diff == pytest.approx(20 * 60 + _ride(fast, rest, home) * (2 / 1.3 * 2 - 1))


def test_current_eta_while_waiting_for_the_restaurant() -> None:
    w = make_world()
    oid = w.place()
    rest, home = _points(w, oid)
    w.clock.advance(120)
    out = w.svc.eta(w.customer(0), oid)
    assert out["current_eta_minutes"] == math.ceil((300 + 1200 + _ride(w, rest, home)) / 60)
    assert out["delivery_person_location"] is None
    assert out["status"] == "ORDER_PLACED"
    assert out["customer_location"]["latitude"] == f"{home[0]:.6f}"


def test_current_eta_while_preparing_is_the_later_of_food_and_rider() -> None:
    w = make_world()
    oid = w.place()
    w.svc.confirm(w.restaurant(0), oid, estimated_prep_time=30)
    rest, home = _points(w, oid)
    rider = w.svc.store.get_rider(w.order(oid).rider_id or "")
    assert rider is not None and rider.latitude is not None and rider.longitude is not None
    leg = _ride(w, (rider.latitude, rider.longitude), rest)
    assert leg < 30 * 60  # the food is the bottleneck here
    out = w.svc.eta(w.customer(0), oid)
    assert out["current_eta_minutes"] == math.ceil((30 * 60 + _ride(w, rest, home)) / 60)
    assert out["delivery_person_location"] == {
        "latitude": f"{rider.latitude:.6f}",
        "longitude": f"{rider.longitude:.6f}",
    }
    # Far-away rider: the rider's leg is the bottleneck.
    w.svc.update_rider_location(w.rider_of(oid), latitude=19.5, longitude=72.9)
    far = _ride(w, (19.5, 72.9), rest)
    assert far > 30 * 60
    out = w.svc.eta(w.customer(0), oid)
    assert out["current_eta_minutes"] == math.ceil((far + _ride(w, rest, home)) / 60)


def test_current_eta_after_pickup_uses_the_riders_position() -> None:
    w = make_world()
    oid = w.at(S.OUT_FOR_DELIVERY)
    _, home = _points(w, oid)
    w.svc.update_rider_location(w.rider_of(oid), latitude=19.08, longitude=72.88)
    out = w.svc.eta(w.customer(0), oid)
    assert out["current_eta_minutes"] == math.ceil(_ride(w, (19.08, 72.88), home) / 60)
    w.svc.update_rider_location(w.rider_of(oid), latitude=home[0], longitude=home[1])
    assert w.svc.eta(w.customer(0), oid)["current_eta_minutes"] == 0


def test_finished_orders_have_no_current_eta() -> None:
    w = make_world()
    for status in (S.DELIVERED, S.CANCELLED, S.PAYMENT_FAILED):
        out = w.svc.eta(SYSTEM_ACTOR, w.at(status))
        assert out["current_eta_minutes"] is None and out["delivery_person_location"] is None


def test_quoted_preparation_runs_from_the_start_of_preparing() -> None:
    """D26: the restaurant's estimated_prep_time counts from confirmation until cooking starts,
    then from the start of preparation (an order that queued for the kitchen is ready later)."""
    w = make_world()
    oid = w.place()
    w.svc.confirm(w.restaurant(0), oid, estimated_prep_time=15)
    confirmed = w.clock.now()
    assert w.order(oid).estimated_ready_time == confirmed + 15 * 60
    w.clock.advance(600)  # ten minutes in the kitchen's queue
    w.svc.start_preparing(w.restaurant(0), oid)
    assert w.order(oid).estimated_ready_time == confirmed + 600 + 15 * 60
    shown = w.svc.get_order(w.customer(0), oid)["estimated_ready_time"]
    assert shown == iso(confirmed + 600 + 15 * 60)
