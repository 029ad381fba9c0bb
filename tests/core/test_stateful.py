"""Random sequences of actions by random actors (right and wrong ones), clock advances and timer
processing, with the rules' invariants checked after every step:

- the status only ever moves along the transition table, and the history records every change,
  in order, never rewriting what it recorded;
- an OTP never verifies after expiry, after a resend (the old code), after lockout, or once used;
- a cancelled or rejected order that was paid online always has a refund record; COD never does;
- nobody reads another user's order; a rider carries at most one live order.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from reference_api.errors import Forbidden, NotFound, OrderflowError
from reference_api.model import Order
from reference_api.roles import SYSTEM_ACTOR, Actor, Role
from reference_api.statuses import (
    ACTIVE,
    DELIVERY_PARTNER_ASSIGNED,
    TRANSITIONS,
    OrderStatus,
)
from tests.core.conftest import make_world

S = OrderStatus
PICK = st.integers(0, 10_000)
TICKS = st.sampled_from([1, 29, 31, 31, 61, 121, 121, 301, 601, 1801])
RIDER_HELD = frozenset({S.ORDER_CONFIRMED, S.PREPARING, S.READY_FOR_PICKUP})
CARRIED = frozenset({S.ORDER_PICKED_UP, S.OUT_FOR_DELIVERY})


def _sees(actor: Actor, order: Order) -> bool:
    """Visibility, restated independently of ``permissions.can_see``."""
    if actor.role is Role.CUSTOMER:
        return actor.user_id == order.customer_id
    if actor.role is Role.RESTAURANT:
        return actor.vendor_id == order.vendor_id
    if actor.role is Role.RIDER:
        return actor.user_id == order.rider_id
    return True


class OrderMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # Short OTP lives beside long auto-cancel limits, so expiry happens on live orders.
        self.w = make_world(
            vendors=2, customers=3, riders=2, pickup_otp_ttl_s=120, delivery_otp_ttl_s=180
        )
        self.used: set[tuple[str, str]] = set()
        fx = self.w.fx
        self.actors: list[Actor] = [*fx.customers, *fx.restaurants, *fx.riders, SYSTEM_ACTOR]
        self.orders: list[str] = []
        self.history_ids: dict[str, list[str]] = {}
        self.stale: dict[tuple[str, str], set[str]] = {}

    # ------------------------------------------------------------------ helpers
    def _order(self, pick: int) -> Order:
        order = self.w.svc.store.get_order(self.orders[pick % len(self.orders)])
        assert order is not None
        return order

    def _actor(self, pick: int) -> Actor:
        return self.actors[pick % len(self.actors)]

    def _rider_or(self, order: Order, who: int) -> Actor:
        """The order's rider when it has one (the actor who uses OTPs), else a random actor."""
        rider = next((a for a in self.w.fx.riders if a.user_id == order.rider_id), None)
        return rider or self._actor(who)

    def _try(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except OrderflowError as exc:
            assert exc.detail, "every refusal says what was wrong"
            return exc

    # ------------------------------------------------------------------ rules
    @initialize(online=st.booleans())
    def first_order(self, online: bool) -> None:
        self.orders.append(self.w.place("online" if online else "cod"))

    @precondition(lambda self: len(self.orders) < 3)
    @rule(customer=st.integers(0, 2), vendor=st.integers(0, 1), online=st.booleans())
    def place(self, customer: int, vendor: int, online: bool) -> None:
        oid = self.w.place("online" if online else "cod", customer=customer, vendor=vendor)
        self.orders.append(oid)

    def _progress(self, pick: int) -> None:
        """The right actor takes the next step on the happy path, so deep states are reached."""
        order = self._order(pick)
        svc, w, oid = self.w.svc, self.w, order.id
        status = order.status
        rider = next((a for a in w.fx.riders if a.user_id == order.rider_id), None)
        step: Callable[[], Any] | None = None
        if status is S.PAYMENT_PENDING:
            step = lambda: svc.record_payment(SYSTEM_ACTOR, oid, success=True)  # noqa: E731
        elif status in (S.ORDER_PLACED, S.PAYMENT_SUCCESS):
            step = lambda: svc.confirm(w.restaurant_of(oid), oid)  # noqa: E731
        elif status is S.ORDER_CONFIRMED:
            step = lambda: svc.start_preparing(w.restaurant_of(oid), oid)  # noqa: E731
        elif status is S.PREPARING:
            step = lambda: svc.mark_ready(w.restaurant_of(oid), oid)  # noqa: E731
        elif status is S.READY_FOR_PICKUP and rider is not None:
            code = svc.codec.code(oid, "pickup", order.otps["pickup"].nonce)
            step = lambda: svc.pickup(rider, oid, otp=code)  # noqa: E731
        elif status is S.ORDER_PICKED_UP and rider is not None:
            step = lambda: svc.start_delivery(rider, oid)  # noqa: E731
        elif status is S.OUT_FOR_DELIVERY and rider is not None:
            code = svc.codec.code(oid, "delivery", order.otps["delivery"].nonce)
            step = lambda: svc.complete_delivery(rider, oid, otp=code)  # noqa: E731
        if step is not None:
            done = self._try(step)
            if not isinstance(done, OrderflowError) and status in CARRIED | {S.READY_FOR_PICKUP}:
                if status is S.READY_FOR_PICKUP:
                    self.used.add((oid, "pickup"))
                elif status is S.OUT_FOR_DELIVERY:
                    self.used.add((oid, "delivery"))

    @precondition(lambda self: self.orders)
    @rule(pick=PICK, steps=st.integers(1, 6))
    def progress(self, pick: int, steps: int) -> None:
        for _ in range(steps):
            self._progress(pick)

    @precondition(lambda self: self.orders)
    @rule(pick=PICK, success=st.booleans())
    def pay(self, pick: int, success: bool) -> None:
        order = self._order(pick)
        self._try(lambda: self.w.svc.record_payment(SYSTEM_ACTOR, order.id, success=success))

    @precondition(lambda self: self.orders)
    @rule(
        pick=PICK,
        who=PICK,
        action=st.sampled_from(
            ["confirm", "reject", "start_preparing", "mark_ready", "start_delivery", "cancel"]
        ),
    )
    def act(self, pick: int, who: int, action: str) -> None:
        order, actor = self._order(pick), self._actor(who)
        svc = self.w.svc
        before = order.status
        calls: dict[str, Callable[[], Any]] = {
            "confirm": lambda: svc.confirm(actor, order.id, estimated_prep_time=15),
            "reject": lambda: svc.reject(actor, order.id, reason="Closed"),
            "start_preparing": lambda: svc.start_preparing(actor, order.id),
            "mark_ready": lambda: svc.mark_ready(actor, order.id),
            "start_delivery": lambda: svc.start_delivery(actor, order.id),
            "cancel": lambda: svc.cancel(actor, order.id, reason="Because"),
        }
        out = self._try(calls[action])
        if not isinstance(out, OrderflowError):
            assert _sees(actor, _fresh(self, order.id)) or order.status is S.CANCELLED
            assert order.status in TRANSITIONS[before]
        elif isinstance(out, NotFound):
            assert not _sees(actor, order)

    OTP_ARGS = {
        "pick": PICK,
        "who": PICK,
        "kind": st.sampled_from(["pickup", "delivery"]),
        "which": st.sampled_from(["current", "stale", "wrong"]),
        "times": st.integers(1, 6),
        "consume": st.booleans(),
        "as_rider": st.booleans(),
    }

    @rule(**OTP_ARGS)
    def use_otp(self, **kw: Any) -> None:
        self._use_otp(**kw)

    @rule(**OTP_ARGS)
    def use_otp_again(self, **kw: Any) -> None:
        self._use_otp(**kw)

    def _use_otp(
        self,
        pick: int,
        who: int,
        kind: str,
        which: str,
        times: int,
        consume: bool,
        as_rider: bool,
    ) -> None:
        """Submit a code ``times`` times (the live one, an old one, or a wrong one); whenever a
        submission is accepted, it must have been the live code, in time, unlocked, unused."""
        issued = [o for o in map(lambda oid: _fresh(self, oid), self.orders) if o.otps]
        if not issued:
            return
        order = issued[pick % len(issued)]
        actor = self._rider_or(order, who) if as_rider else self._actor(who)
        kind = kind if kind in order.otps else next(iter(order.otps))
        svc = self.w.svc
        for _ in range(times):
            record = order.otps[kind]
            current = svc.codec.code(order.id, kind, record.nonce)
            if which == "current":
                code = current
            elif which == "stale":
                old = sorted(self.stale.get((order.id, kind), set()) - {current})
                if not old:
                    return
                code = old[0]
            else:
                code = f"{(int(current) + 1) % 1_000_000:06d}"
            attempts, consumed, expires = record.attempts, record.consumed, record.expires_at
            now = self.w.clock.now()
            out = self._try(lambda: self._submit(actor, order.id, kind, code, consume))  # noqa: B023
            if isinstance(out, OrderflowError):
                continue
            assert code == current and which == "current"
            assert now <= expires
            assert attempts < svc.policy.otp_max_attempts
            assert not consumed and (order.id, kind) not in self.used
            if consume:
                self.used.add((order.id, kind))

    def _submit(self, actor: Actor, oid: str, kind: str, code: str, consume: bool) -> Any:
        svc = self.w.svc
        if not consume:
            return svc.verify_otp(actor, oid, otp=code, otp_type=kind)
        if kind == "pickup":
            return svc.pickup(actor, oid, otp=code)
        return svc.complete_delivery(actor, oid, otp=code)

    @precondition(lambda self: self.orders)
    @rule(pick=PICK, who=PICK, kind=st.sampled_from(["pickup", "delivery"]), as_rider=st.booleans())
    def resend(self, pick: int, who: int, kind: str, as_rider: bool) -> None:
        order = self._order(pick)
        actor = self._rider_or(order, who) if as_rider else self._actor(who)
        record = order.otps.get(kind)
        old = None if record is None else self.w.svc.codec.code(order.id, kind, record.nonce)
        out = self._try(lambda: self.w.svc.resend_otp(actor, order.id, otp_type=kind))
        if not isinstance(out, OrderflowError):
            assert record is not None and old is not None
            assert order.otps[kind].nonce != record.nonce, "a resend issues a new code"
            self.stale.setdefault((order.id, kind), set()).add(old)
            assert order.otps[kind].attempts == 0

    @rule(seconds=TICKS)
    def tick(self, seconds: int) -> None:
        self.w.elapse(seconds)

    @rule(rider=st.integers(0, 1), available=st.booleans())
    def rider_duty(self, rider: int, available: bool) -> None:
        actor = self.w.fx.riders[rider]
        lat, lon = self.w.fx.rider_starts[rider]
        self.w.svc.set_rider_availability(actor, available=available, latitude=lat, longitude=lon)

    @precondition(lambda self: self.orders)
    @rule(pick=PICK, who=PICK, what=st.sampled_from(["get_order", "history", "eta", "otp"]))
    def read(self, pick: int, who: int, what: str) -> None:
        order, actor = self._order(pick), self._actor(who)
        svc = self.w.svc
        calls: dict[str, Callable[[], Any]] = {
            "get_order": lambda: svc.get_order(actor, order.id),
            "history": lambda: svc.history(actor, order.id),
            "eta": lambda: svc.eta(actor, order.id),
            "otp": lambda: svc.get_otp(actor, order.id, otp_type="delivery"),
        }
        out = self._try(calls[what])
        if isinstance(out, NotFound):
            assert not _sees(actor, order)
        elif not isinstance(out, Forbidden):
            assert _sees(actor, order) or isinstance(out, OrderflowError), (actor, what)

    @rule(who=PICK)
    def list_mine(self, who: int) -> None:
        actor = self._actor(who)
        out = self.w.svc.list_orders(actor, include_cancelled=True, page_size=100)
        ids = {r["id"] for r in out["results"]}
        assert ids == {oid for oid in self.orders if _sees(actor, _fresh(self, oid))}

    # ------------------------------------------------------------------ invariants
    @invariant()
    def history_follows_the_table(self) -> None:
        for oid in self.orders:
            order = _fresh(self, oid)
            ids = [e.id for e in order.history]
            seen = self.history_ids.get(oid, [])
            assert ids[: len(seen)] == seen, "history entries are never rewritten"
            self.history_ids[oid] = ids
            times = [e.created_at for e in order.history]
            assert times == sorted(times)
            path = [e.status for e in order.history if e.status != DELIVERY_PARTNER_ASSIGNED]
            assert path[0] == S.ORDER_PLACED
            if order.payment_method == "online":
                assert path[1] == S.PAYMENT_PENDING
                path = path[1:]
            changes = 0
            for prev, nxt in itertools.pairwise(path):
                if prev != nxt:
                    assert S(nxt) in TRANSITIONS[S(prev)], (prev, nxt)
                    changes += 1
            assert path[-1] == order.status
            assert changes == order.version, "every status change is in the history"

    @invariant()
    def refunds_follow_payment(self) -> None:
        for oid in self.orders:
            order = _fresh(self, oid)
            paid = order.payment_method == "online" and order.payment_status in {
                "paid",
                "refunded",
            }
            ended = order.status in {S.CANCELLED, S.RESTAURANT_REJECTED, S.REFUND_COMPLETED}
            if ended and paid:
                assert order.refund is not None
                assert order.refund.amount == order.total_amount
            if order.refund is not None:
                assert ended and order.payment_method == "online"
            if order.payment_method == "cod":
                assert order.refund is None
            if order.status is S.REFUND_COMPLETED:
                assert order.refund is not None and order.refund.status == "completed"
                assert order.payment_status == "refunded"

    @invariant()
    def riders_carry_one_order(self) -> None:
        store = self.w.svc.store
        for actor in self.w.fx.riders:
            rider = store.get_rider(actor.user_id)
            assert rider is not None
            if rider.current_order_id is not None:
                order = _fresh(self, rider.current_order_id)
                assert order.rider_id == rider.id
                assert order.status in RIDER_HELD | CARRIED
        for oid in self.orders:
            order = _fresh(self, oid)
            if order.rider_id is not None and order.status in ACTIVE:
                rider = store.get_rider(order.rider_id)
                assert rider is not None and rider.current_order_id == oid
            if order.status in CARRIED:
                assert order.rider_id is not None


def _fresh(machine: OrderMachine, oid: str) -> Order:
    order = machine.w.svc.store.get_order(oid)
    assert order is not None
    return order


OrderMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_order_rules_hold_under_random_actions = OrderMachine.TestCase
