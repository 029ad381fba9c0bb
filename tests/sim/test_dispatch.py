"""The simulation's dispatch policy picks exactly what the reference policy picks."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from reference_api.dispatch import NearestRiderDispatch
from sim.dispatch import ScarcityAwareDispatch

coords = st.tuples(st.floats(18.9, 19.25), st.floats(72.75, 73.0))
ops = st.lists(
    st.tuples(st.sampled_from(["add", "remove", "query"]), st.integers(0, 40), coords),
    min_size=1,
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(ops, st.sampled_from([0.1, 0.5, 2.0]))
def test_same_nearest_rider_as_the_reference(script: list, cell: float) -> None:  # type: ignore[type-arg]
    ours = ScarcityAwareDispatch(cell_km=cell, ref_lat=19.07)
    ref = NearestRiderDispatch(cell_km=cell, ref_lat=19.07)
    for op, n, (lat, lon) in script:
        rider = f"rider-{n:03d}"
        if op == "add":
            ours.rider_available(rider, lat, lon)
            ref.rider_available(rider, lat, lon)
        elif op == "remove":
            ours.rider_unavailable(rider)
            ref.rider_unavailable(rider)
        else:
            assert ours.rider_for(lat, lon) == ref.rider_for(lat, lon)


def test_scarce_riders_far_away_are_still_found() -> None:
    d = ScarcityAwareDispatch(cell_km=0.05, ref_lat=19.07)
    d.rider_available("far", 19.25, 73.0)
    d.rider_available("near", 19.0, 72.8)
    assert d.rider_for(18.95, 72.8) == "near"
    d.rider_unavailable("near")
    assert d.rider_for(18.95, 72.8) == "far"
    d.order_waiting("o1", 0, 0)
    d.order_waiting("o2", 0, 0)
    d.order_gone("o1")
    assert d.order_for("far", 0, 0) == "o2" and d.waiting_count() == 1
