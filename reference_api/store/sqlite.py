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

The order aggregate is stored whole as JSON (``store.codec``) beside indexed columns for the
lookups the service makes (owner, rider, status, placement); the tables and what opening a file
does are in ``store.sqlite_schema``, both derived from the model's declarations.

With a ``render_detail`` function (the server passes the HTTP detail renderer) each write also
stores the order's rendered detail document (``detail``), in the same statement as the aggregate,
so a read of an order is one indexed ``SELECT`` of its owner ids and those bytes: no decode, no
render (``order_detail_row``). A NULL ``detail`` (a database from before the column, or rows
written by a store without a renderer) means "render it from the aggregate"; a file whose
documents a new version would render differently loses them at open, so none is ever stale.
Within one transaction an identity map hands out the same ``Order`` object for the same id, as
the in-memory store does, so nested service calls see each other's changes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reference_api.errors import OrderflowError
from reference_api.model import Order, Rider, Timer, User, Vendor
from reference_api.states import TimerKind
from reference_api.statuses import DISPATCHABLE, RESTAURANT_QUEUE
from reference_api.store.base import OrderQuery
from reference_api.store.codec import order_from_json, order_to_json
from reference_api.store.sqlite_schema import (
    INSERT_ORDER,
    RIDERS,
    UPDATE_ORDER,
    USERS,
    VENDORS,
    order_columns,
    prepare,
    saved_columns,
)

__all__ = ["SqliteStore", "order_from_json", "order_to_json"]

SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")

#: Timer kinds by stored text; a kind the service does not know (the port's tests arm made-up
#: ones, as the memory store allows) comes back as the text it was armed with.
_TIMER_KINDS: dict[str, Any] = {kind.value: kind for kind in TimerKind}


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
        prepare(self._db, render_detail)
        self._render = render_detail
        self._depth = 0
        self._identity: dict[str, Order] = {}

    def close(self) -> None:
        self._db.close()

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
            INSERT_ORDER, (*order_columns(order), order_to_json(order), self._detail(order))
        )
        if self._depth:
            self._identity[order.id] = order

    def save_order(self, order: Order) -> None:
        self._db.execute(
            UPDATE_ORDER,
            (*saved_columns(order), order_to_json(order), self._detail(order), order.id),
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
        self._db.execute(VENDORS.insert, VENDORS.row(vendor))

    def get_vendor(self, vendor_id: str) -> Vendor | None:
        row = self._db.execute(VENDORS.select_one, (vendor_id,)).fetchone()
        return None if row is None else VENDORS.load(row)

    def vendors(self) -> list[Vendor]:
        return [VENDORS.load(r) for r in self._db.execute(VENDORS.select_all)]

    def add_user(self, user: User) -> None:
        self._db.execute(USERS.insert, USERS.row(user))

    def get_user(self, user_id: str) -> User | None:
        row = self._db.execute(USERS.select_one, (user_id,)).fetchone()
        return None if row is None else USERS.load(row)

    def get_rider(self, rider_id: str) -> Rider | None:
        row = self._db.execute(RIDERS.select_one, (rider_id,)).fetchone()
        return None if row is None else RIDERS.load(row)

    def save_rider(self, rider: Rider) -> None:
        self._db.execute(RIDERS.insert, RIDERS.row(rider))

    def riders(self) -> list[Rider]:
        return [RIDERS.load(r) for r in self._db.execute(RIDERS.select_all)]

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
        kinds = _TIMER_KINDS
        return [Timer(due, kinds.get(kind, kind), order_id) for _, due, kind, order_id in rows]

    def next_timer_due(self) -> float | None:
        (due,) = self._db.execute("SELECT MIN(due) FROM timers").fetchone()
        return None if due is None else float(due)
