"""Whatever the settings: orders are conserved, every history is a legal path of the transition
table, the logs agree with each other, and the unhappy paths all happen when provoked."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from reference_api.model import Order, Rider
from reference_api.statuses import ACTIVE, DELIVERY_PARTNER_ASSIGNED, TRANSITIONS, OrderStatus
from reference_api.store.memory import MemoryStore
from tests.sim.conftest import Run, load, run_scenario

S = OrderStatus


@pytest.fixture(scope="module")
def stressed() -> Run:
    """The cancellation scenario, cut short so that some orders are still in flight at the end."""
    s = load("cancellations", ["period.duration_h=1.5", "period.drain_h=0.25"])
    return run_scenario(s, seed=11, replications=2)


@pytest.fixture(scope="module")
def cancellations() -> Run:
    return run_scenario(load("cancellations"), seed=11, replications=2)


def test_conservation_placed_equals_outcomes_plus_in_flight(stressed: Run) -> None:
    orders = stressed.frame("orders")
    calls = stressed.frame("api_calls")
    for rep, o in orders.groupby("replication"):
        placed = len(o)
        status = o.final_status.astype(str)
        reason = o.cancel_reason.astype(str)
        delivered = (status == "DELIVERED").sum()
        rejected = (reason == "restaurant_rejected").sum()
        failed = (status == "PAYMENT_FAILED").sum()
        cancelled = (
            status.isin(["CANCELLED", "REFUND_COMPLETED"]) & (reason != "restaurant_rejected")
        ).sum()
        in_flight = status.isin([s.value for s in ACTIVE]).sum()
        assert (reason[status.isin([s.value for s in ACTIVE])] == "").all()
        assert placed == delivered + cancelled + rejected + failed + in_flight
        assert in_flight > 0, "the short drain should leave orders in flight"
        placed_calls = calls[
            (calls.replication == rep)
            & (calls.endpoint == "POST /api/orders/")
            & (calls.outcome == "ok")
        ]
        assert len(placed_calls) == placed
        assert sorted(o.order_idx) == list(range(placed))


def legal_path(statuses: list[str]) -> bool:
    path = [s for s in statuses if s != DELIVERY_PARTNER_ASSIGNED]
    path = [s for i, s in enumerate(path) if i == 0 or s != path[i - 1]]
    if path[:2] == ["ORDER_PLACED", "PAYMENT_PENDING"]:  # online orders (D3)
        path = path[1:]
    if path[0] not in ("ORDER_PLACED", "PAYMENT_PENDING"):
        return False
    return all(S(b) in TRANSITIONS[S(a)] for a, b in itertools.pairwise(path))


def test_every_history_is_a_legal_path_and_ends_in_the_final_status(stressed: Run) -> None:
    events = stressed.frame("events").sort_values(["replication", "order_idx", "seq"])
    orders = stressed.frame("orders").set_index(["replication", "order_idx"])
    checked = 0
    for key, hist in events.groupby(["replication", "order_idx"]):
        statuses = hist.status.astype(str).tolist()
        assert legal_path(statuses), (key, statuses)
        last = [s for s in statuses if s != DELIVERY_PARTNER_ASSIGNED][-1]
        assert last == str(orders.loc[key, "final_status"])
        checked += 1
    assert checked == len(orders)


def test_the_path_checker_rejects_illegal_paths() -> None:
    assert legal_path(["ORDER_PLACED", "ORDER_CONFIRMED", "PREPARING"])
    assert not legal_path(["ORDER_PLACED", "PREPARING"])
    assert not legal_path(["ORDER_PLACED", "ORDER_CONFIRMED", "DELIVERED"])
    assert not legal_path(["ORDER_CONFIRMED"])


def test_phase_timestamps_are_ordered(stressed: Run) -> None:
    o = stressed.frame("orders")
    chain = ["placed", "confirmed", "prep_start", "ready", "picked_up", "out_for_delivery"]
    for a, b in itertools.pairwise(chain):
        both = o[[a, b]].dropna()
        assert (both[b] >= both[a]).all(), (a, b)
    done = o.dropna(subset=["delivered"])
    assert (done.delivered >= done.out_for_delivery).all()
    assert (done.rider_arrived <= done.picked_up).all()


def test_every_cancel_path_and_otp_retry_happens(cancellations: Run) -> None:
    o = cancellations.frame("orders")
    reasons = o.cancel_reason.astype(str).value_counts()
    for reason in (
        "customer_changed_mind",
        "customer_impatient",
        "restaurant_out_of_stock",
        "restaurant_rejected",
        "confirm_timeout",
        "pickup_timeout",
        "payment_declined",
        "payment_timeout",
    ):
        assert reasons.get(reason, 0) > 0, reason
    actors = o[o.cancel_reason.astype(str) != ""].cancel_actor.astype(str).value_counts()
    assert {"customer", "restaurant", "system"} <= {a for a, n in actors.items() if n > 0}
    calls = cancellations.frame("api_calls")
    outcomes = calls.groupby(["endpoint", "outcome"], observed=True).size()
    assert outcomes.get(("POST /api/orders/[id]/pickup/", "otp_invalid"), 0) > 0
    assert outcomes.get(("POST /api/orders/[id]/complete-delivery/", "otp_invalid"), 0) > 0
    assert outcomes.get(("POST /api/orders/[id]/otp/resend/", "ok"), 0) > 0
    # customers pressing cancel after preparation started are refused, and that is logged
    assert outcomes.get(("POST /api/orders/[id]/cancel/", "invalid_transition"), 0) > 0
    refunds = o.refund_status.astype(str).value_counts()
    assert refunds.get("completed", 0) > 0 and refunds.get("failed", 0) > 0
    assert (o.final_status.astype(str) == "REFUND_COMPLETED").sum() == refunds["completed"]


def test_timeline_replays_exactly_the_order_calls(cancellations: Run) -> None:
    calls = cancellations.frame("api_calls")
    tl = cancellations.frame("timeline")
    per_order = calls[calls.order_idx >= 0]
    assert len(tl) == len(per_order)
    first = tl[tl.seq == 0]
    assert (first.endpoint.astype(str) == "POST /api/orders/").all()
    assert (first.offset_s == 0).all()
    assert (tl.groupby(["replication", "order_idx"]).offset_s.diff().dropna() >= 0).all()
    wrong = tl[tl.params.astype(str).str.contains('"wrong_otp":true')]
    assert len(wrong) > 0 and (wrong.expected_outcome.astype(str) != "ok").all()
    confirms = tl[tl.endpoint.astype(str).str.endswith("/confirm/")]
    assert confirms.params.astype(str).str.contains("estimated_prep_time").all()
    orders = cancellations.frame("orders")
    merged = first.merge(orders, on=["replication", "order_idx"])
    assert (merged.arrival_s == merged.placed).all()
    assert (merged.vendor_idx_x == merged.vendor_idx_y).all()
    assert (merged.payment_method_x.astype(str) == merged.payment_method_y.astype(str)).all()


def test_resource_samples_are_consistent(cancellations: Run) -> None:
    res = cancellations.frame("resources")
    riders = cancellations.scenario.fleet.riders
    assert (res.riders_off + res.riders_idle + res.riders_busy == riders).all()
    states = [
        c
        for c in res.columns
        if c.startswith("orders_") and c not in ("orders_in_system", "orders_waiting_for_rider")
    ]
    assert (res[states].sum(axis=1) == res.orders_in_system).all()
    assert (res[res.columns.drop("replication")] >= 0).all().all()
    assert isinstance(res, pd.DataFrame)


def test_common_random_numbers_across_fleet_sizes() -> None:
    """Changing the fleet must not change who orders what, when, or how long it cooks."""
    small = run_scenario(load("baseline", ["fleet.riders=20"]), seed=4)
    large = run_scenario(load("baseline", ["fleet.riders=60"]), seed=4)
    a, b = small.frame("orders"), large.frame("orders")
    cols = ["placed", "vendor_idx", "customer_idx", "payment_method"]
    assert a[cols].astype(str).equals(b[cols].astype(str))
    prep_a = (a.ready - a.prep_start).dropna()
    prep_b = (b.ready - b.prep_start).dropna()
    common = prep_a.index.intersection(prep_b.index)
    assert len(common) > 50
    assert (prep_a[common] - prep_b[common]).abs().max() < 1e-6


def test_finished_orders_are_dropped_from_the_store_but_recorded() -> None:
    from sim.model import Model

    model = Model(load("baseline", ["period.duration_h=1"]), seed=2, replication=0)
    result = model.run()
    # everything finished during the drain, so the store holds no order any more
    assert model.store._orders == {}
    assert all(not ids for ids in model.store._by_vendor.values())
    assert result.recorder.orders().num_rows == result.placed > 0


def test_a_period_without_orders_still_runs_to_its_end() -> None:
    run = run_scenario(load("baseline", ["demand.scale=0.000001"]), seed=1)
    kpis = run.outputs[0].kpis
    assert kpis["orders_placed"] == 0 and kpis["rider_utilisation"] == 0.0
    assert run.outputs[0].end_time == pytest.approx(5400.0)
    assert run.tables["timeline"].num_rows == 0


def test_impatient_customers_press_cancel_exactly_at_their_deadline() -> None:
    """Patience timeouts are scheduled late (see ``Customers._patience_from``): every unfinished
    order's customer still presses cancel at placement + their drawn patience, and nobody
    whose order ended earlier does."""
    from sim.customers import PATIENCE_LEAD
    from sim.model import Model
    from sim.plan import BLOCK

    s = load(
        "baseline",
        [
            "vendors.kitchen_slots=1",
            'customers.patience={ dist = "triangular", low_min = 8, mode_min = 12, high_min = 20 }',
            "period.duration_h=1.5",
        ],
    )
    assert s.customers.patience is not None and s.customers.patience.min_s > PATIENCE_LEAD
    model = Model(s, 5, 0)
    result = model.run()
    calls = result.recorder.api_calls().to_pandas()
    calls["params"] = result.recorder.call_params_column().to_pandas().astype(str)
    orders = result.recorder.orders().to_pandas().set_index("order_idx")
    pressed = calls[
        (calls.role == "customer") & (calls.endpoint == "POST /api/orders/[id]/cancel/")
    ]
    impatient = pressed[pressed.params.str.contains("Taking too long")]
    expected = {}
    for idx, row in orders.iterrows():
        blk = model.plan.block(int(idx) // BLOCK)
        patience = blk.patience
        assert patience is not None
        deadline = row.placed + patience[int(idx) % BLOCK]
        ended = row.ended if row.ended == row.ended else float("inf")  # NaN: in flight
        # an impatient cancel ends the order at its deadline (to float rounding)
        if deadline <= ended + 1e-6 and deadline <= result.end_time:
            expected[int(idx)] = deadline
    assert len(expected) > 20, "the single kitchen slot should leave customers waiting"
    assert len(expected) < len(orders), "some orders should end before their deadline"
    got = dict(zip(impatient.order_idx.astype(int), impatient.t, strict=True))
    assert got.keys() == expected.keys()
    for idx, t in got.items():
        assert t == pytest.approx(expected[idx], abs=1e-6)


def test_refund_outcomes_come_from_their_own_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refunds that fail are drawn by the injected gateway from the ``refunds`` stream, not by
    the service: reseeding the service's own randomness (ids, order numbers, OTP nonces)
    changes no order's outcome, failed refunds included."""
    import random

    import sim.bridge

    s = load("cancellations", ["period.duration_h=1", "refunds.failure_rate=0.5"])
    before = run_scenario(s).frame("orders")
    monkeypatch.setattr(sim.bridge, "service_rng", lambda gen: random.Random(12345))
    after = run_scenario(s).frame("orders")
    assert (before.refund_status.astype(str) == "failed").sum() > 0
    columns = ["final_status", "refund_status", "cancel_reason", "delivered"]
    pd.testing.assert_frame_equal(before[columns], after[columns])


