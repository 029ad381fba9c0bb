"""In-memory store: dictionaries and per-owner indexes; the simulation's hot path."""

from __future__ import annotations

import heapq
import threading
from collections import deque
from contextlib import AbstractContextManager
from typing import Any

from reference_api.model import Order, Rider, Timer, User, Vendor
from reference_api.statuses import DISPATCHABLE, RESTAURANT_QUEUE
from reference_api.store.base import OrderQuery


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._orders: dict[str, Order] = {}
        self._numbers: set[str] = set()
        self._by_customer: dict[str, list[str]] = {}
        self._by_vendor: dict[str, list[str]] = {}
        self._by_rider: dict[str, dict[str, None]] = {}
        self._queue: dict[str, dict[str, None]] = {}
        self._vendors: dict[str, Vendor] = {}
        self._users: dict[str, User] = {}
        self._riders: dict[str, Rider] = {}
        #: pending timers (see ``add_timer``): a FIFO per kind, a heap for out-of-order ones
        self._fifos: dict[str, deque[list[Any]]] = {}
        self._late: list[list[Any]] = []
        #: ``_earliest``'s answer while it is known to hold (None: no timer is armed)
        self._first: list[Any] | None = None
        self._first_known = True
        self._armed: dict[tuple[str, str], list[Any]] = {}
        self._timer_seq = 0

    def transaction(self) -> AbstractContextManager[object]:
        """A reentrant lock: memory needs no rollback (see the port's contract), only isolation
        when a server's threads share the store. Its ``__enter__``/``__exit__`` are C code, so
        the in-process hot path (three transactions an order step) runs no Python frames here,
        where a no-op context class ran two."""
        return self._lock

    # orders -----------------------------------------------------------------------------
    def get_order(self, order_id: str) -> Order | None:
        return self._orders.get(order_id)

    def add_order(self, order: Order) -> None:
        self._orders[order.id] = order
        self._numbers.add(order.order_number)
        self._by_customer.setdefault(order.customer_id, []).append(order.id)
        self._by_vendor.setdefault(order.vendor_id, []).append(order.id)
        self.save_order(order)

    def save_order(self, order: Order) -> None:
        queue = self._queue.get(order.vendor_id)
        if queue is None:
            queue = self._queue[order.vendor_id] = {}
        if order.status in RESTAURANT_QUEUE:
            queue[order.id] = None
        else:
            queue.pop(order.id, None)
        rider_id = order.rider_id
        if rider_id is not None:
            mine = self._by_rider.get(rider_id)
            if mine is None:
                mine = self._by_rider[rider_id] = {}
            mine[order.id] = None

    def forget_order(self, order_id: str) -> None:
        """Drop a finished order from every index (orders, customer, vendor, rider, restaurant
        queue); unknown ids are ignored. Its order number stays reserved, so numbers remain
        unique. Not part of the ``Store`` port and never called by the service (the API never
        deletes orders): the simulation calls it once an order can no longer change, after
        recording it, to bound memory on a city-scale run."""
        order = self._orders.pop(order_id, None)
        if order is None:
            return
        self._by_customer[order.customer_id].remove(order_id)
        self._by_vendor[order.vendor_id].remove(order_id)
        if order.rider_id is not None:
            mine = self._by_rider.get(order.rider_id)
            if mine is not None:
                mine.pop(order_id, None)
        queue = self._queue.get(order.vendor_id)
        if queue is not None:
            queue.pop(order_id, None)

    def order_number_exists(self, number: str) -> bool:
        return number in self._numbers

    def query_orders(self, query: OrderQuery) -> tuple[int, list[Order]]:
        if query.customer_id is not None:
            ids: list[str] = self._by_customer.get(query.customer_id, [])
        elif query.vendor_id is not None:
            ids = self._by_vendor.get(query.vendor_id, [])
        elif query.rider_id is not None:
            ids = list(self._by_rider.get(query.rider_id, {}))
        else:
            ids = list(self._orders)
        matched = []
        for oid in reversed(ids):
            order = self._orders[oid]
            if query.rider_id is not None and order.rider_id != query.rider_id:
                continue
            if query.status is not None and order.status is not query.status:
                continue
            if order.status in query.exclude:
                continue
            matched.append(order)
        return len(matched), matched[query.offset : query.offset + query.limit]

    def vendor_queue(self, vendor_id: str) -> list[Order]:
        return [self._orders[oid] for oid in self._queue.get(vendor_id, {})]

    def orders_waiting_for_rider(self) -> list[Order]:
        return sorted(
            (o for o in self._orders.values() if o.rider_id is None and o.status in DISPATCHABLE),
            key=lambda o: (o.confirmed_at or o.placed_at, o.id),
        )

    # people and places ----------------------------------------------------------------------
    def add_vendor(self, vendor: Vendor) -> None:
        self._vendors[vendor.id] = vendor

    def get_vendor(self, vendor_id: str) -> Vendor | None:
        return self._vendors.get(vendor_id)

    def vendors(self) -> list[Vendor]:
        return list(self._vendors.values())

    def add_user(self, user: User) -> None:
        self._users[user.id] = user

    def get_user(self, user_id: str) -> User | None:
        return self._users.get(user_id)

    def get_rider(self, rider_id: str) -> Rider | None:
        return self._riders.get(rider_id)

    def save_rider(self, rider: Rider) -> None:
        self._riders[rider.id] = rider

    def riders(self) -> list[Rider]:
        return list(self._riders.values())

    # timers -----------------------------------------------------------------------------
    # Each kind of timer is armed at "now + a fixed delay", so within a kind timers arrive in due
    # order: a FIFO per kind holds them, and the next timer is the earliest of a few heads. A
    # timer that arrives out of order (another policy, a test) goes to a heap beside them. Entries
    # are ``[due, seq, timer]``; disarming sets the timer to ``None`` and the entry is dropped
    # when it reaches the front. Unlike one heap over all timers, a city-scale run's many
    # disarmed timers then cost an O(1) pop each rather than a walk down a large heap.
    def add_timer(self, timer: Timer) -> None:
        self._timer_seq += 1
        entry = [timer.due, self._timer_seq, timer]
        key = (timer.order_id, timer.kind)
        old = self._armed.get(key)
        if old is not None:  # re-armed: the new timer replaces the pending one
            old[2] = None
            if old is self._first:
                self._first_known = False
        self._armed[key] = entry
        if self._first_known and (self._first is None or entry < self._first):
            self._first = entry
        fifo = self._fifos.get(timer.kind)
        if fifo is None:
            fifo = self._fifos[timer.kind] = deque()
        if not fifo or fifo[-1][0] <= timer.due:
            fifo.append(entry)
        else:
            heapq.heappush(self._late, entry)

    def cancel_timer(self, order_id: str, kind: str) -> None:
        entry = self._armed.pop((order_id, kind), None)
        if entry is not None:
            entry[2] = None
            if entry is self._first:
                self._first_known = False

    def _earliest(self) -> list[Any] | None:
        """The live entry due first (ties by arming order), dropping disarmed ones in front.
        Remembered until a change could alter it (a pop, or disarming that entry); arming a
        timer updates it in place."""
        if self._first_known:
            return self._first
        best: list[Any] | None = None
        for fifo in self._fifos.values():
            while fifo:
                head = fifo[0]
                if head[2] is None:
                    fifo.popleft()
                    continue
                if best is None or head < best:
                    best = head
                break
        late = self._late
        if late:
            while late and late[0][2] is None:
                heapq.heappop(late)
            if late and (best is None or late[0] < best):
                best = late[0]
        self._first = best
        self._first_known = True
        return best

    def pop_due_timers(self, now: float) -> list[Timer]:
        due: list[Timer] = []
        while True:
            entry = self._earliest()
            if entry is None or entry[0] > now:
                return due
            timer = entry[2]
            fifo = self._fifos[timer.kind]
            if fifo and fifo[0] is entry:
                fifo.popleft()
            else:
                heapq.heappop(self._late)
            self._first_known = False
            del self._armed[(timer.order_id, timer.kind)]
            due.append(timer)

    def next_timer_due(self) -> float | None:
        entry = self._earliest()
        return None if entry is None else entry[0]
