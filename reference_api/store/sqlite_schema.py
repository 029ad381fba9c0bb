"""The tables of a SQLite order file, derived from the model's declarations, and what opening a
file does: create what is missing, add columns declared since the file was written, and drop
stored detail documents the current renderer would write differently.

The order aggregate is stored whole as JSON (``store.codec``) beside a column for each field the
service looks orders up by; vendors, users and riders are flat records, a column per field. Both
come from the dataclass fields, so the SQL cannot drift from the model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sqlite3
import typing
from collections.abc import Callable
from decimal import Decimal
from enum import Enum
from operator import attrgetter
from typing import Any, Generic, TypeVar

import orjson

from reference_api.model import Address, Order, OrderItem, Refund, Rider, User, Vendor
from reference_api.states import DeliveryStatus, PaymentMethod, PaymentStatus, RefundStatus
from reference_api.statuses import OrderStatus
from reference_api.store.fields import optional_of, record_fields

R = TypeVar("R")

#: Order fields with a column of their own, for the lookups the service makes, in column order.
ORDER_COLUMNS = (
    "id",
    "order_number",
    "customer_id",
    "vendor_id",
    "rider_id",
    "status",
    "placed_at",
    "confirmed_at",
)
_UNIQUE = frozenset({"id", "order_number"})
#: The columns fixed when an order is placed, which a save leaves alone: rewriting an indexed
#: column costs its index update even when the value is unchanged.
FIXED_AT_PLACEMENT = frozenset({"id", "order_number", "customer_id", "vendor_id", "placed_at"})
_SAVED = tuple(c for c in ORDER_COLUMNS if c not in FIXED_AT_PLACEMENT)

_ORDER_HINTS = {f.name: f.hint for f in record_fields(Order)}
for _name in ORDER_COLUMNS:
    if _name not in _ORDER_HINTS:
        raise TypeError(f"orders column {_name!r} is not a field of Order")


def _values(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The named attributes of a record as a tuple: one C call (``attrgetter``) per row."""
    if len(names) == 1:  # attrgetter of one name returns the value itself
        return lambda record: (getattr(record, names[0]),)
    return attrgetter(*names)


#: ``order_columns(order)``: the values of ``INSERT_ORDER``'s columns before ``data``;
#: ``saved_columns(order)`` the same for ``UPDATE_ORDER``.
order_columns = _values(ORDER_COLUMNS)
saved_columns = _values(_SAVED)
INSERT_ORDER = (
    f"INSERT INTO orders ({', '.join(ORDER_COLUMNS)}, data, detail) "  # noqa: S608
    f"VALUES ({', '.join('?' * (len(ORDER_COLUMNS) + 2))})"
)
UPDATE_ORDER = (
    f"UPDATE orders SET {', '.join(f'{c} = ?' for c in _SAVED)}, "  # noqa: S608
    "data = ?, detail = ? WHERE id = ?"
)


def _is_text_tuple(hint: Any) -> bool:
    """``tuple[str, ...]``: stored as a JSON array in a TEXT column."""
    return typing.get_origin(hint) is tuple and typing.get_args(hint) == (str, Ellipsis)


def _encode_text_tuple(value: tuple[str, ...]) -> str:
    return orjson.dumps(list(value)).decode()


def _decode_text_tuple(text: str) -> tuple[str, ...]:
    return tuple(orjson.loads(text))


def _sql_type(hint: Any, where: str) -> tuple[str, bool]:
    """The column type for a field, and whether it may be NULL."""
    if _is_text_tuple(hint):
        return "TEXT", False
    inner = optional_of(hint)
    base = hint if inner is None else inner
    if isinstance(base, type):
        for python, sql in ((bool, "INTEGER"), (int, "INTEGER"), (float, "REAL"), (str, "TEXT")):
            if issubclass(base, python):
                return sql, inner is not None
    raise TypeError(f"{where}: no column type for {hint!r}")


def _column(name: str, hint: Any, where: str, extra: str = "") -> str:
    sql, nullable = _sql_type(hint, where)
    return f"{name} {sql}{'' if nullable else ' NOT NULL'}{extra}"


