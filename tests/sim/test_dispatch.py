"""The simulation dispatches with the reference policy (one implementation: the core's
``AtConfirm`` by default, property-tested against brute force in tests/core/test_dispatch.py)
and drops finished orders through the store's public ``forget_order``."""

from __future__ import annotations

from reference_api.dispatch import AtConfirm
from reference_api.store.memory import MemoryStore
from sim.model import Model
from tests.sim.conftest import load


def test_the_model_uses_the_core_dispatch_policy_and_memory_store() -> None:
    model = Model(load("baseline"), seed=1, replication=0)
    assert type(model.svc.dispatch) is AtConfirm
    assert type(model.store) is MemoryStore


def test_scarce_riders_far_away_are_still_found() -> None:
    d = AtConfirm(cell_km=0.05, ref_lat=19.07)
    for i in range(40):  # enough riders for the ring walk, all of them far away
        d.rider_available(f"far-{i:02d}", 19.25, 73.0 - i * 1e-4)
    d.rider_available("near", 19.0, 72.8)
    assert d.rider_for(18.95, 72.8) == "near"
    d.rider_unavailable("near")
    assert d.rider_for(18.95, 72.8) == "far-39"


def test_forget_order_drops_a_finished_order_from_every_index() -> None:
    from reference_api.statuses import OrderStatus
    from reference_api.store.base import OrderQuery
    from tests.core.conftest import make_world

    w = make_world()
    done = w.at(OrderStatus.DELIVERED)
    kept = w.at(OrderStatus.ORDER_CONFIRMED, customer=1)
    store = w.svc.store
    assert isinstance(store, MemoryStore)
    number = w.order(done).order_number
    rider_id = w.order(done).rider_id
    store.forget_order(done)
    store.forget_order(done)  # unknown ids are ignored
    assert store.get_order(done) is None and store.get_order(kept) is not None
    assert store.order_number_exists(number)  # numbers stay unique over the run
    for query in (
        OrderQuery(customer_id=w.customer(0).user_id),
        OrderQuery(vendor_id=w.order(kept).vendor_id),
        OrderQuery(rider_id=rider_id),
        OrderQuery(),
    ):
        _, found = store.query_orders(query)
        assert done not in [o.id for o in found]
    assert [o.id for o in store.vendor_queue(w.order(kept).vendor_id)] == [kept]
