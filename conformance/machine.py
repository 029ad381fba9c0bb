"""Sequences: a Hypothesis ``RuleBasedStateMachine`` that places a few orders and then lets
random roles try random actions on them, through the dedicated endpoints or ``POST /status/``,
with right and wrong codes, comparing every answer with the reference model (``catalogue.expect``
plus D7's attempt count). The table reaches every cell once from a fresh order; the machine
reaches cells after histories the table never builds (a code tried wrong twice, then right; an
alias after a refusal), and checks the history and the events after each step.

It is bounded by ``--examples`` and ``--steps`` and by the run's budget: once the budget is
spent every step does nothing, and the run reports the bound. A mismatch is recorded in the
ledger rather than raised, so one run reports every broken rule it met (nothing is shrunk:
shrinking against a live server would cost requests and change its state).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from conformance import orders, shapes
from conformance.catalogue import ROLES, Expected, Move, allowed, cell_id, expect
from conformance.context import Context, NotTestable, TrackedOrder
from conformance.driver import BoundReached, Subscription, TargetGone, Who
from conformance.observe import assigned_after, check_events, check_history
from conformance.otp_checks import MAX_ATTEMPTS, wrong
from conformance.table import CELLS, judge
from loadtest.checks import canonical
from reference_api.events import STATUS_CHANGED
from reference_api.roles import Role
from reference_api.statuses import ALIASES, OrderStatus

S = OrderStatus
#: At most this many orders live in one example (each may hold a rider).
MAX_ORDERS = 3
#: Where each kind of code is live (D7).
LIVE_IN = {"pickup": S.READY_FOR_PICKUP, "delivery": S.OUT_FOR_DELIVERY}
KIND = {"pickup": "pickup", "complete_delivery": "delivery"}
#: The "progress" draw: 4 forward moves to 1 random one.
PROGRESS = (True, True, True, True, False)
#: Where a forward move must not lead (they end the order: left to the random draws).
ENDINGS = frozenset({S.CANCELLED, S.RESTAURANT_REJECTED, S.PAYMENT_FAILED})


@dataclass
class Live:
    """One order of an example: the model, its customer's subscription, wrong codes so far."""

    order: TrackedOrder
    sub: Subscription
    first_event: int
    changes_from: int
    attempts: dict[str, int] = field(default_factory=lambda: {"pickup": 0, "delivery": 0})


@dataclass
class Stop:
    """Why the machine stopped stepping (a bound, or the target gone), shared by examples."""

    reason: BaseException | None = None


