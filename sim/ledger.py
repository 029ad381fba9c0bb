"""The orders in flight, and the recording of each once it can no longer change: its row and its
tracking history go to the recorder, and the store forgets it, so memory follows the orders in
flight rather than the orders placed."""

from __future__ import annotations

import simpy

from reference_api.model import Order
from reference_api.roles import Role
from reference_api.states import OPEN_REFUND
from reference_api.statuses import OrderStatus
from reference_api.store.memory import MemoryStore
from sim import codes
from sim.codes import PLACED
from sim.recorder import Recorder
from sim.records import OrderRec


class Ledger:
    __slots__ = (
        "_epoch",
        "_rec",
        "_store",
        "_window",
        "active",
        "arrivals_done",
        "closing",
        "end",
        "finished",
    )

    def __init__(
        self,
        store: MemoryStore,
        recorder: Recorder,
        end: simpy.Event,
        epoch: float,
        window: tuple[float, float],
    ) -> None:
        self._store = store
        self._rec = recorder
        self._epoch = epoch
        self._window = window
        #: orders in flight by id
        self.active: dict[str, OrderRec] = {}
        #: orders that may be done, to record at the next ``flush``
        self.finished: list[OrderRec] = []
        self.arrivals_done = False
        self.closing = False  # set when the run ends: record whatever is left
        #: succeeds once arrivals are over and no order is in flight
        self.end = end

    def maybe_finished(self, rec: OrderRec) -> None:
        if rec.done and not rec.refund_open:
            self.finished.append(rec)

    def arrivals_over(self) -> None:
        self.arrivals_done = True
        if not self.active and not self.end.triggered:
            self.end.succeed()

    def close(self) -> None:
        """The run is over: record every order, finished or not."""
        self.finished.extend(self.active.values())
        self.closing = True
        self.flush()

    def flush(self) -> None:
        """Record and drop orders that can no longer change. Called after an API call returns,
        so the service never finds an order missing mid-call."""
        if not self.finished:
            return
        store = self._store
        for rec in self.finished:
            order = store.get_order(rec.oid)
            assert order is not None, f"order {rec.oid} vanished before it was recorded"
            if not self.closing and _refund_pending(rec, order):
                continue
            self._record(rec, order)
            self.active.pop(rec.oid, None)
            store.forget_order(rec.oid)
        self.finished.clear()
        self._rec.spill_if_full()
        if self.arrivals_done and not self.active and not self.end.triggered:
            self.end.succeed()

    def _record(self, rec: OrderRec, order: Order) -> None:
        r = self._rec
        epoch = self._epoch
        idx = rec.idx
        status_code, role_code = codes.STATUS, codes.ROLE_BY_VALUE
        history = order.history
        r.ev_order.extend([idx] * len(history))
        r.ev_seq.extend(range(len(history)))
        r.ev_t.extend([e.created_at - epoch for e in history])
        r.ev_status.extend([status_code[e.status] for e in history])
        r.ev_role.extend([role_code[e.actor_role] for e in history])
        r.o_idx.append(idx)
        r.o_phases.extend(rec.ts)
        r.o_promised.append(order.estimated_delivery_time - epoch)
        r.o_status.append(status_code[order.status.value])
        ended_by = order.cancelled_by
        if order.status is OrderStatus.PAYMENT_FAILED:
            ended_by = Role.SYSTEM.value
        r.o_reason.append(rec.reason)
        r.o_actor.append(0 if ended_by is None else 1 + role_code[ended_by])
        r.o_online.append(1 if rec.online else 0)
        r.o_vendor.append(rec.vendor)
        r.o_customer.append(rec.customer)
        r.o_rider.append(rec.rider)
        r.o_bundle.append(rec.bundle_size if rec.rider >= 0 else 0)
        refund = order.refund
        r.o_refund.append(0 if refund is None else codes.REFUND_STATE[refund.status])
        placed = rec.ts[PLACED]
        r.o_window.append(self._window[0] <= placed < self._window[1])


def _refund_pending(rec: OrderRec, order: Order) -> bool:
    """A cancelled paid order still changes when its refund settles: keep it until then."""
    refund = order.refund
    rec.refund_open = refund is not None and refund.status in OPEN_REFUND
    return rec.refund_open
