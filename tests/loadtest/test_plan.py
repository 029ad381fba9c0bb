"""The schedule: deterministic, split across workers without overlap, sized for its peak."""

from __future__ import annotations

from loadtest.identities import parse_identities
from loadtest.minting import reference_identities
from loadtest.plan import PlannedCall, classify
from loadtest.sources import plan_from_scenario
from tests.loadtest.test_journeys import EVERY_PATH


def _plan(seed: int = 7):  # type: ignore[no-untyped-def]
    ids = reference_identities()
    return plan_from_scenario(
        EVERY_PATH, ids, speedup=300, duration_s=4, background=0.05, seed=seed
    )


def test_plan_is_deterministic_and_shares_partition_it() -> None:
    a, b = _plan(), _plan()
    assert [(o.key, o.arrival_s, o.calls) for o in a.orders] == [
        (o.key, o.arrival_s, o.calls) for o in b.orders
    ]
    for n in (1, 2, 3, 5):
        shares = [a.share(i, n) for i in range(n)]
        keys = [o.key for s in shares for o in s]
        assert sorted(keys) == sorted(o.key for o in a.orders)
        assert len(keys) == len(set(keys))
    assert a.pool_size() > a.peak_concurrency() > 0
    assert all(c.offset_s >= 0 for o in a.orders for c in o.calls)
    assert all(
        [c.offset_s for c in o.calls] == sorted(c.offset_s for c in o.calls) for o in a.orders
    )


def test_scenario_overrides_reach_the_schedule() -> None:
    ids = reference_identities()
    base = plan_from_scenario(EVERY_PATH, ids, speedup=300, duration_s=4, background=0, seed=7)
    doubled = plan_from_scenario(
        EVERY_PATH, ids, speedup=300, duration_s=4, background=0, seed=7,
        overrides=("demand.scale=2",),
    )  # fmt: skip
    assert 1.5 < len(doubled.orders) / len(base.orders) < 2.5


def test_refused_calls_do_not_decide_the_path() -> None:
    calls = [
        PlannedCall(0, "customer", "place_order"),
        PlannedCall(1, "restaurant", "confirm"),
        PlannedCall(2, "customer", "cancel", expected="invalid_transition"),
        PlannedCall(3, "rider", "complete_delivery", {"wrong_otp": True}, "otp_invalid"),
        PlannedCall(4, "rider", "complete_delivery"),
    ]
    assert classify(calls, "cod") == "delivered_cod"
    assert classify(calls[:3], "online") == "abandoned"


def test_identities_round_trip() -> None:
    ids = reference_identities()
    again = parse_identities(ids.as_json(), "round trip")
    assert again.customers == ids.customers and again.vendors == ids.vendors
    # minted identities know every fixture rider, not only the ones listed
    from reference_api.fixtures import fixture_id

    far = fixture_id("rider", 250)
    rider = ids.rider(far)
    assert rider is not None and rider.user_id == far
    assert ids.rider("someone-else") is None
