"""A rider's shift end (D28, MDRP: "couriers cannot pick up any orders after their off-time"): no
strategy gives an order to a rider whose estimated pickup, ``max(now + ride to the restaurant +
pickup_lead_s, food ready)``, is later than their ``available_until``; each passes over them for
the next eligible rider, and an order no rider can take in time waits, as when none is free.

Planar geometry at 100 m a minute throughout, so every ride is a whole number of minutes and the
boundaries are exact."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_api import bootstrap
from reference_api.clock import iso
from reference_api.dispatch import BRUTE_FORCE_MAX, POLICIES, Assignment, AtConfirm, JustInTime
from reference_api.dispatch.rolling_horizon import Bundle, RollingHorizon
from reference_api.errors import ValidationFailed
from reference_api.geo import Geometry
from tests.core.planar import PACE, Town, make_town
from tests.core.test_dispatch_strategies import _order

PLANAR = Geometry(metres_per_minute=PACE)
REST = (0.0, 0.0)
NEAR = (0.0, 500.0)  # 5 minutes from the restaurant
FAR = (0.0, 2_000.0)  # 20 minutes


# ====================================================================== at_confirm
def test_at_confirm_passes_over_a_rider_whose_shift_ends_before_the_pickup() -> None:
    d = AtConfirm(ride=PLANAR)
    d.rider_available("near", *NEAR, until=299.0)  # would pick up at 300
    d.rider_available("far", *FAR)
    assert d.order_waiting(_order("o1", REST), 0.0) == "far"


def test_at_confirm_takes_a_rider_who_picks_up_just_as_the_shift_ends() -> None:
    d = AtConfirm(ride=PLANAR)
    d.rider_available("near", *NEAR, until=300.0)
    d.rider_available("far", *FAR)
    assert d.order_waiting(_order("o1", REST), 0.0) == "near"


def test_the_pickup_lead_and_the_food_count_towards_the_pickup() -> None:
    lead = AtConfirm(ride=PLANAR, pickup_lead_s=60.0)
    lead.rider_available("near", *NEAR, until=330.0)  # there at 300, food taken at 360
    lead.rider_available("far", *FAR)
    assert lead.order_waiting(_order("o1", REST), 0.0) == "far"
    cooking = AtConfirm(ride=PLANAR)
    cooking.rider_available("near", *NEAR, until=600.0)  # there at 300, food ready at 900
    cooking.rider_available("far", *FAR)
    assert cooking.order_waiting(_order("o1", REST, ready=900.0), 0.0) == "far"
    assert cooking.order_waiting(_order("o2", REST, ready=600.0), 0.0) == "near"


def test_at_confirm_order_nobody_can_take_in_time_waits_for_someone_who_can() -> None:
    d = AtConfirm(ride=PLANAR)
    d.rider_available("near", *NEAR, until=100.0)
    assert d.order_waiting(_order("o1", REST), 0.0) is None
    assert d.waiting_count() == 1
    assert d.order_for("short", *NEAR, 10.0, until=200.0) == ()  # there at 310
    assert d.order_for("long", *NEAR, 10.0, until=310.0) == ("o1",)


def test_at_confirm_freed_rider_takes_the_oldest_order_they_can_pick_up_in_time() -> None:
    d = AtConfirm(ride=PLANAR)
    assert d.order_waiting(_order("slow", REST, ready=2_000.0), 0.0) is None
    assert d.order_waiting(_order("quick", REST, ready=100.0), 0.0) is None
    assert d.order_for("r", *NEAR, 0.0, until=1_000.0) == ("quick",)
    assert d.order_for("r", *NEAR, 0.0) == ("slow",)  # no shift end: simply the oldest


def test_at_confirm_forgets_a_shift_end_with_the_rider() -> None:
    d = AtConfirm(ride=PLANAR)
    d.rider_available("near", *NEAR, until=1.0)
    d.rider_available("near", *NEAR)  # back with no end to the shift
    assert d.order_waiting(_order("o1", REST), 0.0) == "near"
    d.rider_available("near", *NEAR, until=1.0)
    d.rider_unavailable("near")
    d.rider_available("near", *NEAR)
    assert d.order_waiting(_order("o2", REST), 0.0) == "near"


Metres = tuple[float, float]
places = st.tuples(st.floats(-5_000, 5_000), st.floats(-5_000, 5_000))
shifts = st.none() | st.floats(0.0, 4_000.0)


@settings(max_examples=150)
@given(
    st.lists(st.tuples(places, shifts), max_size=2 * BRUTE_FORCE_MAX),
    places,
    st.floats(0.0, 3_000.0),
    st.none() | st.floats(0.0, 3_000.0),
    st.floats(0.0, 300.0),
)
def test_at_confirm_gives_the_nearest_rider_who_picks_up_in_time(
    riders: list[tuple[Metres, float | None]],
    restaurant: Metres,
    now: float,
    ready: float | None,
    lead: float,
) -> None:
    """Against brute force: the rule as written, euclidean metres, ties to the smallest id."""
    d = AtConfirm(cell_km=0.5, ride=PLANAR, pickup_lead_s=lead)
    for i, (at, until) in enumerate(riders):
        d.rider_available(f"r{i:03d}", *at, until=until)
    food = now if ready is None or ready < now else ready

    def in_time(at: Metres, until: float | None) -> bool:
        pickup = max(now + PLANAR.seconds(*at, *restaurant) + lead, food)
        return until is None or pickup <= until

    def d2(at: Metres) -> float:
        return (at[1] - restaurant[1]) ** 2 + (at[0] - restaurant[0]) ** 2

    eligible = [(d2(at), f"r{i:03d}") for i, (at, until) in enumerate(riders) if in_time(at, until)]
    want = min(eligible)[1] if eligible else None
    assert d.order_waiting(_order("o1", restaurant, ready=ready), now) == want


# ====================================================================== just_in_time
def test_just_in_time_plans_with_the_nearest_rider_whose_shift_leaves_time() -> None:
    jit = JustInTime(PLANAR, slack_s=0.0)
    jit.rider_available("near", *NEAR, until=1_000.0)  # the food is ready at 1800: too late
    jit.rider_available("far", *FAR)
    assert jit.order_waiting(_order("o1", REST, ready=1_800.0), 0.0) is None
    assert jit.due() == 600.0  # the far rider's 20 minutes before the food
    assert jit.decide(600.0) == [Assignment("far", ("o1",))]


def test_just_in_time_checks_the_shift_again_when_it_offers() -> None:
    jit = JustInTime(PLANAR, slack_s=0.0)
    jit.rider_available("near", *NEAR, until=1_800.0)  # offered at 1500, there as it is ready
    jit.rider_available("far", *FAR)
    assert jit.order_waiting(_order("o1", REST, ready=1_800.0), 0.0) is None
    assert jit.due() == 1_500.0
    # woken late: leaving at 1600 the near rider would pick up at 1900, after their shift
    assert jit.decide(1_600.0) == [Assignment("far", ("o1",))]


def test_just_in_time_order_nobody_can_take_in_time_stalls_for_someone_who_can() -> None:
    jit = JustInTime(PLANAR, slack_s=0.0)
    jit.rider_available("near", *NEAR, until=100.0)
    assert jit.order_waiting(_order("o1", REST, ready=0.0), 0.0) is None
    assert jit.due() is None and jit.waiting_count() == 1  # stalled: no rider to plan with
    assert jit.order_for("short", *NEAR, 10.0, until=200.0) == ()
    assert jit.due() is None  # still stalled, not planned with a rider who cannot take it
    jit.rider_available("short", *NEAR, until=200.0)
    assert jit.due() is None
    assert jit.order_for("long", *FAR, 10.0, until=1_210.0) == ("o1",)


def test_just_in_time_a_freed_rider_plans_what_their_shift_leaves_time_for() -> None:
    jit = JustInTime(PLANAR, slack_s=0.0)
    assert jit.order_waiting(_order("late", REST, ready=5_000.0), 0.0) is None
    assert jit.order_waiting(_order("soon", REST, ready=1_000.0), 0.0) is None
    jit.rider_available("r", *NEAR, until=2_000.0)  # can take "soon" (ready 1000), not "late"
    assert jit.due() == 700.0
    assert jit.decide(700.0) == [Assignment("r", ("soon",))]
    assert jit.waiting_count() == 1 and jit.due() is None  # "late" still waits for a rider


# ====================================================================== rolling_horizon
def test_a_round_drops_pairs_whose_rider_would_pick_up_after_the_shift() -> None:
    rh = RollingHorizon(PLANAR)
    rh.rider_available("near", *NEAR, until=400.0)  # decided at 300, there at 600
    rh.rider_available("far", *FAR)
    rh.order_waiting(_order("o1", REST, ready=0.0), 0.0)
    assert rh.decide(300.0) == [Assignment("far", ("o1",))]


def test_a_bundle_is_estimated_at_its_last_ready_time() -> None:
    """The near rider is there at 300 and the first order is ready at 100, but the bundle's
    last order only at 700: after a shift ending at 600."""

    def bundle() -> Bundle:
        b = Bundle(*REST)
        b.order_ids, b.readies = ["a", "b"], [100.0, 700.0]
        return b

    for until, rider in ((600.0, 1), (700.0, 0)):
        rh = RollingHorizon(PLANAR)
        rh.rider_available("near", *NEAR, until=until)
        rh.rider_available("far", *FAR)
        riders = [("near", *NEAR), ("far", *FAR)]
        assert [k for _, k, _ in rh.match([bundle()], riders, 0.0)] == [rider]


def test_a_round_ignores_riders_whose_shift_is_over() -> None:
    rh = RollingHorizon(PLANAR, interval_s=300.0)
    rh.rider_available("gone", *REST, until=200.0)
    rh.order_waiting(_order("o1", REST, ready=0.0), 0.0)
    assert rh.decide(300.0) == []
    assert rh.waiting_count() == 1 and rh.due() == 600.0
    rh.rider_available("fresh", *FAR)
    assert rh.decide(600.0) == [Assignment("fresh", ("o1",))]


def test_between_rounds_cooked_food_goes_to_the_nearest_rider_in_time() -> None:
    rh = RollingHorizon(PLANAR)
    rh.rider_available("near", *NEAR, until=400.0)  # asked at 200, there at 500
    rh.rider_available("far", *FAR)
    assert rh.order_waiting(_order("o1", REST, ready_at=150.0), 200.0) == "far"


def test_between_rounds_a_freed_rider_takes_the_cooked_food_they_reach_in_time() -> None:
    rh = RollingHorizon(PLANAR)
    rh.order_waiting(_order("there", FAR, vendor="b", ready_at=50.0), 100.0)  # waited longest
    rh.order_waiting(_order("here", REST, ready_at=90.0), 100.0)
    assert rh.order_for("r", *NEAR, 100.0, until=500.0) == ("here",)  # "there" is 15 min away
    assert rh.order_for("r2", *NEAR, 100.0, until=500.0) == ()
    assert rh.order_for("r3", *NEAR, 100.0) == ("there",)  # kept for a rider who can


# ====================================================================== the service
def _assigned_within(town: Town, oid: str, seconds: float) -> str | None:
    """Let the strategy's rounds run for ``seconds``: the rider the order got, if any."""
    for _ in range(int(seconds // 30)):
        if town.rider_of(oid) is not None:
            break
        town.elapse(30.0)
    return town.rider_of(oid)


@pytest.mark.parametrize("strategy", POLICIES)
def test_every_strategy_passes_over_a_rider_whose_shift_ends_first(strategy: str) -> None:
    town = make_town(strategy, pickup_lead_s=60.0)
    now = town.clock.now()
    town.on_duty("near", at=NEAR, until=now + 300.0)  # 5 min ride + 1 min lead: too late
    town.on_duty("far", at=FAR)
    oid = town.place()
    town.confirm(oid, prep_minutes=1)
    assert _assigned_within(town, oid, 3_600.0) == "far"


@pytest.mark.parametrize("strategy", POLICIES)
def test_with_no_rider_in_time_an_order_waits_until_one_is(strategy: str) -> None:
    town = make_town(strategy)
    town.on_duty("near", at=NEAR, until=town.clock.now() + 120.0)
    oid = town.place()
    town.confirm(oid, prep_minutes=1)
    assert _assigned_within(town, oid, 1_800.0) is None
    assert town.svc.dispatch.waiting_count() == 1
    town.on_duty("near", at=NEAR)  # the shift is extended: no end
    assert _assigned_within(town, oid, 1_800.0) == "near"


def test_a_shift_end_is_kept_shown_and_cleared_off_duty() -> None:
    town = make_town()
    until = town.clock.now() + 4 * 3600 + 0.75
    view = town.on_duty("r", at=NEAR, until=until)
    assert view["available_until"] == iso(until) == "2024-01-15T14:00:00Z"
    rider = town.svc.store.get_rider("r")
    assert rider is not None and rider.available_until == until
    off = town.svc.set_rider_availability(town.rider("r"), available=False)
    assert off["available_until"] is None
    assert rider.available_until is None
    again = town.on_duty("r", at=NEAR)  # each time on duty says the shift anew
    assert again["available_until"] is None


def test_a_shift_end_survives_a_rebuild_of_dispatch_from_the_store() -> None:
    town = make_town()
    town.on_duty("near", at=NEAR, until=town.clock.now() + 60.0)
    town.on_duty("far", at=FAR)
    again = bootstrap(clock=town.clock, store=town.svc.store, seed=2, policy=town.svc.policy)
    oid = town.place()
    town.svc = again
    town.confirm(oid, prep_minutes=1)
    assert town.rider_of(oid) == "far"


@pytest.mark.parametrize("bad", ["soon", math.nan, math.inf, -1.0, 1e20, True, [1]])
def test_a_shift_end_must_be_a_moment(bad: object) -> None:
    town = make_town()
    with pytest.raises(ValidationFailed) as refused:
        town.svc.set_rider_availability(
            town.rider("r"),
            available=True,
            latitude=0.0,
            longitude=0.0,
            until=bad,  # type: ignore[arg-type]
        )
    assert refused.value.field == "available_until"
    rider = town.svc.store.get_rider("r")
    assert rider is not None and not rider.available  # nothing changed
