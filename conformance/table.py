"""The deterministic table: every (status, role, action) cell, cancellation included, on orders
built in that status. The refused cells of a status share one order (a refusal changes nothing;
one that wrongly succeeds spends it and the next cell gets a new one); each allowed cell gets an
order of its own and every change it makes is read back (``observe``).

Each role acts on its own order (the order's customer, its vendor's restaurant, the rider the
target assigned, the system), so a refusal is the rule's, not a stranger's 404; the strangers'
404s are the access rules (``read_checks``).
"""

from __future__ import annotations

from conformance import orders, shapes
from conformance.catalogue import CANCEL, MOVES, ROLES, Move, allowed, cell_id, expect
from conformance.context import Context, NotTestable, TrackedOrder
from conformance.driver import Exchange, Subscription, Who
from conformance.observe import after_change, check_history
from reference_api.endpoints import ENDPOINTS
from reference_api.roles import Role
from reference_api.statuses import OrderStatus

S = OrderStatus
CELLS: tuple[Move, ...] = (*MOVES, CANCEL)


def judge(ex: Exchange, ok: bool, status: int, code: str | None, why: str) -> str | None:
    """None when ``ex`` is the expected answer; else what is wrong."""
    if ex.status is None:
        return f"no answer: {ex.error}"
    if ok:
        return None if ex.status == 200 else f"expected 200 ({why}), got {ex.status}"
    if ex.status != status:
        named = f" {code}" if code else ""
        return f"expected {status}{named} ({why}), got {ex.status}"
    return shapes.error_body(ex.json(), code)


def _code_for(ctx: Context, order: TrackedOrder, move: Move, may: bool) -> str | None:
    """The code an OTP-guarded move carries: read fresh when it should succeed, else the one
    already held (so a refusal is a refusal even of the right code)."""
    if move.name == "pickup":
        return orders.read_otp(ctx, order, "pickup")[0] if may else order.pickup_code
    if move.name == "complete_delivery":
        return orders.read_otp(ctx, order, "delivery")[0] if may else order.delivery_code
    return None


def _caller(ctx: Context, order: TrackedOrder, role: Role, may: bool) -> tuple[Who, bool]:
    """Who acts for ``role`` and whether the order is theirs to see."""
    if role is not Role.RIDER:
        who = ctx.cast.owner(role)
        assert who is not None
        if may and order.rider_id is None and order.status is S.READY_FOR_PICKUP:
            orders.wait_rider(ctx, order)  # an allowed pickup is one with a rider (D24)
        return who, True
    if may or order.rider_id is not None:
        return orders.wait_rider(ctx, order), True
    stranger = ctx.cast.stranger_rider(None)
    if stranger is None:
        raise NotTestable("the tokens name no rider")
    return stranger, False


def cell(ctx: Context, order: TrackedOrder, move: Move, role: Role) -> bool:
    """Check one cell on ``order``; True when the order is still in the status it was."""
    status = order.status
    rule = cell_id(move, status, role)
    may = allowed(move, status, role)
    try:
        who, visible = _caller(ctx, order, role, may)
        otp = _code_for(ctx, order, move, may)
    except NotTestable as exc:
        ctx.ledger.untestable(rule, str(exc))
        return True
    want = expect(move, status, role, visible=visible, rider_assigned=order.rider_id is not None)
    previous = status.value
    sub: Subscription | None = ctx.driver.subscribe(ctx.cast.customer, order.id) if may else None
    try:
        ex = orders.perform(ctx, order, move, who, otp=otp)
        if not visible and ex.status in (400, 403) and ex.status != want.status:
            # the rider was read as not assigned once; under just_in_time or rolling_horizon
            # the target may have assigned them since: read again and judge as it stands
            orders.detail(ctx, order)
            if order.rider_id == who.user_id:
                want = expect(move, status, role, visible=True, rider_assigned=True)
        problem = judge(ex, want.ok, want.status, want.code, want.why)
        if problem is None and want.ok:
            problem = shapes.action_result(
                ex.json(), move.permission, move.target.value, order.id, order.number
            )
        ctx.ledger.check(rule, problem, ex)
        succeeded = ex.status is not None and 200 <= ex.status < 300
        if succeeded and want.ok:
            if move is CANCEL or move.name == "reject":
                _refund_answer(ctx, order, move, ex)
            after_change(ctx, order, previous, move.target, sub=sub)
            return False
        if succeeded:
            orders.resync(ctx, order)  # a refusal that went through may have moved it
            return order.status is status
        return True
    finally:
        if sub is not None:
            sub.close()