class RecordTable(Generic[R]):
    """A table of one record per row, a column per field in declaration order, keyed by the
    first; bools and enums are restored from what SQLite returns."""

    def __init__(self, name: str, cls: type[R]) -> None:
        fields = record_fields(cls)
        self.name = name
        self.columns = tuple(f.name for f in fields)
        where = f"{cls.__name__}.{{}}"
        key, *rest = fields
        self.definition = ",\n    ".join(
            [f"{key.name} {_sql_type(key.hint, where.format(key.name))[0]} PRIMARY KEY"]
            + [_column(f.name, f.hint, where.format(f.name)) for f in rest]
        )
        #: what turns a field's value into its column's (only fields that need it)
        self.encoders: dict[str, Callable[[Any], Any]] = {
            f.name: _encode_text_tuple for f in fields if _is_text_tuple(f.hint)
        }
        self.defaults = {f.name: f.default for f in fields}
        self.types = {f.name: _sql_type(f.hint, where.format(f.name))[0] for f in fields}
        names = ", ".join(self.columns)
        marks = ", ".join("?" * len(fields))
        self.insert = f"INSERT OR REPLACE INTO {name} ({names}) VALUES ({marks})"  # noqa: S608
        self.select_one = f"SELECT {names} FROM {name} WHERE {key.name} = ?"  # noqa: S608
        self.select_all = f"SELECT {names} FROM {name} ORDER BY rowid"  # noqa: S608
        self.row: Callable[[R], tuple[Any, ...]] = _values(self.columns)
        if self.encoders:
            plain, encoders = self.row, [self.encoders.get(c) for c in self.columns]

            def row(record: R) -> tuple[Any, ...]:
                return tuple(
                    v if e is None else e(v) for v, e in zip(plain(record), encoders, strict=True)
                )

            self.row = row
        #: ``load(row)``: the record a selected row holds
        self.load: Callable[[tuple[Any, ...]], R] = _loader(cls)


def _loader(cls: type[R]) -> Callable[[tuple[Any, ...]], R]:
    """A function from a row to the record, generated as ``store.codec`` is (a dataclass
    takes its fields by position), so a load costs what a hand-written one does."""
    namespace: dict[str, Any] = {"_cls": cls}
    args = []
    for i, f in enumerate(record_fields(cls)):
        restore = _restorer(f.hint)
        if restore is None:
            args.append(f"r[{i}]")
            continue
        namespace[f"_restore{i}"] = restore
        nullable = optional_of(f.hint) is not None
        args.append(
            f"(None if r[{i}] is None else _restore{i}(r[{i}]))"
            if nullable
            else f"_restore{i}(r[{i}])"
        )
    body = f"_cls({', '.join(args)})" if len(namespace) > 1 else "_cls(*r)"
    load: Callable[[tuple[Any, ...]], R] = eval(f"lambda r: {body}", namespace)  # noqa: S307  # our own text
    return load


def _restorer(hint: Any) -> Callable[[Any], Any] | None:
    """What turns the SQLite value back into the field's type (None: it already is)."""
    if _is_text_tuple(hint):
        return _decode_text_tuple
    base = optional_of(hint) or hint
    if base is bool or (isinstance(base, type) and issubclass(base, Enum)):
        converter: Callable[[Any], Any] = base
        return converter
    return None


VENDORS = RecordTable("vendors", Vendor)
USERS = RecordTable("users", User)
RIDERS = RecordTable("riders", Rider)

_ORDERS = ",\n    ".join(
    [
        "seq INTEGER PRIMARY KEY AUTOINCREMENT",
        *(
            _column(c, _ORDER_HINTS[c], f"Order.{c}", " UNIQUE" if c in _UNIQUE else "")
            for c in ORDER_COLUMNS
        ),
        "data TEXT NOT NULL",
        "detail BLOB",
    ]
)

_TABLES = f"""
CREATE TABLE IF NOT EXISTS orders (
    {_ORDERS}
);
CREATE INDEX IF NOT EXISTS orders_by_customer ON orders (customer_id, seq);
CREATE INDEX IF NOT EXISTS orders_by_vendor ON orders (vendor_id, status, seq);
CREATE INDEX IF NOT EXISTS orders_by_rider ON orders (rider_id, seq);
CREATE INDEX IF NOT EXISTS orders_by_status ON orders (status, rider_id);
"""
_TIMERS_AND_META = """CREATE TABLE IF NOT EXISTS timers (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    due REAL NOT NULL,
    kind TEXT NOT NULL,
    order_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS timers_by_due ON timers (due, seq);
-- one pending timer per order and kind (files from before this rule keep the latest of each)
DELETE FROM timers WHERE seq NOT IN (SELECT MAX(seq) FROM timers GROUP BY order_id, kind);
CREATE UNIQUE INDEX IF NOT EXISTS timers_by_order ON timers (order_id, kind);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
SCHEMA = "".join(
    [
        _TABLES,
        *(
            f"CREATE TABLE IF NOT EXISTS {t.name} (\n    {t.definition}\n);\n"
            for t in (VENDORS, USERS, RIDERS)
        ),
        _TIMERS_AND_META,
    ]
)


# ---------------------------------------------------------------------------- opening a file
def prepare(db: sqlite3.Connection, render: Callable[[Order], bytes] | None) -> None:
    """Make the file at ``db`` hold the current schema, with no stale detail document."""
    db.executescript(SCHEMA)
    db.execute("BEGIN IMMEDIATE")
    try:
        _add_missing_columns(db)
        if render is not None:  # a store without a renderer writes NULL: nothing can be stale
            _drop_stale_details(db, render)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _present(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """Columns declared since the file was written: an order column is filled from each order's
    document, a record column with the field's default (no default: the file cannot be opened)."""
    present = _present(db, "orders")
    if "detail" not in present:
        db.execute("ALTER TABLE orders ADD COLUMN detail BLOB")  # NULL: "render it instead"
    for name in ORDER_COLUMNS:
        if name not in present:
            sql_type = _sql_type(_ORDER_HINTS[name], name)[0]
            db.execute(f"ALTER TABLE orders ADD COLUMN {name} {sql_type}")
            db.execute(f"UPDATE orders SET {name} = json_extract(data, '$.{name}')")  # noqa: S608
    for table in (VENDORS, USERS, RIDERS):
        present = _present(db, table.name)
        for name in table.columns:
            if name in present:
                continue
            default = table.defaults[name]
            if default is None:
                raise RuntimeError(
                    f"table {table.name} has no column {name}, and the field has no default"
                )
            db.execute(f"ALTER TABLE {table.name} ADD COLUMN {name} {table.types[name]}")
            value = default()
            encode = table.encoders.get(name)
            stored = value if encode is None else encode(value)
            db.execute(f"UPDATE {table.name} SET {name} = ?", (stored,))  # noqa: S608
    if "current_order_id" in _present(db, RIDERS.name):
        # files from before bundles (D25) held one order per rider in that column
        db.execute(
            "UPDATE riders SET order_ids = json_array(current_order_id), current_order_id = NULL "
            "WHERE current_order_id IS NOT NULL"
        )


