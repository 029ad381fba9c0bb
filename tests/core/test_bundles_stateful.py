"""Bundles under ``rolling_horizon``, driven by random sequences of actions on a manual clock:
orders of one restaurant going to nearby customers, cooked, assigned in rounds (so two of them
often share a rider), picked up each with its own pickup OTP (wrong codes included), cancelled
one at a time, delivered each with its own delivery OTP, by riders who may go off duty while they
hold a bundle. Checked after every step:

- every history is a legal path of the transition table, never rewritten, and counts every move;
- each order a rider holds names that rider and is still in the rider's hands (confirmed to out
  for delivery), every live order with a rider is held by them, and nobody holds one twice;
- an order's ``bundle`` holds the order, and every order of it shares its ``bundle_id``;
- a rider holding orders (or off duty) is not among the strategy's free riders; a free one is;
- an order waits in the strategy exactly while it needs a rider, and then a round is armed;
- a rider who went off duty gains no order.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from reference_api import bootstrap
from reference_api.clock import ManualClock
from reference_api.dispatch import DispatchSpec
from reference_api.dispatch.rolling_horizon import RollingHorizon
from reference_api.errors import OrderflowError
from reference_api.events import DomainEvent
from reference_api.fixtures import build_fixtures, seed
from reference_api.model import Order, Rider
from reference_api.permissions import CANCEL_FROM
from reference_api.policy import Policy
from reference_api.roles import SYSTEM_ACTOR, Actor
from reference_api.states import DISPATCH_TIMER_ORDER, TimerKind
from reference_api.statuses import (
    ACTIVE,
    DELIVERY_PARTNER_ASSIGNED,
    DISPATCHABLE,
    TRANSITIONS,
    OrderStatus,
)
from reference_api.store.memory import MemoryStore
from tests.core.conftest import ITEMS, World
from tests.core.test_stateful import CARRIED, PICK, RIDER_HELD, S

#: Delivery points as offsets from the vendor (degrees): the first three lie within ~250 m of
#: each other (well inside ``stack_km``), the last some 3 km away from them.
SPOTS = ((0.010, 0.010), (0.0112, 0.0104), (0.0095, 0.0113), (-0.012, 0.018))
NEAR = 3  # SPOTS[:NEAR] are the nearby ones
MAX_ORDERS = 8
INTERVAL_S = 300.0  # the spec's default interval_min = 5
ITEMS_OF_AN_ORDER: list[Mapping[str, Any]] = list(ITEMS)
TICKS = st.sampled_from([1, 30, 61, 150, 299, 299, 601, 1801])


def rolling_world(*, vendors: int = 2, customers: int = 4, riders: int = 2) -> World:
    """A seeded service on a manual clock whose dispatch strategy is ``rolling_horizon`` with
    its default options (5-minute rounds, bundles of two within 1 km and 5 minutes)."""
    clock = ManualClock()
    events: list[DomainEvent] = []
    policy = Policy()
    svc = bootstrap(
        clock=clock,
        seed=7,
        policy=policy,
        dispatch=DispatchSpec("rolling_horizon").build(policy),
        sinks=[events.append],
    )
    fx = build_fixtures(vendors=vendors, customers=customers, riders=riders)
    seed(svc, fx)
    return World(svc, clock, fx, events)


def _note(what: str) -> None:
    """Count ``what`` in Hypothesis's statistics (``--hypothesis-show-statistics``), so one can
    see how often runs reach it; a no-op in the fixed scenarios."""
    if currently_in_test_context():
        event(what)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


class BundleMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.w = rolling_world()
        self.orders: list[str] = []
        self.history_ids: dict[str, list[str]] = {}
        #: riders who went off duty, and the orders they held then (they may gain none)
        self.off_duty: dict[str, frozenset[str]] = {}
        #: every bundle id seen on an order
        self.bundle_ids: set[str] = set()

    # ------------------------------------------------------------------ helpers
    @property
    def strategy(self) -> RollingHorizon:
        strategy = self.w.svc.dispatch
        assert isinstance(strategy, RollingHorizon)
        return strategy

    def order(self, oid: str) -> Order:
        return self.w.order(oid)

    def rider(self, rider_id: str) -> Rider:
        rider = self.w.svc.store.get_rider(rider_id)
        assert rider is not None
        return rider

    def rider_actor(self, order: Order) -> Actor:
        assert order.rider_id is not None
        return next(a for a in self.w.fx.riders if a.user_id == order.rider_id)

    def pick(
        self, pick: int, ok: Callable[[Order], bool], prefer: Callable[[Order], bool] | None = None
    ) -> Order | None:
        """An order ``ok`` accepts, chosen by ``pick`` (among those ``prefer`` also accepts,
        when there are any)."""
        found = [o for o in map(self.order, self.orders) if ok(o)]
        if prefer is not None:
            found = [o for o in found if prefer(o)] or found
        return found[pick % len(found)] if found else None

    def attempt(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except OrderflowError as exc:
            assert exc.detail, "every refusal says what was wrong"
            return exc

    def place(self, *, vendor: int, spot: int, customer: int, online: bool) -> str:
        v = self.w.fx.vendors[vendor]
        dlat, dlon = SPOTS[spot]
        order = self.w.svc.place_order(
            self.w.fx.customers[customer],
            vendor_id=v.id,
            items=ITEMS_OF_AN_ORDER,
            delivery_address={
                "latitude": v.latitude + dlat,
                "longitude": v.longitude + dlon,
                "address_line_1": f"{spot} Lane",
            },
            payment_method="online" if online else "cod",
        )
        oid = str(order["id"])
        if online:
            self.w.svc.record_payment(SYSTEM_ACTOR, oid, success=True)
        self.orders.append(oid)
        return oid

    def confirm_order(self, oid: str, prep: int) -> None:
        self.w.svc.confirm(self.w.restaurant_of(oid), oid, estimated_prep_time=prep)
        assert self.order(oid).status is S.ORDER_CONFIRMED

    def process_round(self) -> list[tuple[str, str, str]]:
        """Move the clock just past the round the strategy asked for (or one interval when it
        asked for none) and apply the due timers, the round among them."""
        now = self.w.clock.now()
        due = self.strategy.due()
        target = now + INTERVAL_S if due is None else max(due, now)
        fired = self.w.elapse(target - now + 1)
        self.note_bundles()
        return fired

    def note_bundles(self) -> None:
        for oid in self.orders:
            bundle_id = self.order(oid).bundle_id
            if bundle_id is not None and bundle_id not in self.bundle_ids:
                self.bundle_ids.add(bundle_id)
                _note("a bundle formed")

    def pickup_order(self, order: Order) -> Any:
        """The rider picks ``order`` up with its current code (asking for a new one first when
        the code expired or locked): accepted exactly when the code is live."""
        svc, actor = self.w.svc, self.rider_actor(order)
        record = order.otps["pickup"]
        now = self.w.clock.now()
        if now > record.expires_at or record.attempts >= svc.policy.otp_max_attempts:
            self.attempt(lambda: svc.resend_otp(actor, order.id, otp_type="pickup"))
            record = order.otps["pickup"]
        code = svc.codec.code(order.id, "pickup", record.nonce)
        live = (
            now <= record.expires_at
            and record.attempts < svc.policy.otp_max_attempts
            and not record.consumed
        )
        others = self.snapshot_partners(order)
        out = self.attempt(lambda: svc.pickup(actor, order.id, otp=code))
        assert isinstance(out, OrderflowError) is not live, (out, record)
        if live:
            assert order.status is S.ORDER_PICKED_UP and record.consumed
        assert self.snapshot_partners(order) == others, "one pickup moves only its own order"
        return out

    def snapshot_partners(self, order: Order) -> dict[str, tuple[Any, ...]]:
        """What a step on ``order`` must not change on the other orders of its bundle."""
        out: dict[str, tuple[Any, ...]] = {}
        for oid in order.bundle or ():
            if oid == order.id:
                continue
            other = self.order(oid)
            otps = tuple(
                (k, r.nonce, r.attempts, r.consumed) for k, r in sorted(other.otps.items())
            )
            out[oid] = (other.status, other.version, other.rider_id, len(other.history), otps)
        return out

    # ------------------------------------------------------------------ rules: orders
    @initialize(
        vendor=st.integers(0, 1),
        prep=st.sampled_from([1, 2, 4, 8]),
        online=st.booleans(),
        placed=st.integers(0, 2),
    )
    def start(self, vendor: int, prep: int, online: bool, placed: int) -> None:
        """Every run starts with a pair confirmed together (and ``placed`` more orders)."""
        self.place_pair(vendor, (0, 1), prep, online)
        for i in range(placed):
            self.place(vendor=vendor, spot=2 + i, customer=2 + i, online=False)

    @precondition(lambda self: len(self.orders) < MAX_ORDERS)
    @rule(
        vendor=st.integers(0, 1),
        spot=st.integers(0, len(SPOTS) - 1),
        customer=st.integers(0, 3),
        online=st.booleans(),
    )
    def place_order(self, vendor: int, spot: int, customer: int, online: bool) -> None:
        self.place(vendor=vendor, spot=spot, customer=customer, online=online)

    @precondition(lambda self: len(self.orders) <= MAX_ORDERS - 2)
    @rule(
        vendor=st.integers(0, 1),
        spots=st.sampled_from(list(itertools.permutations(range(NEAR), 2))),
        prep=st.sampled_from([1, 2, 4]),
        online=st.booleans(),
    )
    def place_pair(self, vendor: int, spots: tuple[int, int], prep: int, online: bool) -> None:
        """Two orders of one restaurant for neighbours, confirmed together: a bundle in the
        making."""
        for i, spot in enumerate(spots):
            oid = self.place(vendor=vendor, spot=spot, customer=i, online=online and i == 0)
            self.confirm_order(oid, prep)

    @rule(pick=PICK, prep=st.sampled_from([1, 3, 8, 20]))
    def confirm(self, pick: int, prep: int) -> None:
        order = self.pick(pick, lambda o: o.status in (S.ORDER_PLACED, S.PAYMENT_SUCCESS))
        if order is not None:
            self.confirm_order(order.id, prep)

    @rule(pick=PICK)
    def prepare(self, pick: int) -> None:
        order = self.pick(pick, lambda o: o.status is S.ORDER_CONFIRMED)
        if order is not None:
            self.prepare_order(order)

    def prepare_order(self, order: Order) -> None:
        self.w.svc.start_preparing(self.w.restaurant_of(order.id), order.id)
        assert order.status is S.PREPARING

    @rule(pick=PICK)
    def mark_ready(self, pick: int) -> None:
        order = self.pick(pick, lambda o: o.status is S.PREPARING)
        if order is not None:
            self.ready_order(order)

    def ready_order(self, order: Order) -> None:
        others = self.snapshot_partners(order)
        self.w.svc.mark_ready(self.w.restaurant_of(order.id), order.id)
        assert order.status is S.READY_FOR_PICKUP and "pickup" in order.otps
        assert self.snapshot_partners(order) == others

    @rule(pick=PICK, steps=st.integers(1, 4), wait=st.booleans(), typo=st.booleans())
    def advance_bundle(self, pick: int, steps: int, wait: bool, typo: bool) -> None:
        """Each order of a bundle (or one order, when none is bundled) takes up to ``steps``
        steps along the happy path by the right actor, so deliveries of bundles are reached;
        ``wait``: an order still without a rider first waits for the next round; ``typo``: the
        rider first enters a wrong pickup code for the bundle's second order."""
        order = self.pick(pick, lambda o: o.status in ACTIVE, prefer=lambda o: o.bundle is not None)
        if order is None:
            return
        for oid in order.bundle or [order.id]:
            for _ in range(steps):
                current = self.order(oid)
                if wait and current.rider_id is None and current.status in DISPATCHABLE:
                    self.process_round()
                if (
                    typo
                    and current.status is S.READY_FOR_PICKUP
                    and current.bundle is not None
                    and current.bundle.index(oid) > 0
                ):
                    self.wrong_pickup_order(current, 1)
                if not self.step(current):
                    break

    def step(self, order: Order) -> bool:
        """One step on the happy path (False: none to take, or it was refused)."""
        status = order.status
        if status in (S.ORDER_PLACED, S.PAYMENT_SUCCESS):
            self.confirm_order(order.id, 2)
        elif status is S.ORDER_CONFIRMED:
            self.prepare_order(order)
        elif status is S.PREPARING:
            self.ready_order(order)
        elif status is S.READY_FOR_PICKUP and order.rider_id is not None:
            return not isinstance(self.pickup_order(order), OrderflowError)
        elif status is S.ORDER_PICKED_UP:
            self.start_order(order)
        elif status is S.OUT_FOR_DELIVERY:
            return self.complete_order(order, wrong_first=False)
        else:
            return False
        return True

    # ------------------------------------------------------------------ rules: time
    @rule()
    def next_round(self) -> None:
        self.process_round()

    @rule(seconds=TICKS)
    def tick(self, seconds: int) -> None:
        self.w.elapse(seconds)
        self.note_bundles()

    # ------------------------------------------------------------------ rules: the rider
    @rule(pick=PICK)
    def pickup(self, pick: int) -> None:
        order = self.pick(pick, lambda o: o.status is S.READY_FOR_PICKUP and o.rider_id is not None)
        if order is not None:
            self.pickup_order(order)

    @rule(pick=PICK, times=st.integers(1, 2))
    def wrong_pickup(self, pick: int, times: int) -> None:
        """A wrong pickup code, preferably on a bundle's second order: refused and counted on
        that order's code only; the bundle's other orders are untouched."""
        order = self.pick(
            pick,
            lambda o: o.status is S.READY_FOR_PICKUP and o.rider_id is not None,
            prefer=lambda o: o.bundle is not None and o.bundle.index(o.id) > 0,
        )
        if order is not None:
            self.wrong_pickup_order(order, times)

    def wrong_pickup_order(self, order: Order, times: int) -> None:
        svc, actor = self.w.svc, self.rider_actor(order)
        if order.bundle is not None and order.bundle.index(order.id) > 0:
            _note("a wrong pickup code on a bundle's second order")
        for _ in range(times):
            record = order.otps["pickup"]
            before = record.attempts
            counted = (
                self.w.clock.now() <= record.expires_at
                and before < svc.policy.otp_max_attempts
                and not record.consumed
            )
            others = self.snapshot_partners(order)
            version = order.version
            code = _wrong(svc.codec.code(order.id, "pickup", record.nonce))
            out = self.attempt(lambda: svc.pickup(actor, order.id, otp=code))  # noqa: B023
            assert isinstance(out, OrderflowError), "a wrong pickup code is refused"
            assert order.status is S.READY_FOR_PICKUP and order.version == version
            assert record.attempts == before + (1 if counted else 0)
            assert not record.consumed
            assert self.snapshot_partners(order) == others, "the other orders are unaffected"
            assert order.id in self.rider(actor.user_id).order_ids

    @rule(pick=PICK)
    def start_delivery(self, pick: int) -> None:
        order = self.pick(pick, lambda o: o.status is S.ORDER_PICKED_UP)
        if order is not None:
            self.start_order(order)

    def start_order(self, order: Order) -> None:
        others = self.snapshot_partners(order)
        self.w.svc.start_delivery(self.rider_actor(order), order.id)
        assert order.status is S.OUT_FOR_DELIVERY and "delivery" in order.otps
        assert self.snapshot_partners(order) == others

    @rule(pick=PICK, wrong_first=st.booleans())
    def complete_delivery(self, pick: int, wrong_first: bool) -> None:
        order = self.pick(pick, lambda o: o.status is S.OUT_FOR_DELIVERY)
        if order is not None:
            self.complete_order(order, wrong_first)

    def complete_order(self, order: Order, wrong_first: bool) -> bool:
        """Deliver with the delivery code (after a wrong one, if ``wrong_first``): accepted
        exactly when the code is live; True when delivered."""
        svc, actor = self.w.svc, self.rider_actor(order)
        rider_id = actor.user_id
        record = order.otps["delivery"]
        if self.w.clock.now() > record.expires_at or record.attempts >= svc.policy.otp_max_attempts:
            self.attempt(lambda: svc.resend_otp(actor, order.id, otp_type="delivery"))
            record = order.otps["delivery"]
        code = svc.codec.code(order.id, "delivery", record.nonce)
        others = self.snapshot_partners(order)
        if wrong_first:
            before = record.attempts
            out = self.attempt(lambda: svc.complete_delivery(actor, order.id, otp=_wrong(code)))
            assert isinstance(out, OrderflowError) and order.status is S.OUT_FOR_DELIVERY
            assert record.attempts in (before, before + 1)
        now = self.w.clock.now()
        live = now <= record.expires_at and record.attempts < svc.policy.otp_max_attempts
        held = self.rider(rider_id).order_ids
        out = self.attempt(lambda: svc.complete_delivery(actor, order.id, otp=code))
        assert isinstance(out, OrderflowError) is not live, out
        assert self.snapshot_partners(order) == others
        if live:
            assert order.status is S.DELIVERED
            if order.bundle is not None:
                _note("a bundled order delivered")
            self.check_release(rider_id, held, order.id)
        return live

    @rule(
        pick=PICK, who=st.sampled_from(["customer", "restaurant", "system"]), bundled=st.booleans()
    )
    def cancel(self, pick: int, who: str, bundled: bool) -> None:
        """Cancel one order (preferably one of a bundle, while its partner is live): where the
        role may, it ends alone and the partner stays with the rider."""
        order = self.pick(
            pick,
            lambda o: o.status in ACTIVE,
            prefer=(lambda o: o.bundle is not None and o.rider_id is not None) if bundled else None,
        )
        if order is not None:
            self.cancel_order(order, who)

    def cancel_order(self, order: Order, who: str) -> None:
        w = self.w
        if who == "customer":
            actor = w.customer_of(order.id)
        elif who == "restaurant":
            actor = w.restaurant_of(order.id)
        else:
            actor = SYSTEM_ACTOR
        allowed = order.status in CANCEL_FROM[actor.role]
        rider_id = order.rider_id
        held = () if rider_id is None else self.rider(rider_id).order_ids
        before = order.status
        others = self.snapshot_partners(order)
        out = self.attempt(lambda: w.svc.cancel(actor, order.id, reason="Changed plans"))
        assert isinstance(out, OrderflowError) is not allowed, (who, before, out)
        if not allowed:
            assert order.status is before
            return
        assert order.status is S.CANCELLED
        if others and any(s[0] in ACTIVE for s in others.values()):
            _note("one order of a live bundle cancelled")
        assert self.snapshot_partners(order) == others, "the partner keeps its state and rider"
        assert order.id not in self.strategy._waiting
        if rider_id is not None:
            self.check_release(rider_id, held, order.id)

    def check_release(self, rider_id: str, held: tuple[str, ...], ended: str) -> None:
        """``ended`` left the rider who held ``held``: they keep the rest, and are free (or
        took new orders) only once none is left."""
        rider = self.rider(rider_id)
        rest = tuple(o for o in held if o != ended)
        if rest:
            assert rider.order_ids == rest, "the other orders stay with the rider"
            assert not rider.dispatchable and rider_id not in self.strategy._riders
        elif rider.available:
            assert rider.order_ids or rider_id in self.strategy._riders
            assert not set(rider.order_ids) & set(held)
        else:
            assert rider.order_ids == () and rider_id not in self.strategy._riders

    @rule(rider=st.integers(0, 1), available=st.booleans())
    def duty(self, rider: int, available: bool) -> None:
        actor = self.w.fx.riders[rider]
        before = self.rider(actor.user_id).order_ids
        lat, lon = self.w.fx.rider_starts[rider]
        self.w.svc.set_rider_availability(actor, available=available, latitude=lat, longitude=lon)
        after = self.rider(actor.user_id)
        if available:
            self.off_duty.pop(actor.user_id, None)
            if before:
                assert after.order_ids == before
        else:
            assert after.order_ids == before, "going off duty keeps what the rider holds"
            assert actor.user_id not in self.strategy._riders
            self.off_duty[actor.user_id] = frozenset(before)
            if len(before) > 1:
                _note("a rider went off duty holding a bundle")

    @rule(pick=PICK)
    def bundle_rider_goes_off_duty(self, pick: int) -> None:
        holding = [
            i
            for i, a in enumerate(self.w.fx.riders)
            if len(self.rider(a.user_id).order_ids) > 1 and a.user_id not in self.off_duty
        ]
        if holding:
            self.duty(holding[pick % len(holding)], available=False)

    @rule(rider=st.integers(0, 1), spot=st.integers(0, len(SPOTS) - 1))
    def rider_moves(self, rider: int, spot: int) -> None:
        actor = self.w.fx.riders[rider]
        v = self.w.fx.vendors[0]
        dlat, dlon = SPOTS[spot]
        before = self.rider(actor.user_id).order_ids
        self.w.svc.update_rider_location(
            actor, latitude=v.latitude + dlat / 2, longitude=v.longitude + dlon / 2
        )
        assert self.rider(actor.user_id).order_ids == before, "moving changes no assignment"

    @rule()
    def rebuild(self) -> None:
        """The strategy is derived state: a fresh one refilled from the store (as after a
        rollback) must satisfy every invariant too."""
        svc = self.w.svc
        svc.rebuild_dispatch(DispatchSpec("rolling_horizon").build(svc.policy))

    # ------------------------------------------------------------------ invariants
    @invariant()
    def histories_are_legal_paths(self) -> None:
        for oid in self.orders:
            order = self.order(oid)
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
            assigned = [e for e in order.history if e.status == DELIVERY_PARTNER_ASSIGNED]
            assert len(assigned) == (0 if order.rider_id is None else 1), "assigned once"
            if order.bundle is not None:
                meta = assigned[0].metadata["bundle"]
                assert meta == {"id": order.bundle_id, "orders": order.bundle}

    @invariant()
    def riders_hold_their_orders(self) -> None:
        store = self.w.svc.store
        for actor in self.w.fx.riders:
            rider = self.rider(actor.user_id)
            held = rider.order_ids
            assert len(set(held)) == len(held), f"duplicates in {held}"
            for oid in held:
                order = self.order(oid)
                assert order.rider_id == rider.id
                assert order.status in RIDER_HELD | CARRIED, order.status
            if held:
                assert not rider.dispatchable
            if rider.id in self.off_duty:
                assert not rider.available
                assert set(held) <= self.off_duty[rider.id], "an off-duty rider gets no orders"
        for oid in self.orders:
            order = self.order(oid)
            if order.rider_id is not None and order.status in ACTIVE:
                holder = store.get_rider(order.rider_id)
                assert holder is not None and oid in holder.order_ids
            if order.status in CARRIED:
                assert order.rider_id is not None

    @invariant()
    def bundles_are_consistent(self) -> None:
        for oid in self.orders:
            order = self.order(oid)
            if order.bundle is None:
                assert order.bundle_id is None
                continue
            assert order.bundle_id is not None and oid in order.bundle
            assert len(order.bundle) == 2 == len(set(order.bundle))  # max_bundle is 2
            for other_id in order.bundle:
                other = self.order(other_id)
                assert other.bundle_id == order.bundle_id and other.bundle == order.bundle
                assert other.rider_id == order.rider_id and other.vendor_id == order.vendor_id

    @invariant()
    def free_riders_are_exactly_the_dispatchable(self) -> None:
        grid = self.strategy._riders
        for actor in self.w.fx.riders:
            rider = self.rider(actor.user_id)
            assert (rider.id in grid) == rider.dispatchable, (rider, rider.id in grid)

    @invariant()
    def orders_wait_exactly_while_they_need_a_rider(self) -> None:
        strategy = self.strategy
        waiting = strategy._waiting
        for oid in self.orders:
            order = self.order(oid)
            needs = order.rider_id is None and order.status in DISPATCHABLE
            assert (oid in waiting) == needs, (order.status, order.rider_id)
        assert set(waiting) <= set(self.orders)
        if len(strategy._riders):
            cooked = [oid for oid in waiting if self.order(oid).ready_at is not None]
            assert not cooked, "food that is ready waits for no round while a rider is free"
        if waiting:
            due = strategy.due()
            assert due is not None and due > self.w.clock.now(), "a round is coming"
            store = self.w.svc.store
            assert isinstance(store, MemoryStore)
            armed = store._armed.get((DISPATCH_TIMER_ORDER, TimerKind.DISPATCH_ROUND))
            assert armed is not None and armed[2] is not None and armed[0] == due

    def check(self) -> None:
        """Every invariant, for the deterministic tests that call the rules by hand."""
        self.histories_are_legal_paths()
        self.riders_hold_their_orders()
        self.bundles_are_consistent()
        self.free_riders_are_exactly_the_dispatchable()
        self.orders_wait_exactly_while_they_need_a_rider()


BundleMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_bundles_keep_their_rules_under_random_actions = BundleMachine.TestCase


# ---------------------------------------------------------------------- fixed scenarios
def _status(order: Order) -> OrderStatus:
    return order.status  # read through a call: each step changes it under mypy's narrowing


def _bundle_of_two(m: BundleMachine, *, vendor: int = 0) -> tuple[Order, Order, Rider]:
    """Two neighbours' orders of one restaurant, confirmed together and cooked: the next round
    gives both to one rider as a bundle."""
    m.place_pair(vendor=vendor, spots=(0, 1), prep=2, online=False)
    m.check()
    a, b = (m.order(oid) for oid in m.orders[-2:])
    assert a.rider_id is None and b.rider_id is None, "rolling_horizon waits for its round"
    m.process_round()
    m.check()
    assert a.bundle is not None and a.bundle_id is not None, "the round bundled them"
    assert b.bundle == a.bundle and b.bundle_id == a.bundle_id and set(a.bundle) == {a.id, b.id}
    assert a.rider_id is not None and b.rider_id == a.rider_id
    rider = m.rider(a.rider_id)
    assert rider.order_ids == tuple(a.bundle)
    assert rider.id not in m.strategy._riders
    first, second = (m.order(oid) for oid in a.bundle)
    for order in (first, second):
        m.prepare_order(order)
        m.ready_order(order)
        m.check()
    return first, second, rider


