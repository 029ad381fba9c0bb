"""SQLite store: the server's default. One connection, WAL journal, explicit transactions.

Why these settings:

* ``journal_mode=WAL`` lets readers (a second process inspecting the file, a backup) proceed
  while the server writes, and makes a commit one append to the log.
* ``synchronous=NORMAL`` (the default here): in WAL mode a commit is written to the log before
  ``COMMIT`` returns, so a process killed at any moment (``kill -9``) loses nothing it acknowledged;
  only an operating-system crash or power cut may lose the last commits (the file stays
  consistent). That is the failure the reference server is asked to survive, at a fraction of
  ``FULL``'s cost (an fsync per commit). Pass ``synchronous="FULL"`` for power-loss durability.
* ``busy_timeout``: another process holding the write lock makes us wait, not fail.

``transaction()`` is re-entrant (the service nests calls, e.g. ``update_status`` calls
``confirm``): the outermost level issues ``BEGIN IMMEDIATE`` (the write lock up front, so two
writers cannot both read a state and then both write it) and commits. A domain error
(``OrderflowError``) also commits, because the service only writes before raising what it means
to keep (a counted wrong OTP attempt); any other exception rolls back.

The order aggregate is stored whole as JSON (with orjson: the codec runs on every request)
beside indexed columns for the lookups the service makes (owner, rider, status, placement).

With a ``render_detail`` function (the server passes the HTTP detail renderer) each write also
stores the order's rendered detail document (``detail``), in the same statement as the aggregate,
so a read of an order is one indexed ``SELECT`` of its owner ids and those bytes: no decode, no
render (``order_detail_row``). A NULL ``detail`` (a database from before the column, or rows
written by a store without a renderer) means "render it from the aggregate". The renderer's
output for sample orders is fingerprinted in ``meta``: when a new version renders them
differently, every stored document is dropped at open, so none is ever stale against the code.
Within one transaction an identity map hands out the same ``Order`` object for the same id, as
the in-memory store does, so nested service calls see each other's changes.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from reference_api.errors import OrderflowError
from reference_api.model import (
    Address,
    Order,
    OrderItem,
    OtpRecord,
    Refund,
    Rider,
    Timer,
    TrackingEntry,
    User,
    Vendor,
)
from reference_api.statuses import DISPATCHABLE, RESTAURANT_QUEUE, OrderStatus
from reference_api.store.base import OrderQuery

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    order_number TEXT NOT NULL UNIQUE,
    customer_id TEXT NOT NULL,
    vendor_id TEXT NOT NULL,
    rider_id TEXT,
    status TEXT NOT NULL,
    placed_at REAL NOT NULL,
    confirmed_at REAL,
    data TEXT NOT NULL,
    detail BLOB
);
CREATE INDEX IF NOT EXISTS orders_by_customer ON orders (customer_id, seq);
CREATE INDEX IF NOT EXISTS orders_by_vendor ON orders (vendor_id, status, seq);
CREATE INDEX IF NOT EXISTS orders_by_rider ON orders (rider_id, seq);
CREATE INDEX IF NOT EXISTS orders_by_status ON orders (status, rider_id);
CREATE TABLE IF NOT EXISTS vendors (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    owner_user_id TEXT NOT NULL,
    latitude REAL NOT NULL,
    longitude REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS riders (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    available INTEGER NOT NULL,
    latitude REAL,
    longitude REAL,
    current_order_id TEXT,
    location_updated_at REAL
);
CREATE TABLE IF NOT EXISTS timers (
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

SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")


class SqliteStore:
    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "NORMAL",
        busy_timeout_ms: int = 5000,
        render_detail: Callable[[Order], bytes] | None = None,
    ) -> None:
        mode = synchronous.upper()
        if mode not in SYNCHRONOUS_MODES:
            raise ValueError(
                f"synchronous: expected one of {', '.join(SYNCHRONOUS_MODES)}, got {synchronous!r}"
            )
        self.path = str(path)
        # One connection, used by one thread at a time: the server runs every service call on
        # a single worker thread, so the connection may be created on another thread first.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute(f"PRAGMA synchronous = {mode}")
        self._db.execute("PRAGMA foreign_keys = OFF")
        self._db.executescript(SCHEMA)
        self._render = render_detail
        self._prepare_details()
        self._depth = 0
        self._identity: dict[str, Order] = {}

    def close(self) -> None:
        self._db.close()

    def _prepare_details(self) -> None:
        """Add the ``detail`` column to an older database, and drop every stored document when
        the renderer's output for the sample orders differs from what the database was written
        with (a new version of the response shape)."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(orders)")}
        if "detail" not in columns:
            self._db.execute("ALTER TABLE orders ADD COLUMN detail BLOB")
        if self._render is None:
            return  # this store writes NULL documents: nothing it leaves can be stale
        digest = hashlib.sha256()
        for sample in _DETAIL_SAMPLES:
            digest.update(self._render(order_from_json(sample)))
        fingerprint = digest.hexdigest()
        row = self._db.execute("SELECT value FROM meta WHERE key = 'detail_format'").fetchone()
        if row is None or row[0] != fingerprint:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("UPDATE orders SET detail = NULL WHERE detail IS NOT NULL")
            self._db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('detail_format', ?)",
                (fingerprint,),
            )
            self._db.execute("COMMIT")

    def _detail(self, order: Order) -> bytes | None:
        return None if self._render is None else self._render(order)

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the main file (so the file alone is a full copy)."""
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # transactions --------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except OrderflowError:
            self._end("COMMIT")
            raise
        except BaseException:
            self._end("ROLLBACK")
            raise
        self._end("COMMIT")

    def _end(self, statement: str) -> None:
        self._depth = 0
        self._identity.clear()
        self._db.execute(statement)

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    # orders --------------------------------------------------------------------------------
    def _load(self, row: tuple[str, str]) -> Order:
        order_id, data = row
        cached = self._identity.get(order_id)
        if cached is not None:
            return cached
        order = order_from_json(data)
        if self._depth:
            self._identity[order_id] = order
        return order

    def get_order(self, order_id: str) -> Order | None:
        cached = self._identity.get(order_id)
        if cached is not None:
            return cached
        row = self._db.execute("SELECT id, data FROM orders WHERE id = ?", (order_id,)).fetchone()
        return None if row is None else self._load(row)

    def add_order(self, order: Order) -> None:
        self._db.execute(
            "INSERT INTO orders (id, order_number, customer_id, vendor_id, rider_id, status, "
            "placed_at, confirmed_at, data, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                order.id,
                order.order_number,
                order.customer_id,
                order.vendor_id,
                order.rider_id,
                order.status.value,
                order.placed_at,
                order.confirmed_at,
                order_to_json(order),
                self._detail(order),
            ),
        )
        if self._depth:
            self._identity[order.id] = order

    def save_order(self, order: Order) -> None:
        self._db.execute(
            "UPDATE orders SET rider_id = ?, status = ?, confirmed_at = ?, data = ?, detail = ? "
            "WHERE id = ?",
            (
                order.rider_id,
                order.status.value,
                order.confirmed_at,
                order_to_json(order),
                self._detail(order),
                order.id,
            ),
        )
        if self._depth:
            self._identity[order.id] = order

    def order_detail_row(self, order_id: str) -> tuple[str, str, str | None, bytes | None] | None:
        """``(customer_id, vendor_id, rider_id, detail)`` of a committed order, or None: what a
        read needs to decide visibility (``permissions.can_see_owned``) and answer, in one
        indexed lookup. ``detail`` is None where no document is stored (render it instead).
        Not for use inside a transaction (it would miss the identity map's unsaved changes)."""
        row: tuple[str, str, str | None, bytes | None] | None = self._db.execute(
            "SELECT customer_id, vendor_id, rider_id, detail FROM orders WHERE id = ?",
            (order_id,),
        ).fetchone()
        return row

    def order_number_exists(self, number: str) -> bool:
        row = self._db.execute("SELECT 1 FROM orders WHERE order_number = ?", (number,)).fetchone()
        return row is not None

    def query_orders(self, query: OrderQuery) -> tuple[int, list[Order]]:
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("customer_id", query.customer_id),
            ("vendor_id", query.vendor_id),
            ("rider_id", query.rider_id),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if query.status is not None:
            where.append("status = ?")
            params.append(query.status.value)
        if query.exclude:
            where.append(f"status NOT IN ({', '.join('?' * len(query.exclude))})")
            params.extend(sorted(s.value for s in query.exclude))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        (count,) = self._db.execute(f"SELECT COUNT(*) FROM orders{clause}", params).fetchone()  # noqa: S608
        rows = self._db.execute(
            f"SELECT id, data FROM orders{clause} ORDER BY seq DESC LIMIT ? OFFSET ?",  # noqa: S608
            [*params, query.limit, query.offset],
        ).fetchall()
        return int(count), [self._load(r) for r in rows]

    def vendor_queue(self, vendor_id: str) -> list[Order]:
        marks = ", ".join("?" * len(RESTAURANT_QUEUE))
        rows = self._db.execute(
            f"SELECT id, data FROM orders WHERE vendor_id = ? AND status IN ({marks}) "  # noqa: S608
            "ORDER BY seq",
            [vendor_id, *sorted(s.value for s in RESTAURANT_QUEUE)],
        ).fetchall()
        return [self._load(r) for r in rows]

    def orders_waiting_for_rider(self) -> list[Order]:
        marks = ", ".join("?" * len(DISPATCHABLE))
        rows = self._db.execute(
            f"SELECT id, data FROM orders WHERE rider_id IS NULL AND status IN ({marks}) "  # noqa: S608
            "ORDER BY COALESCE(confirmed_at, placed_at), id",
            sorted(s.value for s in DISPATCHABLE),
        ).fetchall()
        return [self._load(r) for r in rows]

    # people and places ---------------------------------------------------------------------
    def add_vendor(self, vendor: Vendor) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO vendors VALUES (?, ?, ?, ?, ?)",
            (vendor.id, vendor.name, vendor.owner_user_id, vendor.latitude, vendor.longitude),
        )

    def get_vendor(self, vendor_id: str) -> Vendor | None:
        row = self._db.execute("SELECT * FROM vendors WHERE id = ?", (vendor_id,)).fetchone()
        return None if row is None else Vendor(*row)

    def vendors(self) -> list[Vendor]:
        return [Vendor(*r) for r in self._db.execute("SELECT * FROM vendors ORDER BY rowid")]

    def add_user(self, user: User) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO users VALUES (?, ?, ?)", (user.id, user.name, user.role)
        )

    def get_user(self, user_id: str) -> User | None:
        row = self._db.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        return None if row is None else User(*row)

    def get_rider(self, rider_id: str) -> Rider | None:
        row = self._db.execute("SELECT * FROM riders WHERE id = ?", (rider_id,)).fetchone()
        return None if row is None else _rider(row)

    def save_rider(self, rider: Rider) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO riders VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                rider.id,
                rider.name,
                int(rider.available),
                rider.latitude,
                rider.longitude,
                rider.current_order_id,
                rider.location_updated_at,
            ),
        )

    def riders(self) -> list[Rider]:
        return [_rider(r) for r in self._db.execute("SELECT * FROM riders ORDER BY rowid")]

    # timers --------------------------------------------------------------------------------
    def add_timer(self, timer: Timer) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO timers (due, kind, order_id) VALUES (?, ?, ?)",
            (timer.due, timer.kind, timer.order_id),
        )

    def cancel_timer(self, order_id: str, kind: str) -> None:
        self._db.execute("DELETE FROM timers WHERE order_id = ? AND kind = ?", (order_id, kind))

    def pop_due_timers(self, now: float) -> list[Timer]:
        rows = self._db.execute(
            "SELECT seq, due, kind, order_id FROM timers WHERE due <= ? ORDER BY due, seq", (now,)
        ).fetchall()
        if rows:
            self._db.executemany("DELETE FROM timers WHERE seq = ?", [(r[0],) for r in rows])
        return [Timer(due, kind, order_id) for _, due, kind, order_id in rows]

    def next_timer_due(self) -> float | None:
        (due,) = self._db.execute("SELECT MIN(due) FROM timers").fetchone()
        return None if due is None else float(due)


