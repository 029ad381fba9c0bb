"""Common random numbers per entity: rider, customer and vendor ``i`` get the same draws
whatever the counts, so a sweep over one count compares like with like (issue 15).

``N`` and ``N + 1`` riders differ by exactly one rider (start and shift); more customers or
vendors add entities without moving the others, and no count moves another kind's entities
or changes what the orders draw.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from scenarios import load_scenario
from sim.city import build_city
from sim.model import Model
from sim.streams import ENTITY_BLOCK, STREAMS, entity_uniforms, streams
from tests.sim.conftest import run_scenario

SEED = 3
#: Two shifts of unequal share, so that which rider gets which shift is actually drawn.
TWO_SHIFTS = (
    'fleet.shifts=[{ start = "18:00", end = "21:00", share = 1 },'
    ' { start = "19:00", end = "20:00", share = 3 }]'
)

Point = tuple[float, float]
Span = tuple[float, float]


def _model(sets: Sequence[str], replication: int = 0) -> Model:
    return Model(load_scenario("baseline", [TWO_SHIFTS, *sets]).scenario, SEED, replication)


def _riders(m: Model) -> list[tuple[Point, Span]]:
    return [((r.lat, r.lon), (r.shift_start, r.shift_end)) for r in m.world.riders]


def _vendors(m: Model) -> list[Point]:
    return list(zip(m.city.vendor_lat, m.city.vendor_lon, strict=True))


def _customers(m: Model) -> list[Point]:
    return list(zip(m.city.customer_lat, m.city.customer_lon, strict=True))


@pytest.mark.parametrize("replication", [0, 1])
def test_one_more_rider_adds_one_rider_and_changes_no_other(replication: int) -> None:
    small, big = _model(["fleet.riders=30"], replication), _model(["fleet.riders=31"], replication)
    assert len(small.world.riders) == 30 and len(big.world.riders) == 31
    assert _riders(big)[:30] == _riders(small)
    assert len({span for _, span in _riders(big)}) == 2  # both shifts drawn, so shifts tested
    assert _vendors(big) == _vendors(small) and _customers(big) == _customers(small)
    assert np.array_equal(big.city.choices, small.city.choices)


def test_a_sweep_over_the_fleet_keeps_every_riders_draws() -> None:
    fleets = {n: _riders(_model([f"fleet.riders={n}"])) for n in (30, 35, 45)}
    assert fleets[45][:30] == fleets[35][:30] == fleets[30]
    assert fleets[45][:35] == fleets[35]


def test_more_customers_add_customers_and_move_nothing_else() -> None:
    small, big = _model(["customers.count=400"]), _model(["customers.count=410"])
    assert len(_customers(big)) == 410
    assert _customers(big)[:400] == _customers(small)
    assert np.array_equal(big.city.choices[:400], small.city.choices)
    assert _vendors(big) == _vendors(small) and _riders(big) == _riders(small)


def test_more_vendors_add_vendors_and_move_no_customer_or_rider() -> None:
    small, big = _model(["vendors.count=12"]), _model(["vendors.count=14"])
    assert len(_vendors(big)) == 14
    assert _vendors(big)[:12] == _vendors(small)
    assert _customers(big) == _customers(small) and _riders(big) == _riders(small)


def test_entities_across_a_block_boundary_keep_their_draws() -> None:
    """Entity ``i`` depends on its block's own seed only: the first block is the same whether
    or not a second one is drawn, and the second block's first entities do not depend on how
    many follow them."""
    rng = streams(SEED, 0)["city"]
    small = entity_uniforms(rng, "customers", ENTITY_BLOCK - 1, 3)
    big = entity_uniforms(rng, "customers", ENTITY_BLOCK + 5, 3)
    bigger = entity_uniforms(rng, "customers", 2 * ENTITY_BLOCK + 1, 3)
    assert np.array_equal(big[: len(small)], small)
    assert np.array_equal(bigger[: len(big)], big)
    assert not np.array_equal(big[-15:], big[:15])  # the second block is not the first again
    other = entity_uniforms(rng, "vendors", ENTITY_BLOCK - 1, 3)
    assert not np.array_equal(other, small)  # kinds are seeded apart


def test_drawing_the_city_leaves_the_streams_untouched() -> None:
    """Entities are drawn from seeds addressed under the ``city`` and ``riders`` streams, never
    from the streams' own draws, so whatever else reads them is unaffected by the counts."""
    s = load_scenario("baseline").scenario
    rngs, fresh = streams(SEED, 0), streams(SEED, 0)
    build_city(s, rngs["city"], rngs["riders"])
    for name in STREAMS:
        assert rngs[name].random() == fresh[name].random(), name


def test_orders_draw_the_same_whatever_the_fleet() -> None:
    a, b = _model(["fleet.riders=30"]), _model(["fleet.riders=41"])
    assert np.array_equal(a.plan.times, b.plan.times)
    ba, bb = a.plan.block(0), b.plan.block(0)
    assert ba.prep == bb.prep and ba.confirm_delay == bb.confirm_delay
    assert ba.customer == bb.customer and ba.vendor_slot == bb.vendor_slot
    assert ba.pickup_service == bb.pickup_service and ba.cust_cancel == bb.cust_cancel


def test_orders_placed_in_a_run_are_the_same_whatever_the_fleet() -> None:
    """Run end to end: the orders placed, their times, customers and vendors do not depend on
    how many riders there are to deliver them."""
    cols = ["order_idx", "placed", "customer_idx", "vendor_idx"]
    frames = []
    for n in (30, 31):
        s = load_scenario("baseline", [f"fleet.riders={n}", "period.drain_h=0.5"]).scenario
        frames.append(run_scenario(s, seed=SEED).frame("orders")[cols])
    assert len(frames[0]) > 50
    assert frames[0].equals(frames[1])


def test_shifts_follow_their_shares_in_aggregate() -> None:
    m = _model(["fleet.riders=400"])
    late = sum(1 for r in m.world.riders if r.shift_end - r.shift_start == 3600.0)
    assert len(m.world.riders) == 400
    # share 3 of 4: 300 expected, sd about 8.7; a 4-sd band
    assert 265 <= late <= 335, late
