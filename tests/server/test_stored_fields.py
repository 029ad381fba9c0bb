"""Every field the model declares survives the SQLite store: a field added to ``Order`` (or to a
record it holds, or to a vendor, user or rider) is covered here with no edit to this file, and
fails here if it is not persisted. The values are built from the declarations, each one unlike
the field's default, so a field the store forgets comes back as its default and differs.

Also pinned: the stored layout of files already written, documents from before a field was
added, columns declared since a file was written, and the columns agreeing with the documents.
"""

from __future__ import annotations

import dataclasses
import inspect
import sqlite3
import types
import typing
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import orjson
import pytest

from reference_api.clock import ManualClock
from reference_api.fixtures import build_fixtures
from reference_api.model import Order, OtpRecord, Rider, Timer, TrackingEntry, User, Vendor
from reference_api.roles import SYSTEM_ACTOR
from reference_api.states import PaymentStatus, RefundStatus, TimerKind
from reference_api.statuses import OrderStatus
from reference_api.store.sqlite import SqliteStore, order_from_json, order_to_json
from reference_api.store.sqlite_schema import ORDER_COLUMNS
from tests.server.test_sqlite_store import _place, _service

MISSING = object()


def _fields(cls: type) -> list[tuple[str, Any, Any]]:
    """``(name, type, default or MISSING)`` per declared field, read independently of the store:
    a dataclass's fields, or the constructor of a slotted class, whose slots must all be
    parameters (so an attribute added to the class is not silently outside this test)."""
    if dataclasses.is_dataclass(cls):
        hints = typing.get_type_hints(cls)
        found = []
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            else:
                default = MISSING
            found.append((f.name, hints[f.name], default))
        return found
    params = inspect.signature(cls, eval_str=True).parameters.values()
    assert {s.lstrip("_") for s in cls.__slots__} == {p.name for p in params}, cls
    return [(p.name, p.annotation, MISSING if p.default is p.empty else p.default) for p in params]


def _sample(hint: Any, salt: int) -> Any:
    """A value of type ``hint``, distinct per ``salt``, and never a field's default."""
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        return _sample(next(a for a in typing.get_args(hint) if a is not type(None)), salt)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list:
        return [_sample(args[0], salt), _sample(args[0], salt + 1)]
    if origin is tuple and args[1:] == (Ellipsis,):
        return (_sample(args[0], salt), _sample(args[0], salt + 1))
    if origin is dict:
        return {f"key{salt}": _sample(args[1], salt + 2), f"other{salt}": _sample(args[1], salt)}
    if hint is Any:
        return f"any{salt}"
    if hint is bool:
        return True  # every bool field defaults to False
    if hint in (str, int, float):
        return hint(f"{salt}") if hint is not str else f"text{salt}"
    if hint is Decimal:
        return Decimal(f"{salt}.25")
    if isinstance(hint, type) and issubclass(hint, Enum):
        members = list(hint)
        return members[salt % (len(members) - 1) + 1]  # never the first, where defaults are
    if isinstance(hint, type) and hint.__module__ == "reference_api.model":
        values = []
        for i, (name, field_hint, default) in enumerate(_fields(hint)):
            value = _sample(field_hint, salt * 100 + i + 3)
            assert value != default, f"{hint.__name__}.{name}: the sample equals the default"
            values.append(value)
        return hint(*values)
    raise TypeError(f"no sample for {hint!r}: teach tests/server/test_stored_fields.py one")


def _assert_same(stored: Any, loaded: Any, where: str) -> None:
    """Equal field by field along the declarations, and of the same types (an enum must come
    back as the enum, not its text)."""
    assert type(loaded) is type(stored), f"{where}: {type(loaded)} is not {type(stored)}"
    if isinstance(stored, list | tuple):  # a Timer is a named tuple
        assert len(loaded) == len(stored), where
        for i, (a, b) in enumerate(zip(stored, loaded, strict=True)):
            _assert_same(a, b, f"{where}[{i}]")
    elif isinstance(stored, dict):
        assert loaded.keys() == stored.keys(), where
        for key in stored:
            _assert_same(stored[key], loaded[key], f"{where}[{key!r}]")
    elif type(stored).__module__ == "reference_api.model":
        for name, _, _ in _fields(type(stored)):
            _assert_same(getattr(stored, name), getattr(loaded, name), f"{where}.{name}")
    else:
        assert loaded == stored, f"{where}: stored {stored!r}, loaded {loaded!r}"


