"""The SQLite store against the store port: nested transactions, what commits and what rolls
back, the identity map, and everything the service keeps surviving a reopen."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from reference_api import bootstrap
from reference_api.clock import ManualClock
from reference_api.errors import OtpInvalid, ValidationFailed
from reference_api.fixtures import build_fixtures, seed
from reference_api.model import Timer, User
from reference_api.roles import SYSTEM_ACTOR
from reference_api.service import OrderService
from reference_api.store.base import OrderQuery
from reference_api.store.sqlite import SqliteStore


def _service(path: Path, clock: ManualClock) -> OrderService:
    svc = bootstrap(clock=clock, store=SqliteStore(path), seed=None)
    seed(svc, build_fixtures(2, 3, 2))
    return svc


def _place(svc: OrderService, customer_index: int = 0) -> str:
    fx = build_fixtures(2, 3, 2)
    order = svc.place_order(
        fx.customers[customer_index],
        vendor_id=fx.vendors[0].id,
        items=[{"name": "Margherita", "quantity": 2, "unit_price": "374.00"}],
        delivery_address={"latitude": 19.07, "longitude": 72.87},
    )
    return str(order["id"])


def test_settings_wal_and_normal_sync(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert store._db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    with pytest.raises(ValueError, match="synchronous"):
        SqliteStore(tmp_path / "t.db", synchronous="SOMETIMES")


def test_nested_transactions_commit_once_at_the_outermost(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    other = sqlite3.connect(path)
    with store.transaction():
        with store.transaction():
            store.add_user(User("u1", "One", "customer"))
        assert store.in_transaction
        assert other.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 0  # not yet
    assert not store.in_transaction
    assert other.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 1


def test_domain_errors_commit_other_errors_roll_back(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    with pytest.raises(OtpInvalid), store.transaction():
        store.add_user(User("kept", "Kept", "customer"))
        with store.transaction():
            raise OtpInvalid("wrong code; the counted attempt must stay")
    with pytest.raises(RuntimeError), store.transaction():
        store.add_user(User("lost", "Lost", "customer"))
        raise RuntimeError("a bug")
    assert store.get_user("kept") is not None
    assert store.get_user("lost") is None
    with store.transaction():  # usable again after both
        store.add_user(User("after", "After", "customer"))
    assert store.get_user("after") is not None


def test_identity_map_within_a_transaction_only(tmp_path: Path) -> None:
    svc = _service(tmp_path / "s.db", ManualClock())
    oid = _place(svc)
    store = svc.store
    assert isinstance(store, SqliteStore)
    with store.transaction():
        a = store.get_order(oid)
        b = store.get_order(oid)
        assert a is b
        _, listed = store.query_orders(OrderQuery())
        assert any(o is a for o in listed)
    assert store.get_order(oid) is not store.get_order(oid)


def test_a_wrong_otp_attempt_persists_through_the_service(tmp_path: Path) -> None:
    clock = ManualClock()
    svc = _service(tmp_path / "s.db", clock)
    fx = build_fixtures(2, 3, 2)
    oid = _place(svc)
    rest = fx.restaurants[0]
    svc.confirm(rest, oid)
    svc.start_preparing(rest, oid)
    svc.mark_ready(rest, oid)
    rider_id = svc.get_order(SYSTEM_ACTOR, oid)["delivery_person"]
    rider = next(r for r in fx.riders if r.user_id == rider_id)
    code = svc.get_otp(rest, oid, otp_type="pickup")["otp"]
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(OtpInvalid), svc.store.transaction():
        svc.pickup(rider, oid, otp=wrong)
    reopened = SqliteStore(tmp_path / "s.db")
    order = reopened.get_order(oid)
    assert order is not None and order.otps["pickup"].attempts == 1


def test_everything_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    clock = ManualClock()
    svc = _service(path, clock)
    fx = build_fixtures(2, 3, 2)
    oid = _place(svc)
    svc.confirm(fx.restaurants[0], oid, estimated_prep_time=15)
    online = svc.place_order(
        fx.customers[1],
        vendor_id=fx.vendors[1].id,
        items=[{"name": "Soup", "quantity": 1, "unit_price": "99.50"}],
        delivery_address={"latitude": 19.0, "longitude": 72.9, "title": "Work"},
        payment_method="online",
    )["id"]
    svc.record_payment(SYSTEM_ACTOR, online, success=True, reference="t-1")
    svc.cancel(fx.customers[1], online, reason="no longer hungry")
    before = {o: svc.get_order(SYSTEM_ACTOR, o) for o in (oid, online)}
    history = {o: svc.history(SYSTEM_ACTOR, o) for o in (oid, online)}
    due = svc.next_timer_due()
    svc.store.close()  # type: ignore[attr-defined]

    again = bootstrap(clock=clock, store=SqliteStore(path), seed=None)
    assert {o: again.get_order(SYSTEM_ACTOR, o) for o in (oid, online)} == before
    assert {o: again.history(SYSTEM_ACTOR, o) for o in (oid, online)} == history
    assert again.next_timer_due() == due
    clock.advance(10_000)
    fired = again.process_due_timers()
    clock.advance(10_000)
    fired += again.process_due_timers()
    assert ("refund_step", online, "refund_processing") in fired
    assert ("refund_step", online, "refund_completed") in fired
    assert again.get_order(SYSTEM_ACTOR, online)["order_status"] == "REFUND_COMPLETED"


def test_queries_match_the_memory_store(tmp_path: Path) -> None:
    """Both stores answer the service's reads the same way for the same calls."""
    results = []
    for store in (None, SqliteStore(tmp_path / "s.db")):
        clock = ManualClock()
        svc = bootstrap(clock=clock, store=store, seed=7)
        fx = build_fixtures(2, 3, 1)
        seed(svc, fx)
        ids = []
        for i in range(6):
            clock.advance(30)
            ids.append(_place(svc, i % 3))
        svc.confirm(fx.restaurants[0], ids[0])
        svc.confirm(fx.restaurants[0], ids[1])  # waits: one rider only
        svc.cancel(fx.customers[2], ids[2], reason="x")
        with pytest.raises(ValidationFailed):
            svc.list_orders(fx.customers[0], page=0)
        results.append(
            (
                svc.list_orders(fx.customers[0], page_size=1),
                svc.list_orders(fx.customers[2], include_cancelled=True),
                svc.list_orders(SYSTEM_ACTOR, status="ORDER_PLACED", page=2, page_size=2),
                svc.restaurant_queue(fx.restaurants[0]),
                svc.available_orders(SYSTEM_ACTOR),
                svc.list_orders(fx.riders[0]),
            )
        )
    assert results[0] == results[1]