def _rider(row: tuple[Any, ...]) -> Rider:
    rid, name, available, lat, lon, current, updated = row
    return Rider(rid, name, bool(available), lat, lon, current, updated)


# ------------------------------------------------------------------------- aggregate codec
def order_to_json(order: Order) -> str:
    refund = order.refund
    addr = order.address
    doc: dict[str, Any] = {
        "id": order.id,
        "order_number": order.order_number,
        "customer_id": order.customer_id,
        "customer_name": order.customer_name,
        "vendor_id": order.vendor_id,
        "vendor_name": order.vendor_name,
        "status": order.status.value,
        "items": [[i.name, i.quantity, str(i.unit_price), i.menu_item] for i in order.items],
        "address": [addr.title, addr.address_line_1, addr.latitude, addr.longitude, addr.id],
        "restaurant_lat": order.restaurant_lat,
        "restaurant_lon": order.restaurant_lon,
        "subtotal": str(order.subtotal),
        "delivery_fee": str(order.delivery_fee),
        "tax_amount": str(order.tax_amount),
        "total_amount": str(order.total_amount),
        "payment_method": order.payment_method,
        "payment_status": order.payment_status,
        "placed_at": order.placed_at,
        "estimated_delivery_time": order.estimated_delivery_time,
        "delivery_status": order.delivery_status,
        "rider_id": order.rider_id,
        "rider_name": order.rider_name,
        "prep_minutes": order.prep_minutes,
        "confirmed_at": order.confirmed_at,
        "estimated_ready_time": order.estimated_ready_time,
        "ready_at": order.ready_at,
        "picked_up_at": order.picked_up_at,
        "delivered_at": order.delivered_at,
        "cancelled_at": order.cancelled_at,
        "cancel_reason": order.cancel_reason,
        "cancelled_by": order.cancelled_by,
        "delivery_notes": order.delivery_notes,
        "refund": None
        if refund is None
        else [refund.id, str(refund.amount), refund.status, refund.created_at, refund.updated_at],
        "otps": {
            kind: [
                r.type,
                r.nonce,
                r.issued_at,
                r.expires_at,
                r.attempts,
                r.resends,
                r.verified,
                r.consumed,
            ]
            for kind, r in order.otps.items()
        },
        "history": [
            [
                e.id,
                e.status,
                e.description,
                e.created_at,
                e.updated_by,
                e.actor_role,
                e.actor_id,
                e.metadata,
            ]
            for e in order.history
        ],
        "version": order.version,
    }
    return orjson.dumps(doc, default=_json_default).decode()