class Sequences(RuleBasedStateMachine):
    ctx: ClassVar[Context]
    stop: ClassVar[Stop]
    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        self.live: list[Live] = []

    # ------------------------------------------------------------------ orders
    def _place(self, online: bool) -> Any:
        if self.stop.reason is not None:
            return multiple()
        ctx = self.ctx
        try:
            order = orders.place(ctx, "online" if online else "cod")
            sub = ctx.driver.subscribe(ctx.cast.customer, order.id)
        except (BoundReached, TargetGone) as exc:
            self.stop.reason = exc
            return multiple()
        except NotTestable:
            return multiple()
        live = Live(order, sub, 0, len(order.path))
        self.live.append(live)
        return live

    @initialize(target=orders, online=st.booleans())
    def first(self, online: bool) -> Any:
        return self._place(online)

    @precondition(lambda self: len(self.live) < MAX_ORDERS)
    @rule(target=orders, online=st.booleans())
    def another(self, online: bool) -> Any:
        return self._place(online)

    # ------------------------------------------------------------------ steps
    @rule(live=orders, data=st.data())
    def act(self, live: Live, data: st.DataObject) -> None:
        if self.stop.reason is not None:
            return
        try:
            self._act(live, data)
        except (BoundReached, TargetGone) as exc:
            self.stop.reason = exc
        except NotTestable:
            pass  # no token for the assigned rider, or no code to read: nothing to compare

    def _pick(self, status: OrderStatus, data: st.DataObject) -> tuple[Move, Role, bool]:
        """Mostly (4 in 5) a forward move its role may make, so sequences reach the pickup and
        delivery codes; otherwise any move by any role (cancellations and rejections among)."""
        if data.draw(st.sampled_from(PROGRESS), label="progress"):
            options = [
                (m, r)
                for m in CELLS
                for r in ROLES
                if m.target not in ENDINGS and allowed(m, status, r)
            ]
            if options:
                move, role = data.draw(st.sampled_from(options), label="allowed move")
                return move, role, data.draw(st.booleans(), label="generic")
        move = data.draw(st.sampled_from(CELLS), label="move")
        role = data.draw(st.sampled_from(ROLES), label="role")
        return move, role, data.draw(st.booleans(), label="generic")

    def _status_code(self, move: Move, generic: bool, data: st.DataObject) -> str | None:
        """What a generic move sends as ``status_code``: the canonical code or one of its
        aliases (D1)."""
        if not generic:
            return None
        names = [move.target.value, *(a for a, s in ALIASES.items() if s is move.target)]
        return data.draw(st.sampled_from(names), label="status code")

    def _who(self, order: TrackedOrder, role: Role) -> tuple[Who, bool]:
        ctx = self.ctx
        if role is not Role.RIDER:
            who = ctx.cast.owner(role)
            assert who is not None
            return who, True
        if order.rider_id is None and order.status is S.READY_FOR_PICKUP:
            # a pickup wants the assigned rider (D24): give the target --rider-wait
            with contextlib.suppress(NotTestable):
                orders.wait_rider(ctx, order)
        if order.rider_id is not None:
            rider = ctx.cast.rider(order.rider_id)
            if rider is None:
                raise NotTestable(f"no token for rider {order.rider_id}")
            return rider, True
        stranger = ctx.cast.stranger_rider(None)
        if stranger is None:
            raise NotTestable("the tokens name no rider")
        return stranger, False

    def _code(
        self, live: Live, move: Move, role: Role, generic: bool, data: st.DataObject
    ) -> tuple[str | None, bool | None]:
        """The code a pickup or delivery carries, and whether it is the right one (None: no
        code at all, the system's override through POST /status/, D11)."""
        kind = KIND.get(move.name)
        if kind is None:
            return None, None
        if generic and role is Role.SYSTEM and data.draw(st.booleans(), label="omit otp"):
            return None, None
        order = live.order
        held = order.pickup_code if kind == "pickup" else order.delivery_code
        live_now = order.status is LIVE_IN[kind]
        # while the code is live, as often wrong as right (D7's count), else mostly right
        right = data.draw(
            st.sampled_from([True, False] if live_now else [True, True, False]), label="right code"
        )
        if live_now and (right or held is None):
            held = orders.read_otp(self.ctx, order, kind)[0]
        if held is None:
            return "000000", False
        return (held, True) if right else (wrong(held), False)

    def _expected(
        self, live: Live, move: Move, role: Role, visible: bool, generic: bool, code: str | None,
        right: bool | None,
    ) -> tuple[Expected, bool]:  # fmt: skip
        """The model's answer, and whether D7's attempt count changed it from the table's."""
        order = live.order
        want = expect(
            move,
            order.status,
            role,
            visible=visible,
            rider_assigned=order.rider_id is not None,
            generic=generic,
        )
        kind = KIND.get(move.name)
        # the code is checked once the move is legal, before the D24 check of a rider
        if kind is None or code is None or not (want.ok or want.status == 409):
            return want, False
        if live.attempts[kind] >= MAX_ATTEMPTS:
            return Expected(423, "otp_locked", f"the {kind} code is locked (D7)"), True
        if right:
            return want, live.attempts[kind] > 0
        live.attempts[kind] += 1
        if live.attempts[kind] >= MAX_ATTEMPTS:
            return Expected(423, "otp_locked", f"the {MAX_ATTEMPTS}th wrong {kind} code (D7)"), True
        return Expected(400, "otp_invalid", f"a wrong {kind} code (D7)"), True

    def _act(self, live: Live, data: st.DataObject) -> None:
        ctx = self.ctx
        order = live.order
        orders.resync(ctx, order)  # a timer or a refund may have moved it (D6, D8)
        status = order.status
        move, role, generic = self._pick(status, data)
        who, visible = self._who(order, role)
        code, right = self._code(live, move, role, generic, data)
        status_code = self._status_code(move, generic, data)
        attempts = dict(live.attempts)
        want, counted = self._expected(live, move, role, visible, generic, code, right)
        previous = status.value
        start = len(live.sub.result.events)
        ex = orders.perform(
            ctx, order, move, who, otp=code, generic=generic, status_code=status_code
        )
        if not visible and ex.status in (400, 403) and ex.status != want.status:
            # the stranger rider was read as not assigned; the target may have assigned them
            # since (just_in_time, rolling_horizon): read again and judge as the order stands
            orders.detail(ctx, order)
            if order.rider_id == who.user_id:
                visible = True
                live.attempts = attempts
                want, counted = self._expected(live, move, role, visible, generic, code, right)
        problem = judge(ex, want.ok, want.status, want.code, want.why)
        if problem is None and want.ok:
            body = ex.json()
            problem = (
                shapes.status_update(body, order.id, previous, move.target.value)
                if generic
                else shapes.action_result(
                    body, move.permission, move.target.value, order.id, order.number
                )
            )
        ctx.ledger.check("sequence.steps_match_model", problem, ex)
        if generic:
            ctx.ledger.check("status_endpoint.follows_table", problem, ex)
        elif (
            visible
            and right is not False
            and not counted
            and want.ok == allowed(move, status, role)
            and want.status != 409
            and ex.status != 409
        ):
            # a cell is the table's answer to the caller on its own order: not a stranger's
            # 404, not D24's 409 before assignment, not a code's count (D7)
            ctx.ledger.check(cell_id(move, status, role), problem, ex)
        succeeded = ex.status is not None and 200 <= ex.status < 300
        if not succeeded:
            return
        if not want.ok:
            orders.resync(ctx, order)
            return
        orders.detail(ctx, order)
        entries = check_history(ctx, order, "sequence.history_matches_model")
        newly = assigned_after(entries, move.target)
        check_events(ctx, live.sub, previous, move.target, newly, start)

    # ------------------------------------------------------------------ end of an example
    def teardown(self) -> None:
        ctx = self.ctx
        for live in self.live:
            try:
                self._events_in_order(live)
            except (BoundReached, TargetGone):
                pass
            finally:
                live.sub.close()
        try:
            orders.release(ctx)
        except TargetGone as exc:
            self.stop.reason = self.stop.reason or exc

    def _events_in_order(self, live: Live) -> None:
        """D16: the status changes a subscriber hears are the history's, in its order (after a
        last read of the order, since a refund may have moved it on by itself, D8)."""
        orders.resync(self.ctx, live.order)
        changes = live.order.path[live.changes_from :]
        if not changes:
            return

        def heard(events: list[dict[str, Any]]) -> list[str]:
            return [
                str(canonical(e.get("new_status")))
                for e in events
                if e.get("event_type") == STATUS_CHANGED
            ]

        live.sub.collect(lambda events: len(heard(events)) >= len(changes), 1.0)
        got = heard(live.sub.result.events)
        # a change after the last read (a refund settling) may follow; none may be missing
        self.ctx.ledger.check(
            "sequence.ws_follows_history",
            None
            if got[: len(changes)] == changes
            else f"heard {' -> '.join(got)}; history {' -> '.join(changes)}",
            live.sub.result,
        )


def run(ctx: Context) -> None:
    """Run the machine within the options' examples and steps; re-raise the bound it met."""
    stop = Stop()
    machine = cast(
        "type[Sequences]", type("ConformanceSequences", (Sequences,), {"ctx": ctx, "stop": stop})
    )
    if ctx.options.machine_examples <= 0:
        for rule_id in (
            "sequence.steps_match_model",
            "sequence.history_matches_model",
            "sequence.ws_follows_history",
            "status_endpoint.follows_table",
        ):
            ctx.ledger.untestable(rule_id, "--examples 0: no sequences were run")
        return
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=ctx.options.machine_examples,
            stateful_step_count=ctx.options.machine_steps,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
            print_blob=False,
        ),
    )
    if stop.reason is not None:
        raise stop.reason