def test_every_declared_field_survives_a_reopen(tmp_path: Path) -> None:
    order, rider = _sample(Order, 1), _sample(Rider, 2)
    vendor, user = _sample(Vendor, 3), _sample(User, 4)
    path = tmp_path / "every-field.db"
    store = SqliteStore(path)
    with store.transaction():
        store.add_order(order)
        store.add_vendor(vendor)
        store.add_user(user)
        store.save_rider(rider)
        store.add_timer(Timer(5.0, TimerKind.REFUND_STEP, order.id))
    store.close()

    again = SqliteStore(path)
    _assert_same(order, again.get_order(order.id), "Order")
    _assert_same(rider, again.get_rider(rider.id), "Rider")
    _assert_same(vendor, again.get_vendor(vendor.id), "Vendor")
    _assert_same(user, again.get_user(user.id), "User")
    with again.transaction():
        (timer,) = again.pop_due_timers(10.0)
    _assert_same(Timer(5.0, TimerKind.REFUND_STEP, order.id), timer, "Timer")
    assert type(timer.kind) is TimerKind

    changed = _sample(Order, 5)  # every field changed again, through save_order
    changed.id, changed.order_number = order.id, order.order_number
    with again.transaction():
        again.save_order(changed)
    again.close()
    _assert_same(changed, SqliteStore(path).get_order(order.id), "Order after save")


#: A document as the hand-written codec before ``store.codec`` wrote it, byte for byte: the
#: layout of every file already written (records are arrays in field order).
WRITTEN_BEFORE = (
    b'{"id":"7f0c4c1e-0000-4000-8000-00000000000a","order_number":"ORD10000001",'
    b'"customer_id":"c1","customer_name":"Customer 1","vendor_id":"v1",'
    b'"vendor_name":"Pizza Palace","status":"CANCELLED","items":[["Margherita",2,"374.00",'
    b'"m-1"],["Soda",1,"1.50",null]],"address":["Home","1 Sample Street",19.07,72.87,1],'
    b'"restaurant_lat":19.0835,"restaurant_lon":72.8777,"subtotal":"749.50",'
    b'"delivery_fee":"25.00","tax_amount":"37.48","total_amount":"811.98",'
    b'"payment_method":"online","payment_status":"refunded","placed_at":1705312800.0,'
    b'"estimated_delivery_time":1705314999.048957,"delivery_status":"cancelled",'
    b'"rider_id":"r1","rider_name":"Rider 1","prep_minutes":15,"confirmed_at":1705312800.0,'
    b'"estimated_ready_time":1705313700.0,"ready_at":null,"picked_up_at":null,'
    b'"delivered_at":null,"cancelled_at":1705312900.0,"cancel_reason":"no longer hungry",'
    b'"cancelled_by":"customer","delivery_notes":"ring twice","refund":["rf-1","811.98",'
    b'"completed",1705312900.0,1705313100.0],"otps":{"pickup":["pickup","bbbd100b9a064b45",'
    b'1705313460.0,1705314360.0,1,0,false,false]},"history":[["h-1","ORDER_PLACED",'
    b'"Order placed by customer",1705312800.0,"Customer 1","customer","c1",{}],["h-2",'
    b'"PAYMENT_SUCCESS","Payment received",1705312800.0,"System","system","s",'
    b'{"transaction_id":"t-1","amount":"811.98"}]],"version":7}'
)


def test_documents_already_written_load_and_are_written_the_same() -> None:
    order = order_from_json(WRITTEN_BEFORE)
    written, rewritten = orjson.loads(WRITTEN_BEFORE), orjson.loads(order_to_json(order))
    assert {key: rewritten[key] for key in written} == written  # fields added since: extra keys
    assert order.status is OrderStatus.CANCELLED
    assert order.payment_status is PaymentStatus.REFUNDED
    assert order.refund is not None and order.refund.status is RefundStatus.COMPLETED
    assert order.refund.amount == Decimal("811.98")
    assert order.items[0].unit_price == Decimal("374.00") and order.items[0].menu_item == "m-1"
    assert order.otps["pickup"] == OtpRecord(
        "pickup", "bbbd100b9a064b45", 1705313460.0, 1705314360.0, 1
    )
    metadata = {"transaction_id": "t-1", "amount": "811.98"}
    assert order.history[1] == TrackingEntry(
        "h-2",
        "PAYMENT_SUCCESS",
        "Payment received",
        1705312800.0,
        "System",
        "system",
        "s",
        metadata,
    )


