"""The kitchen flow: the payment gateway, then the restaurant, from placement to food ready.

One callback chain per order. Each step runs when the event it waits on fires and schedules the
next; the event carries the order (a timeout's value, or ``SlotRequest.rec``)::

    start ─┬─ online, after pay_delay ──> _pay ─┬─ declined: ends
           │                                    └─ paid, after confirm_delay ──┐
           └─ cash, after confirm_delay ───────────────────────────────────────┴─> _answer
    _answer ─┬─ rejects: ends
             └─ confirms, queues for a slot ──> _cook (slot granted) ─┬─ after prep ──> _ready
                                                                      └─ part-way ──> _out_of_stock

``_ready`` marks the food ready and ``_out_of_stock`` cancels; both free the slot. A customer who
never pays and a restaurant that never answers simply stop the chain: the service's payment and
confirm timeouts end those orders. Until preparation starts, the customer or a rule timer may
end the order at any moment, so those steps first check ``rec.done`` (and
``ServiceBridge._ended`` gives up a slot request still queued).

Callbacks rather than a SimPy process per order: a process adds events of its own at every
step, and the model's event order (which fixes its outputs) is that of this chain.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

import simpy
from simpy.resources.resource import Request

from reference_api.roles import SYSTEM_ACTOR, Actor
from reference_api.service import OrderService
from reference_api.service.parsing import PREP_MINUTES
from sim.calls import OK, R_RESTAURANT, R_SYSTEM, REASON_TEXT, Log, RequestCodes
from sim.codes import EP, REASON
from sim.records import OrderRec


def quoted_minutes(seconds: float) -> int:
    """The preparation time a restaurant quotes for food due in ``seconds``: whole minutes
    within the API's bounds."""
    lo, hi = PREP_MINUTES
    return max(lo, min(hi, round(seconds / 60.0)))


class SlotRequest(Request):
    """A request for a kitchen slot that carries its order, as the chain's timeouts do."""

    def __init__(self, kitchen: simpy.Resource, rec: OrderRec) -> None:
        self.rec = rec
        super().__init__(kitchen)


class KitchenFlow:
    __slots__ = (
        "_confirm_for",
        "_env",
        "_flush",
        "_kitchens",
        "_log",
        "_p_confirm",
        "_p_empty",
        "_p_pay_fail",
        "_p_pay_ok",
        "_p_reason",
        "_prep_estimate",
        "_restaurants",
        "_slots",
        "_svc",
    )

    def __init__(
        self,
        env: simpy.Environment,
        svc: OrderService,
        restaurants: list[Actor],
        kitchens: list[simpy.Resource],
        codes: RequestCodes,
        log: Log,
        flush: Callable[[], None],
        slots: Callable[[int], None],
    ) -> None:
        self._env, self._svc = env, svc
        self._restaurants, self._kitchens = restaurants, kitchens
        self._log, self._flush, self._slots = log, flush, slots
        self._prep_estimate = codes.prep_estimate
        self._confirm_for = codes.confirm_for
        self._p_confirm, self._p_empty = codes.confirm, codes.empty
        self._p_pay_ok, self._p_pay_fail = codes.pay_ok, codes.pay_fail
        self._p_reason = codes.reason

    def start(self, rec: OrderRec) -> None:
        """The order was just placed."""
        blk, j = rec.blk, rec.j
        if rec.online:
            if blk.pay_abandon[j]:
                return  # never pays: the payment timeout fails the order
            self._env.timeout(blk.pay_delay[j], rec).callbacks.append(self._pay)
        else:
            self._env.timeout(blk.confirm_delay[j], rec).callbacks.append(self._answer)

    def _pay(self, event: simpy.Event) -> None:
        rec = cast(OrderRec, event.value)
        if rec.done:
            return
        fail = rec.blk.pay_fail[rec.j]
        self._svc.record_payment(SYSTEM_ACTOR, rec.oid, success=not fail)
        params = self._p_pay_fail if fail else self._p_pay_ok
        self._log(rec.idx, -1, R_SYSTEM, EP["record_payment"], OK, params)
        if fail:
            rec.reason = REASON["payment_declined"]
            self._flush()
            return
        self._env.timeout(rec.blk.confirm_delay[rec.j], rec).callbacks.append(self._answer)

    def _answer(self, event: simpy.Event) -> None:
        rec = cast(OrderRec, event.value)
        blk, j = rec.blk, rec.j
        if rec.done or blk.no_response[j]:
            return  # cancelled meanwhile, or the restaurant never answers (confirm timeout)
        svc, idx, oid = self._svc, rec.idx, rec.oid
        kitchen = self._restaurants[rec.vendor]
        if blk.reject[j]:
            why = "restaurant_rejected"
            svc.reject(kitchen, oid, reason=REASON_TEXT[why])
            rec.reason = REASON[why]
            self._log(idx, -1, R_RESTAURANT, EP["reject"], OK, self._p_reason[why])
            self._flush()
            return
        ready_at = math.nan if blk.ready_at is None else blk.ready_at[j]
        if ready_at == ready_at:  # an order log's ready time: the restaurant quotes it
            estimate = quoted_minutes(ready_at - self._env.now)
            svc.confirm(kitchen, oid, estimated_prep_time=estimate)
            self._log(idx, -1, R_RESTAURANT, EP["confirm"], OK, self._confirm_for(estimate))
        else:
            svc.confirm(kitchen, oid, estimated_prep_time=self._prep_estimate)
            self._log(idx, -1, R_RESTAURANT, EP["confirm"], OK, self._p_confirm)
        req = SlotRequest(self._kitchens[rec.vendor], rec)
        rec.slot_req = req
        req.callbacks.append(self._cook)

    def _cook(self, event: simpy.Event) -> None:
        rec = cast(SlotRequest, event).rec
        if rec.done:  # cancelled in the very instant the slot was granted
            self._release_slot(rec, busy=False)
            return
        self._slots(1)
        self._svc.start_preparing(self._restaurants[rec.vendor], rec.oid)
        self._log(rec.idx, -1, R_RESTAURANT, EP["start_preparing"], OK, self._p_empty)
        blk, j = rec.blk, rec.j
        prep = blk.prep[j]
        if blk.ready_at is not None and blk.ready_at[j] == blk.ready_at[j]:
            # an order log's ready time holds unless the kitchen started late
            prep = max(0.0, blk.ready_at[j] - self._env.now)
        if blk.rest_cancel[j]:
            prep, then = prep * blk.rest_cancel_frac[j], self._out_of_stock
        else:
            then = self._ready
        self._env.timeout(prep, rec).callbacks.append(then)

    def _out_of_stock(self, event: simpy.Event) -> None:
        rec = cast(OrderRec, event.value)
        why = "restaurant_out_of_stock"
        self._svc.cancel(self._restaurants[rec.vendor], rec.oid, reason=REASON_TEXT[why])
        rec.reason = REASON[why]
        self._log(rec.idx, -1, R_RESTAURANT, EP["cancel"], OK, self._p_reason[why])
        self._release_slot(rec, busy=True)

    def _ready(self, event: simpy.Event) -> None:
        rec = cast(OrderRec, event.value)
        self._svc.mark_ready(self._restaurants[rec.vendor], rec.oid)
        self._log(rec.idx, -1, R_RESTAURANT, EP["mark_ready"], OK, self._p_empty)
        self._release_slot(rec, busy=True)

    def _release_slot(self, rec: OrderRec, *, busy: bool) -> None:
        req = rec.slot_req
        assert req is not None
        rec.slot_req = None
        self._kitchens[rec.vendor].release(req)
        if busy:
            self._slots(-1)
            self._flush()