class _HistoryChecker:
    """Checks each order's history the moment the ledger is about to forget it (its recording
    is then final), and each assignment's bundle as it is made (an ``events.Observer``)."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.checked: dict[str, Order] = {}
        self.bundles: set[str] = set()
        self._forget = store.forget_order

    def forget_order(self, order_id: str) -> None:
        order = self.store.get_order(order_id)
        assert order is not None
        statuses = [e.status for e in order.history]
        assert legal_path(statuses), (order.order_number, statuses)
        moves = [s for s in statuses if s != DELIVERY_PARTNER_ASSIGNED]
        assert moves[-1] == order.status
        if order.payment_method == "online":  # placed as PAYMENT_PENDING: not a move (D3)
            moves = moves[1:]
        changes = sum(1 for a, b in itertools.pairwise(moves) if a != b)
        assert changes == order.version, "every status change is in the history"
        assert statuses.count(DELIVERY_PARTNER_ASSIGNED) <= 1, "an order is assigned once"
        assert order.id not in self.checked
        self.checked[order.id] = order
        self._forget(order_id)

    def moved(self, order: Order, previous: OrderStatus, now: float) -> None:
        assert order.status in TRANSITIONS[previous], (previous, order.status)

    def assigned(self, order: Order, rider: Rider, now: float) -> None:
        assert order.rider_id == rider.id and order.id in rider.order_ids
        assert len(set(rider.order_ids)) == len(rider.order_ids)
        if order.bundle is not None:
            assert order.bundle_id is not None and order.id in order.bundle
            assert len(order.bundle) > 1
            self.bundles.add(order.bundle_id)
            for other_id in order.bundle:
                other = self.store.get_order(other_id)
                assert other is not None and other.vendor_id == order.vendor_id
                if other.rider_id is not None:  # a bundle's orders are assigned one by one
                    assert other.rider_id == rider.id
                    assert other.bundle_id == order.bundle_id and other.bundle == order.bundle


@pytest.mark.parametrize("policy", ["at_confirm", "just_in_time", "rolling_horizon"])
def test_every_policy_keeps_histories_legal_and_rolling_horizon_bundles(
    policy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sim.model import Model

    base = load("baseline")
    s = base.model_copy(update={"dispatch": base.dispatch.model_copy(update={"policy": policy})})
    model = Model(s, seed=3, replication=0)
    assert model.svc.dispatch.name == policy
    checker = _HistoryChecker(model.store)
    monkeypatch.setattr(model.store, "forget_order", checker.forget_order)
    model.svc.observers.append(checker)
    result = model.run()
    assert len(checker.checked) == result.placed > 100, "every order was checked once"
    assert model.store._orders == {}
    sizes = result.recorder.orders().column("bundle_size").to_pylist()
    assert len(sizes) == result.placed
    if policy == "rolling_horizon":
        assert any(n > 1 for n in sizes), "rolling_horizon should bundle some orders"
        assert checker.bundles
        bundled = [o for o in checker.checked.values() if o.bundle is not None]
        assert sum(n > 1 for n in sizes) == len(bundled)
    else:
        assert all(n <= 1 for n in sizes) and not checker.bundles