def test_a_bundle_is_picked_up_and_delivered_order_by_order() -> None:
    m = BundleMachine()
    first, second, rider = _bundle_of_two(m)
    assert m.bundle_ids == {first.bundle_id}
    m.pickup_order(first)
    m.check()
    # a wrong code on the second order: refused, counted on its code, the first untouched
    first_state = m.snapshot_partners(second)
    m.wrong_pickup_order(second, times=1)
    assert second.otps["pickup"].attempts == 1 and first.otps["pickup"].attempts == 0
    assert m.snapshot_partners(second) == first_state
    assert _status(first) is S.ORDER_PICKED_UP and _status(second) is S.READY_FOR_PICKUP
    m.check()
    m.pickup_order(second)
    assert _status(second) is S.ORDER_PICKED_UP
    for order in (first, second):
        m.start_order(order)
        m.check()
    m.complete_order(first, wrong_first=True)
    assert _status(first) is S.DELIVERED and m.rider(rider.id).order_ids == (second.id,)
    assert rider.id not in m.strategy._riders, "not free before the last order ends"
    m.check()
    m.complete_order(second, wrong_first=False)
    assert _status(second) is S.DELIVERED
    assert m.rider(rider.id).order_ids == () and rider.id in m.strategy._riders
    m.check()


def test_cancelling_one_of_a_bundle_leaves_the_other_with_the_rider() -> None:
    m = BundleMachine()
    first, second, rider = _bundle_of_two(m)
    m.cancel_order(first, who="restaurant")
    assert _status(first) is S.CANCELLED and _status(second) is S.READY_FOR_PICKUP
    assert m.rider(rider.id).order_ids == (second.id,) and second.rider_id == rider.id
    assert not m.rider(rider.id).dispatchable
    m.check()
    # a new pair waits for the next round: the rider still holding an order gets none of it
    m.place_pair(vendor=1, spots=(1, 2), prep=1, online=True)
    m.process_round()
    m.check()
    assert m.rider(rider.id).order_ids == (second.id,)
    newer = [m.order(oid) for oid in m.orders[2:]]
    assert all(o.rider_id is not None and o.rider_id != rider.id for o in newer)
    m.pickup_order(second)
    m.start_order(second)
    assert m.complete_order(second, wrong_first=False)
    m.check()
    assert m.rider(rider.id).order_ids == () and rider.id in m.strategy._riders, "free again"


def test_a_rider_off_duty_keeps_and_delivers_the_bundle_and_gets_nothing_new() -> None:
    m = BundleMachine()
    first, second, rider = _bundle_of_two(m)
    index = next(i for i, a in enumerate(m.w.fx.riders) if a.user_id == rider.id)
    m.duty(index, available=False)
    assert m.rider(rider.id).order_ids == (first.id, second.id)
    m.check()
    m.place_pair(vendor=0, spots=(0, 2), prep=1, online=False)
    m.process_round()
    m.check()
    for order in (first, second):
        m.pickup_order(order)
        m.start_order(order)
        m.complete_order(order, wrong_first=False)
        assert _status(order) is S.DELIVERED
        m.check()
    off = m.rider(rider.id)
    assert off.order_ids == () and not off.available and rider.id not in m.strategy._riders
    newer = [m.order(oid) for oid in m.orders[2:]]
    assert all(o.rider_id is not None and o.rider_id != rider.id for o in newer), (
        "the new orders went to the rider on duty, none to the one off duty"
    )