def test_a_document_from_before_a_field_was_added_takes_its_default() -> None:
    """What an older version wrote lacks the fields declared since: those with a default load
    as it (at the top level and at the end of a record); one without fails, naming the order."""
    doc = orjson.loads(WRITTEN_BEFORE)
    del doc["delivery_notes"], doc["version"]
    doc["items"][0].pop()  # menu_item
    doc["otps"]["pickup"][4:] = []  # attempts, resends, verified, consumed
    order = order_from_json(orjson.dumps(doc))
    assert order.delivery_notes is None and order.version == 0
    assert order.items[0].menu_item is None and order.items[1].name == "Soda"
    assert order.otps["pickup"].attempts == 0 and not order.otps["pickup"].consumed
    assert order.total_amount == Decimal("811.98")

    del doc["customer_id"]
    with pytest.raises(ValueError, match="7f0c4c1e-0000-4000-8000-00000000000a"):
        order_from_json(orjson.dumps(doc))
    with pytest.raises(ValueError, match="does not fit"):
        order_from_json(WRITTEN_BEFORE.replace(b'"refunded"', b'"mislaid"'))  # an unknown state


def test_the_indexed_columns_agree_with_the_stored_documents(tmp_path: Path) -> None:
    """A column a save does not rewrite must hold a field that never changes after placement."""
    clock = ManualClock()
    svc = _service(tmp_path / "s.db", clock)
    fx = build_fixtures(2, 3, 2)
    delivered, cancelled = _place(svc), _place(svc, 1)
    rest = fx.restaurants[0]
    svc.confirm(rest, delivered, estimated_prep_time=15)
    svc.start_preparing(rest, delivered)
    svc.mark_ready(rest, delivered)
    rider_id = svc.get_order(SYSTEM_ACTOR, delivered)["delivery_person"]
    rider = next(r for r in fx.riders if r.user_id == rider_id)
    svc.pickup(rider, delivered, otp=svc.get_otp(rest, delivered, otp_type="pickup")["otp"])
    svc.cancel(fx.customers[1], cancelled, reason="x")
    store = svc.store
    assert isinstance(store, SqliteStore)
    rows = store._db.execute(f"SELECT {', '.join(ORDER_COLUMNS)}, data FROM orders").fetchall()
    assert len(rows) == 2
    for *columns, data in rows:
        order = order_from_json(data)
        assert columns == [getattr(order, c) for c in ORDER_COLUMNS]


def test_a_file_without_a_declared_column_gains_it_at_open(tmp_path: Path) -> None:
    """Order columns are filled from the stored documents, record columns with the default."""
    path = tmp_path / "old.db"
    order, rider = _sample(Order, 1), _sample(Rider, 2)
    store = SqliteStore(path)
    with store.transaction():
        store.add_order(order)
        store.save_rider(rider)
    store.close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE orders DROP COLUMN confirmed_at")
    db.execute("ALTER TABLE riders DROP COLUMN location_updated_at")
    db.commit()
    db.close()

    again = SqliteStore(path)
    (confirmed_at,) = again._db.execute("SELECT confirmed_at FROM orders").fetchone()
    assert order.confirmed_at is not None and confirmed_at == order.confirmed_at
    loaded = again.get_rider(rider.id)
    assert loaded is not None and loaded.location_updated_at is None
    assert loaded.current_order_id == rider.current_order_id


def test_a_file_from_before_bundles_keeps_each_riders_order(tmp_path: Path) -> None:
    """Riders held one order in ``current_order_id`` before bundles (D25): opening such a file
    moves it into ``order_ids``, so the rider still holds it."""
    path = tmp_path / "before-bundles.db"
    store = SqliteStore(path)
    with store.transaction():
        store.save_rider(Rider("r1", "Rider 1", True, 19.0, 72.8, 5.0, ("o1",)))
        store.save_rider(Rider("r2", "Rider 2", True, 19.0, 72.8, 5.0))
    store.close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE riders DROP COLUMN order_ids")
    db.execute("ALTER TABLE riders ADD COLUMN current_order_id TEXT")
    db.execute("UPDATE riders SET current_order_id = 'o1' WHERE id = 'r1'")
    db.commit()
    db.close()

    again = SqliteStore(path)
    first, second = again.get_rider("r1"), again.get_rider("r2")
    assert first is not None and first.order_ids == ("o1",) and first.current_order_id == "o1"
    assert second is not None and second.order_ids == () and second.dispatchable
    again.close()
