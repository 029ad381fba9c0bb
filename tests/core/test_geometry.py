"""Planar geometry (D27): coordinates in metres and MDRP's ride times, ``ceil(euclidean metres /
metres_per_minute)`` whole minutes, shared by the ETA and every dispatch strategy; and the
spherical geometry left exactly as it was (haversine x detour / speed), bit for bit."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_api.dispatch import (
    BRUTE_FORCE_MAX,
    Assignment,
    DispatchSpec,
    GridIndex,
    JustInTime,
    RideTime,
)
from reference_api.dispatch.rolling_horizon import RollingHorizon
from reference_api.errors import ValidationFailed
from reference_api.geo import Geometry, haversine_km, travel_seconds
from reference_api.policy import Policy
from reference_api.roles import SYSTEM_ACTOR
from reference_api.statuses import OrderStatus
from tests.core.conftest import make_world
from tests.core.planar import PACE, RESTAURANT, make_town
from tests.core.test_dispatch_strategies import _order

S = OrderStatus
MDRP = Geometry(metres_per_minute=427.0)
#: a latitude far from the equator: were the planar grid projected like degrees, east-west
#: distances would shrink by half and the nearest rider would change
FAR_NORTH = 60.0


# ====================================================================== ride times
@pytest.mark.parametrize(
    ("a", "b", "seconds"),
    [
        ((0.0, 0.0), (0.0, 1000.0), 180.0),  # 2.34 minutes: 3
        ((0.0, 0.0), (854.0, 0.0), 120.0),  # exactly 2 minutes
        ((5.0, 5.0), (5.0, 5.0), 0.0),
        ((0.0, 0.0), (0.0, 427.0), 60.0),
        ((0.0, 0.0), (0.0, 427.001), 120.0),  # a millimetre over: the next minute
        ((-300.0, 100.0), (300.0, 900.0), 180.0),  # 1000 m on the diagonal (600, 800)
    ],
)
def test_planar_rides_are_whole_minutes_exactly(
    a: tuple[float, float], b: tuple[float, float], seconds: float
) -> None:
    got = MDRP.seconds(*a, *b)
    assert got == seconds and type(got) is float
    assert MDRP.seconds(*b, *a) == seconds  # either way round


@given(
    st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)),
    st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)),
    st.floats(50.0, 1000.0),
)
def test_planar_ride_is_60_times_the_ceiling_of_the_minutes(
    a: tuple[float, float], b: tuple[float, float], pace: float
) -> None:
    """The distance is computed as Grubhub's evaluator does, ``sqrt(dx**2 + dy**2)`` (not
    ``hypot``, which may differ in the last bit and so, at a whole minute, by a minute)."""
    geometry = Geometry(metres_per_minute=pace)
    metres = math.sqrt((b[1] - a[1]) ** 2 + (b[0] - a[0]) ** 2)
    got = geometry.seconds(*a, *b)
    assert got == 60 * math.ceil(metres / pace) and got.is_integer()
    assert geometry.km(*a, *b) == metres / 1000.0


def test_planar_ignores_speed_and_detour() -> None:
    slow = Geometry(speed_kmh=5.0, detour_factor=3.0, metres_per_minute=427.0)
    assert slow.seconds(0, 0, 0, 1000) == MDRP.seconds(0, 0, 0, 1000) == 180.0
    assert slow.planar and not Geometry().planar


@given(
    st.tuples(st.floats(-80, 80), st.floats(-180, 180)),
    st.tuples(st.floats(-80, 80), st.floats(-180, 180)),
    st.floats(5.0, 40.0),
    st.floats(1.0, 2.0),
)
def test_spherical_rides_are_the_old_formula_bit_for_bit(
    a: tuple[float, float], b: tuple[float, float], speed: float, detour: float
) -> None:
    geometry = Geometry(speed, detour)
    km = haversine_km(*a, *b)
    assert geometry.km(*a, *b) == km
    assert geometry.seconds(*a, *b) == travel_seconds(km, speed, detour)
    assert geometry.seconds(*a, *b) == km * detour / speed * 3600.0


def test_ride_time_is_the_geometry() -> None:
    """One travel-time function for the ETA and dispatch: ``RideTime`` is ``Geometry``."""
    assert RideTime is Geometry
    assert RideTime(15.0, 1.5) == Geometry(15.0, 1.5, 0.0)


def test_the_policy_holds_the_geometry() -> None:
    assert Policy().geometry == Geometry(20.0, 1.3, 0.0)
    planar = Policy(metres_per_minute=427.0, rider_speed_kmh=12.0)
    assert planar.geometry == Geometry(12.0, 1.3, 427.0) and planar.geometry.planar


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("metres_per_minute", -1.0),
        ("metres_per_minute", math.nan),
        ("metres_per_minute", math.inf),
        ("metres_per_minute", "fast"),
        ("pickup_lead_s", -0.5),
        ("pickup_lead_s", math.inf),
    ],
)
def test_the_policy_refuses_nonsense_geometry_and_lead(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"policy {field}"):
        Policy().with_overrides(**{field: value})


def test_a_geometry_refuses_a_negative_pace() -> None:
    with pytest.raises(ValueError, match="metres_per_minute"):
        Geometry(metres_per_minute=-5.0)


# ====================================================================== the grid
Metres = tuple[float, float]
places = st.tuples(st.floats(-20_000, 20_000), st.floats(-20_000, 20_000))


def _euclidean_nearest(pts: dict[str, Metres], at: Metres, allowed: set[str]) -> str | None:
    """Brute force: euclidean metres, ties to the smallest key, among ``allowed``."""
    found = [k for k in pts if k in allowed]
    if not found:
        return None
    return min(found, key=lambda k: ((pts[k][1] - at[1]) ** 2 + (pts[k][0] - at[0]) ** 2, k))


@settings(max_examples=150)
@given(
    st.lists(places, max_size=3 * BRUTE_FORCE_MAX),
    places,
    st.floats(0.2, 5.0),
    st.sets(st.integers(0, 3 * BRUTE_FORCE_MAX)),
)
def test_planar_grid_nearest_is_the_euclidean_nearest(
    pts: list[Metres], at: Metres, cell_km: float, refused: set[int]
) -> None:
    """Both ways of searching (ring walk, plain scan), with and without a filter."""
    grid = GridIndex(cell_km, FAR_NORTH, MDRP)
    riders = {f"r{i:03d}": p for i, p in enumerate(pts)}
    for key, (y, x) in riders.items():
        grid.add(key, y, x)
    assert grid.nearest(*at) == _euclidean_nearest(riders, at, set(riders))
    allowed = {k for i, k in enumerate(riders) if i not in refused}
    assert grid.nearest(*at, lambda k: k in allowed) == _euclidean_nearest(riders, at, allowed)


def test_a_planar_policy_dispatches_to_the_euclidean_nearest() -> None:
    """East is as far as north in metres: projected like degrees at ``ref_lat`` (cos 60 = 0.5),
    the rider 1000 m east would look nearer than the one 980 m north."""
    east, north = (0.0, 1000.0), (980.0, 0.0)
    options = {"ref_lat": FAR_NORTH}
    planar = DispatchSpec.parse("at_confirm", options).build(Policy(metres_per_minute=427.0))
    spherical = DispatchSpec.parse("at_confirm", options).build(Policy())
    for strategy in (planar, spherical):
        strategy.rider_available("east", *east)
        strategy.rider_available("north", *north)
    restaurant = (0.0, 0.0)
    assert planar.order_waiting(_order("o1", restaurant), 0.0) == "north"
    assert spherical.order_waiting(_order("o1", restaurant), 0.0) == "east"


def test_just_in_time_offers_at_a_planar_ride_before_the_food() -> None:
    jit = JustInTime(Geometry(metres_per_minute=PACE), slack_s=0.0)
    jit.rider_available("r", 0.0, 1000.0)  # 10 minutes away
    assert jit.order_waiting(_order("o1", (0.0, 0.0), ready=1000.0), 0.0) is None
    assert jit.due() == 400.0  # ready at 1000, less a 600 s ride
    assert jit.decide(400.0) == [Assignment("r", ("o1",))]


def test_rolling_horizon_stacks_and_orders_deliveries_in_metres() -> None:
    """``stack_km`` stays km (1000 m); the first drop-off is the nearest in metres. Riders are
    plenty (a target bundle size of one), so only drop-offs on the way share a rider."""
    rest = (0.0, 0.0)
    rh = RollingHorizon(Geometry(metres_per_minute=PACE), stack_km=1.0, ref_lat=FAR_NORTH)
    rh.order_waiting(_order("far", rest, (0.0, 2_000.0), ready=200.0), 0.0)
    rh.order_waiting(_order("near", rest, (0.0, 1_200.0), ready=250.0), 10.0)  # 800 m on
    rh.order_waiting(_order("away", rest, (0.0, -2_000.0), ready=260.0), 20.0)  # 4 km off
    got = [b.order_ids for b in rh.bundles(300.0, free_riders=10)]
    assert got == [["near", "far"], ["away"]]
    tight = RollingHorizon(Geometry(metres_per_minute=PACE), stack_km=0.7)
    tight.order_waiting(_order("far", rest, (0.0, 2_000.0), ready=200.0), 0.0)
    tight.order_waiting(_order("near", rest, (0.0, 1_200.0), ready=250.0), 10.0)
    assert [b.order_ids for b in tight.bundles(300.0, free_riders=10)] == [["far"], ["near"]]


def test_rolling_horizon_costs_the_euclidean_nearest_candidate() -> None:
    rh = RollingHorizon(Geometry(metres_per_minute=PACE), candidates=1, ref_lat=FAR_NORTH)
    rh.rider_available("east", 0.0, 1000.0)
    rh.rider_available("north", 980.0, 0.0)
    rh.order_waiting(_order("o1", (0.0, 0.0), ready=0.0), 0.0)
    assert rh.decide(300.0) == [Assignment("north", ("o1",))]


# ====================================================================== the ETA
def test_planar_promise_at_placement_rides_whole_minutes() -> None:
    town = make_town()
    oid = town.place(to=(0.0, 1_050.0))  # 10.5 minutes: 11
    promise = town.order(oid).estimated_delivery_time - town.clock.now()
    assert promise == 300 + 20 * 60 + 11 * 60 + 300


def test_planar_current_eta_follows_the_rider_in_metres() -> None:
    town = make_town()
    town.on_duty("r", at=(0.0, -1_500.0))  # 15 minutes from the restaurant
    oid = town.place(to=(0.0, 1_000.0))  # 10 minutes from it
    town.confirm(oid, prep_minutes=5)
    assert town.rider_of(oid) == "r"
    # the rider's 15 minutes outlast the 5 of cooking, then 10 to the customer
    assert town.eta_minutes(oid) == 25
    svc, rider = town.svc, town.rider("r")
    svc.update_rider_location(rider, latitude=0.0, longitude=0.0)
    svc.start_preparing(RESTAURANT, oid)
    svc.mark_ready(RESTAURANT, oid)
    assert town.eta_minutes(oid) == 10
    otp = svc.get_otp(SYSTEM_ACTOR, oid, otp_type="pickup")["otp"]
    svc.pickup(rider, oid, otp=otp)
    svc.update_rider_location(rider, latitude=0.0, longitude=427.0)  # 573 m to go: 6 minutes
    assert town.eta_minutes(oid) == 6


# ====================================================================== coordinates
def test_planar_coordinates_are_metres_within_the_bound() -> None:
    town = make_town()
    far = town.place(to=(-5_000_000.0, 99_999_999.0))
    assert town.order(far).address.longitude == 99_999_999.0
    detail = town.svc.get_order(SYSTEM_ACTOR, far)
    assert detail["delivery_address"]["latitude"] == "-5000000.000000"
    with pytest.raises(ValidationFailed) as refused:
        town.place(to=(0.0, 1e9))
    assert refused.value.field == "delivery_address.longitude"
    view = town.on_duty("r", at=(12_345.5, -67_890.25))
    assert (view["latitude"], view["longitude"]) == ("12345.500000", "-67890.250000")
    with pytest.raises(ValidationFailed) as refused:
        town.svc.update_rider_location(town.rider("r"), latitude=-2e8, longitude=0.0)
    assert refused.value.field == "latitude"
    for bad in (math.nan, math.inf, "north", True):
        with pytest.raises(ValidationFailed):
            town.svc.update_rider_location(town.rider("r"), latitude=bad, longitude=0.0)


def test_spherical_coordinates_keep_their_degree_bounds() -> None:
    w = make_world()
    with pytest.raises(ValidationFailed) as refused:
        w.svc.update_rider_location(w.rider(0), latitude=91.0, longitude=72.8)
    assert refused.value.field == "latitude"
    lat, _ = w.fx.customer_homes[0]
    with pytest.raises(ValidationFailed) as refused:
        w.svc.place_order(
            w.customer(0),
            vendor_id=w.fx.vendors[0].id,
            items=[{"name": "x", "quantity": 1, "unit_price": "1.00"}],
            delivery_address={"latitude": lat, "longitude": 1000.0},
        )
    assert refused.value.field == "delivery_address.longitude"