def _json_default(value: object) -> object:
    """History metadata comes from clients and the service; keep what JSON cannot say as text."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in order history metadata")


def order_from_json(text: str | bytes) -> Order:
    d = orjson.loads(text)
    refund = d["refund"]
    return Order(
        id=d["id"],
        order_number=d["order_number"],
        customer_id=d["customer_id"],
        customer_name=d["customer_name"],
        vendor_id=d["vendor_id"],
        vendor_name=d["vendor_name"],
        status=OrderStatus(d["status"]),
        items=[OrderItem(n, q, Decimal(p), m) for n, q, p, m in d["items"]],
        address=Address(*d["address"]),
        restaurant_lat=d["restaurant_lat"],
        restaurant_lon=d["restaurant_lon"],
        subtotal=Decimal(d["subtotal"]),
        delivery_fee=Decimal(d["delivery_fee"]),
        tax_amount=Decimal(d["tax_amount"]),
        total_amount=Decimal(d["total_amount"]),
        payment_method=d["payment_method"],
        payment_status=d["payment_status"],
        placed_at=d["placed_at"],
        estimated_delivery_time=d["estimated_delivery_time"],
        delivery_status=d["delivery_status"],
        rider_id=d["rider_id"],
        rider_name=d["rider_name"],
        prep_minutes=d["prep_minutes"],
        confirmed_at=d["confirmed_at"],
        estimated_ready_time=d["estimated_ready_time"],
        ready_at=d["ready_at"],
        picked_up_at=d["picked_up_at"],
        delivered_at=d["delivered_at"],
        cancelled_at=d["cancelled_at"],
        cancel_reason=d["cancel_reason"],
        cancelled_by=d["cancelled_by"],
        delivery_notes=d["delivery_notes"],
        refund=None
        if refund is None
        else Refund(refund[0], Decimal(refund[1]), refund[2], refund[3], refund[4]),
        otps={kind: _otp_record(fields) for kind, fields in d["otps"].items()},
        history=[TrackingEntry(*e) for e in d["history"]],
        version=d["version"],
    )


def _otp_record(fields: list[Any]) -> OtpRecord:
    if len(fields) == 9:  # written before D7 dropped the stored hash of the code (third field)
        del fields[2]
    return OtpRecord(*fields)


def _sample_order(**changes: Any) -> bytes:
    doc: dict[str, Any] = {
        "id": "00000000-0000-4000-8000-000000000001",
        "order_number": "ORD-SAMPLE",
        "customer_id": "customer",
        "customer_name": "Customer",
        "vendor_id": "vendor",
        "vendor_name": "Vendor",
        "status": OrderStatus.DELIVERED.value,
        "items": [["Margherita", 2, "374.00", "menu-1"], ["Soda", 1, "1.5", None]],
        "address": ["Home", "1 Sample Street", 19.1, 72.9, "address"],
        "restaurant_lat": 19.0835,
        "restaurant_lon": 72.8777,
        "subtotal": "749.50",
        "delivery_fee": "40.00",
        "tax_amount": "37.48",
        "total_amount": "826.98",
        "payment_method": "online",
        "payment_status": "paid",
        "placed_at": 1_700_000_000.25,
        "estimated_delivery_time": 1_700_002_400.0,
        "delivery_status": "delivered",
        "rider_id": "rider",
        "rider_name": "Rider",
        "prep_minutes": 15,
        "confirmed_at": 1_700_000_060.0,
        "estimated_ready_time": 1_700_000_960.0,
        "ready_at": 1_700_000_900.0,
        "picked_up_at": 1_700_000_990.0,
        "delivered_at": 1_700_002_000.0,
        "cancelled_at": 1_700_002_100.0,
        "cancel_reason": "reason",
        "cancelled_by": "customer",
        "delivery_notes": "notes",
        "refund": ["refund", "826.98", "completed", 1_700_002_100.0, 1_700_002_200.0],
        "otps": {},
        "history": [],
        "version": 3,
    }
    doc.update(changes)
    return orjson.dumps(doc)


#: Orders whose rendering fingerprints the detail format (every optional field set, and none).
_DETAIL_SAMPLES = (
    _sample_order(),
    _sample_order(
        status=OrderStatus.ORDER_PLACED.value,
        items=[],
        payment_method="cod",
        payment_status="pending",
        delivery_status="unassigned",
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
    ),
)