def test_timers_pop_in_due_order(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    with store.transaction():
        for due, kind in ((30.0, "c"), (10.0, "a"), (20.0, "b"), (10.0, "a2")):
            store.add_timer(Timer(due, kind, "o"))
    assert store.next_timer_due() == 10.0
    with store.transaction():
        assert [t.kind for t in store.pop_due_timers(20.0)] == ["a", "a2", "b"]
    assert store.next_timer_due() == 30.0
    with store.transaction():
        assert store.pop_due_timers(20.0) == []


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_timers_disarm_and_rearm_alike_in_both_stores(tmp_path: Path, kind: str) -> None:
    """One pending timer per (order, kind): cancelling drops it, arming again replaces it."""
    from reference_api.store.memory import MemoryStore

    store = MemoryStore() if kind == "memory" else SqliteStore(tmp_path / "t.db")
    with store.transaction():
        store.add_timer(Timer(10.0, "pickup_timeout", "o1"))
        store.add_timer(Timer(5.0, "pickup_timeout", "o2"))
        store.add_timer(Timer(7.0, "confirm_timeout", "o2"))
        store.cancel_timer("o2", "pickup_timeout")
        store.cancel_timer("o3", "pickup_timeout")  # nothing armed: no error
    assert store.next_timer_due() == 7.0
    with store.transaction():
        store.add_timer(Timer(20.0, "pickup_timeout", "o1"))  # re-armed: replaces due 10
        assert store.pop_due_timers(15.0) == [Timer(7.0, "confirm_timeout", "o2")]
    assert store.next_timer_due() == 20.0
    with store.transaction():
        assert store.pop_due_timers(20.0) == [Timer(20.0, "pickup_timeout", "o1")]
        store.cancel_timer("o1", "pickup_timeout")  # already fired: nothing to drop
    assert store.next_timer_due() is None


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_timers_of_mixed_kinds_and_orders_pop_by_due_then_arming_order(
    tmp_path: Path, kind: str
) -> None:
    """The memory store keeps a FIFO per kind and a heap for late arrivals; both stores must
    give the same order as one sorted list."""
    import random

    from reference_api.store.memory import MemoryStore

    store = MemoryStore() if kind == "memory" else SqliteStore(tmp_path / "t.db")
    rng = random.Random(7)
    armed: dict[tuple[str, str], tuple[float, int]] = {}
    with store.transaction():
        for seq in range(300):
            oid, k = f"o{rng.randrange(60)}", rng.choice(["a", "b", "c"])
            due = float(rng.randrange(50))  # many ties, often out of order within a kind
            if rng.random() < 0.2:
                store.cancel_timer(oid, k)
                armed.pop((oid, k), None)
                continue
            store.add_timer(Timer(due, k, oid))
            armed[(oid, k)] = (due, seq)
    expected = [Timer(d, k, o) for (o, k), (d, _) in sorted(armed.items(), key=lambda x: x[1])]
    assert store.next_timer_due() == expected[0].due
    with store.transaction():
        got = store.pop_due_timers(24.0) + store.pop_due_timers(1000.0)
    assert got == expected
    assert store.next_timer_due() is None


def test_orders_stored_with_an_otp_hash_still_load(tmp_path: Path) -> None:
    """Files written before D7 dropped the stored hash of the code keep working: the hash is
    ignored and the code is re-derived as before."""
    import orjson

    from reference_api.store.sqlite import order_from_json, order_to_json

    clock = ManualClock()
    svc = _service(tmp_path / "s.db", clock)
    fx = build_fixtures(2, 3, 2)
    oid = _place(svc)
    svc.confirm(fx.restaurants[0], oid)
    svc.start_preparing(fx.restaurants[0], oid)
    svc.mark_ready(fx.restaurants[0], oid)
    order = svc.store.get_order(oid)
    assert order is not None
    doc = orjson.loads(order_to_json(order))
    for fields in doc["otps"].values():
        fields.insert(2, "00" * 32)  # the old layout: type, nonce, code hash, issued, ...
    old = order_from_json(orjson.dumps(doc))
    record = old.otps["pickup"]
    assert record == order.otps["pickup"]
    code = svc.get_otp(fx.restaurants[0], oid, otp_type="pickup")["otp"]
    assert svc.codec.matches(oid, record, code)


def test_a_file_with_two_timers_of_a_kind_opens_with_the_latest(tmp_path: Path) -> None:
    """Before one-timer-per-kind, nothing stopped duplicates; opening such a file keeps the
    latest armed of each rather than failing on the unique index."""
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE timers (seq INTEGER PRIMARY KEY AUTOINCREMENT, due REAL NOT NULL,"
        " kind TEXT NOT NULL, order_id TEXT NOT NULL);"
        "INSERT INTO timers (due, kind, order_id) VALUES (50, 'pickup_timeout', 'o1');"
        "INSERT INTO timers (due, kind, order_id) VALUES (70, 'pickup_timeout', 'o1');"
        "INSERT INTO timers (due, kind, order_id) VALUES (60, 'confirm_timeout', 'o1');"
    )
    db.commit()
    db.close()
    store = SqliteStore(path)
    with store.transaction():
        assert store.pop_due_timers(100.0) == [
            Timer(60.0, "confirm_timeout", "o1"),
            Timer(70.0, "pickup_timeout", "o1"),
        ]


def test_memory_timers_agree_with_a_plain_reference_step_by_step() -> None:
    """Arming, disarming, popping and asking for the next due time, interleaved at random, give
    what a sorted dict of armed timers gives (the memory store caches its earliest entry)."""
    import random

    from reference_api.store.memory import MemoryStore

    store, rng = MemoryStore(), random.Random(3)
    armed: dict[tuple[str, str], tuple[float, int]] = {}
    now = 0.0
    for seq in range(3000):
        op = rng.random()
        oid, kind = f"o{rng.randrange(40)}", rng.choice(["a", "b", "c", "d"])
        if op < 0.45:
            due = now + rng.choice([5.0, 10.0, 30.0, rng.uniform(0, 40)])
            store.add_timer(Timer(due, kind, oid))
            armed[(oid, kind)] = (due, seq)
        elif op < 0.7:
            store.cancel_timer(oid, kind)
            armed.pop((oid, kind), None)
        elif op < 0.85:
            now += rng.uniform(0, 8)
            expected = sorted(
                ((d, s, k) for k, (d, s) in armed.items() if d <= now), key=lambda x: x[:2]
            )
            got = store.pop_due_timers(now)
            assert got == [Timer(d, k[1], k[0]) for d, _, k in expected]
            for _, _, k in expected:
                del armed[k]
        first = min(armed.values(), default=None)
        assert store.next_timer_due() == (None if first is None else first[0])