def _refund_answer(ctx: Context, order: TrackedOrder, move: Move, ex: Exchange) -> None:
    """D8: a cancelled paid online order has a refund pending; a COD one none. D3, D8: so does
    a paid online order the restaurant (or the system) rejects."""
    body = ex.json()
    got = body.get("refund_status") if isinstance(body, dict) else None
    paid = order.method == "online" and "PAYMENT_SUCCESS" in order.path
    if move is not CANCEL:
        if paid:
            problem = None if got == "pending" else f"refund_status is {got!r}, not 'pending'"
            ctx.ledger.check("refund.paid_reject_pending", problem, ex)
        return
    if paid:
        problem = None if got == "pending" else f"refund_status is {got!r}, not 'pending'"
        ctx.ledger.check("refund.paid_cancel_pending", problem, ex)
    elif order.method == "cod":
        problem = None if got is None else f"a COD cancellation has refund_status {got!r}"
        ctx.ledger.check("refund.cod_cancel_none", problem, ex)


def _untestable(ctx: Context, status: OrderStatus, reason: str) -> None:
    for role in ROLES:
        for move in CELLS:
            ctx.ledger.untestable(cell_id(move, status, role), reason)


def _fixture(ctx: Context, status: OrderStatus) -> TrackedOrder:
    order = orders.build(ctx, status)
    if status is S.REFUND_COMPLETED:
        _refund_completed(ctx, order)
    return order


def _refund_completed(ctx: Context, order: TrackedOrder) -> None:
    ex = orders.detail(ctx, order)
    body = ex.json()
    problem = None
    if not isinstance(body, dict):
        problem = "the refunded order's detail is not a JSON object"
    elif body.get("payment_status") != "refunded" or body.get("refund_status") != "completed":
        problem = (
            f"REFUND_COMPLETED with payment_status {body.get('payment_status')!r} and "
            f"refund_status {body.get('refund_status')!r} (want refunded, completed)"
        )
    ctx.ledger.check("refund.completes", problem, ex)
    check_history(ctx, order, "refund.completes")


def run_status(ctx: Context, status: OrderStatus) -> None:
    """Every cell of one status."""
    pairs = [(move, role) for role in ROLES for move in CELLS]
    refused = [(m, r) for m, r in pairs if not allowed(m, status, r)]
    permitted = [(m, r) for m, r in pairs if allowed(m, status, r)]
    try:
        first = _fixture(ctx, status)
    except NotTestable as exc:
        _untestable(ctx, status, f"no order in {status.value}: {exc}")
        if status is S.REFUND_COMPLETED:
            ctx.ledger.untestable("refund.completes", str(exc))
        return
    if status is S.ORDER_PLACED:
        _reason_required(ctx, first)
    spare: TrackedOrder | None = first
    looked: set[str] = set()
    for move, role in refused:
        try:
            if spare is None or spare.status is not status:
                spare = _fixture(ctx, status)
            if role is Role.RIDER and spare.rider_id is None and spare.id not in looked:
                looked.add(spare.id)
                orders.detail(ctx, spare)  # a rider may have been assigned since
            if not cell(ctx, spare, move, role):
                spare = None
        except NotTestable as exc:
            ctx.ledger.untestable(cell_id(move, status, role), str(exc))
    for move, role in permitted:
        try:
            order = spare if spare is not None and spare.status is status else _fixture(ctx, status)
            spare = None
            cell(ctx, order, move, role)
        except NotTestable as exc:
            ctx.ledger.untestable(cell_id(move, status, role), str(exc))


def _reason_required(ctx: Context, order: TrackedOrder) -> None:
    """D5: a restaurant must say why it cancels (422 before anything moves)."""
    ex = ctx.driver.request(ctx.cast.restaurant, "POST", ENDPOINTS["cancel"].url(order.id), body={})
    problem = judge(ex, False, 422, None, "a restaurant must give a reason (D5)")
    ctx.ledger.check("cancel.restaurant_needs_reason", problem, ex)
    if ex.status is not None and 200 <= ex.status < 300:
        orders.moved(ctx, order, S.CANCELLED)


def run(ctx: Context) -> None:
    """The table, status by status, freeing the run's riders after each. REFUND_COMPLETED is
    left for ``run_refunded``, at the end of the run, when its refund has had the most time."""
    statuses = [s for s in OrderStatus if s is not S.REFUND_COMPLETED]
    for i, status in enumerate(statuses, 1):
        ctx.progress(f"table {i}/{len(OrderStatus)}: {status.value}")
        run_status(ctx, status)
        orders.release(ctx)


def run_refunded(ctx: Context) -> None:
    ctx.progress(f"table {len(OrderStatus)}/{len(OrderStatus)}: {S.REFUND_COMPLETED.value}")
    run_status(ctx, S.REFUND_COMPLETED)