def _drop_stale_details(db: sqlite3.Connection, render: Callable[[Order], bytes]) -> None:
    """Drop every stored document when the renderer's output for the sample orders differs
    from what the file was written with (a new version of the response shape)."""
    digest = hashlib.sha256()
    for sample in _detail_samples():
        digest.update(render(sample))
    fingerprint = digest.hexdigest()
    row = db.execute("SELECT value FROM meta WHERE key = 'detail_format'").fetchone()
    if row is None or row[0] != fingerprint:
        db.execute("UPDATE orders SET detail = NULL WHERE detail IS NOT NULL")
        db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('detail_format', ?)", (fingerprint,)
        )


def _detail_samples() -> tuple[Order, Order]:
    """Orders whose rendering fingerprints the detail format: every optional field set, and
    none."""
    full = Order(
        id="00000000-0000-4000-8000-000000000001",
        order_number="ORD-SAMPLE",
        customer_id="customer",
        customer_name="Customer",
        vendor_id="vendor",
        vendor_name="Vendor",
        status=OrderStatus.DELIVERED,
        items=[
            OrderItem("Margherita", 2, Decimal("374.00"), "menu-1"),
            OrderItem("Soda", 1, Decimal("1.5"), None),
        ],
        # a text id, as the samples have always had: the fingerprint of existing files holds
        address=Address("Home", "1 Sample Street", 19.1, 72.9, "address"),  # type: ignore[arg-type]
        restaurant_lat=19.0835,
        restaurant_lon=72.8777,
        subtotal=Decimal("749.50"),
        delivery_fee=Decimal("40.00"),
        tax_amount=Decimal("37.48"),
        total_amount=Decimal("826.98"),
        payment_method=PaymentMethod.ONLINE,
        payment_status=PaymentStatus.PAID,
        placed_at=1_700_000_000.25,
        estimated_delivery_time=1_700_002_400.0,
        delivery_status=DeliveryStatus.DELIVERED,
        rider_id="rider",
        rider_name="Rider",
        prep_minutes=15,
        confirmed_at=1_700_000_060.0,
        estimated_ready_time=1_700_000_960.0,
        ready_at=1_700_000_900.0,
        picked_up_at=1_700_000_990.0,
        delivered_at=1_700_002_000.0,
        cancelled_at=1_700_002_100.0,
        cancel_reason="reason",
        cancelled_by="customer",
        delivery_notes="notes",
        refund=Refund(
            "refund", Decimal("826.98"), RefundStatus.COMPLETED, 1_700_002_100.0, 1_700_002_200.0
        ),
        version=3,
        bundle_id="bundle",
    )
    full.bundle = [full.id, "other"]
    bare = dataclasses.replace(
        full,
        bundle_id=None,
        bundle=None,
        status=OrderStatus.ORDER_PLACED,
        items=[],
        payment_method=PaymentMethod.COD,
        payment_status=PaymentStatus.PENDING,
        delivery_status=DeliveryStatus.UNASSIGNED,
        rider_id=None,
        rider_name=None,
        prep_minutes=None,
        confirmed_at=None,
        estimated_ready_time=None,
        ready_at=None,
        picked_up_at=None,
        delivered_at=None,
        cancelled_at=None,
        cancel_reason=None,
        cancelled_by=None,
        delivery_notes=None,
        refund=None,
    )
    return full, bare
