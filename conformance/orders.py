"""Orders in a given status, made through the public API only: checkout as the customer, the
restaurant's and the assigned rider's actions, the payment callback as the system, and the
system's cancellation to free what the run holds (the spec lets no client free a rider any other
way). Every move goes through ``perform``, which also keeps the run's model of the order."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from conformance.catalogue import CANCEL, MOVE_BY_NAME, Move
from conformance.context import Context, NotTestable, TrackedOrder
from conformance.driver import BoundReached, Exchange, Who
from loadtest.checks import canonical
from reference_api.endpoints import ENDPOINTS
from reference_api.roles import Role
from reference_api.statuses import OrderStatus

S = OrderStatus

#: The shortest way to each status, and who takes each step (role; "rider" is the assigned one).
PATHS: dict[OrderStatus, tuple[str, tuple[tuple[str, Role], ...]]] = {
    S.ORDER_PLACED: ("cod", ()),
    S.PAYMENT_PENDING: ("online", ()),
    S.PAYMENT_SUCCESS: ("online", (("pay_success", Role.SYSTEM),)),
    S.PAYMENT_FAILED: ("online", (("pay_failed", Role.SYSTEM),)),
    S.ORDER_CONFIRMED: ("cod", (("confirm", Role.RESTAURANT),)),
    S.RESTAURANT_REJECTED: ("cod", (("reject", Role.RESTAURANT),)),
    S.PREPARING: ("cod", (("confirm", Role.RESTAURANT), ("start_preparing", Role.RESTAURANT))),
    S.READY_FOR_PICKUP: (
        "cod",
        (
            ("confirm", Role.RESTAURANT),
            ("start_preparing", Role.RESTAURANT),
            ("mark_ready", Role.RESTAURANT),
        ),
    ),
    S.CANCELLED: ("cod", (("cancel", Role.CUSTOMER),)),
}
_AFTER_READY = (("pickup", Role.RIDER), ("start_delivery", Role.RIDER))
PATHS[S.ORDER_PICKED_UP] = ("cod", (*PATHS[S.READY_FOR_PICKUP][1], _AFTER_READY[0]))
PATHS[S.OUT_FOR_DELIVERY] = ("cod", (*PATHS[S.READY_FOR_PICKUP][1], *_AFTER_READY))
PATHS[S.DELIVERED] = ("cod", (*PATHS[S.OUT_FOR_DELIVERY][1], ("complete_delivery", Role.RIDER)))
#: REFUND_COMPLETED: paid, cancelled, then the target's refund processing (D8)
REFUND_PATH = ("online", (("pay_success", Role.SYSTEM), ("cancel", Role.CUSTOMER)))
#: D8's delays on the reference defaults: pending -> processing 60 s -> completed 300 s later.
REFERENCE_REFUND_S = 360.0


class SetupFailed(NotTestable):
    """A step of building an order did not succeed; the rules that needed it are not testable
    (the step's own rule, if any, fails on its own)."""


def refusal(exchange: Exchange) -> str:
    if exchange.status is None:
        return f"{exchange.method} {exchange.url} got no answer ({exchange.error})"
    detail = exchange.data.get("detail") if isinstance(exchange.data, dict) else exchange.text
    return f"{exchange.method} {exchange.url} answered {exchange.status}: {str(detail)[:160]}"


def checkout_body(ctx: Context, method: str, quantity: int = 2) -> dict[str, Any]:
    item = ctx.cast.vendor.menu[0]
    return {
        "vendor": ctx.cast.vendor.id,
        "items": [{"name": item.name, "quantity": quantity, "unit_price": item.unit_price}],
        "delivery_address": ctx.cast.address.as_json(),
        "payment_method": method,
    }


def expected_subtotal(body: dict[str, Any]) -> Decimal:
    return sum(
        (Decimal(str(i["unit_price"])) * int(i["quantity"]) for i in body["items"]), Decimal(0)
    )


def send_checkout(ctx: Context, who: Who, body: dict[str, Any]) -> Exchange:
    """``POST /api/orders/`` with the clean-up request of the order it may create reserved
    before it is sent (so the bound always leaves one to cancel it); the caller tracks the
    order, or the reserve is given back."""
    ctx.budget.reserved += 1
    try:
        return ctx.driver.request(who, "POST", ENDPOINTS["place_order"].url(), body=body)
    finally:
        ctx.update_reserve()


def place(ctx: Context, method: str = "cod", who: Who | None = None) -> TrackedOrder:
    customer = who or ctx.cast.customer
    ex = send_checkout(ctx, customer, checkout_body(ctx, method))
    data = ex.json()
    if ex.status not in (200, 201) or not isinstance(data, dict) or "id" not in data:
        raise SetupFailed(f"checkout failed: {refusal(ex)}")
    path = [S.ORDER_PLACED.value] + ([S.PAYMENT_PENDING.value] if method == "online" else [])
    order = TrackedOrder(
        id=str(data["id"]),
        number=str(data.get("order_number", "")),
        method=method,
        status=S.PAYMENT_PENDING if method == "online" else S.ORDER_PLACED,
        path=path,
        rider_id=data.get("delivery_person")
        if isinstance(data.get("delivery_person"), str)
        else None,
        placed_by=customer.user_id,
    )
    return ctx.track(order)


def move_request(
    move: Move,
    order_id: str,
    otp: str | None,
    *,
    generic: bool = False,
    status_code: str | None = None,
) -> tuple[str, dict[str, Any] | None]:
    """The path and body that perform ``move`` (through its own endpoint, or ``POST /status/``
    with ``status_code``: the target's canonical code unless an alias is given, D1).
    A rider's generic pickup or delivery carries ``metadata.otp``; ``otp=None`` leaves it out
    (the system's override, D11)."""
    if generic:
        body: dict[str, Any] = {"status_code": status_code or move.target.value}
        meta: dict[str, Any] = {}
        if move.name == "confirm":
            meta["estimated_prep_time"] = 20
        if move.name in ("pickup", "complete_delivery") and otp is not None:
            meta["otp"] = otp
        if move.name in ("reject", "cancel"):
            body["reason"] = "conformance check"
        if meta:
            body["metadata"] = meta
        return ENDPOINTS["update_status"].url(order_id), body
    path = ENDPOINTS[move.operation].url(order_id)
    plains: dict[str, dict[str, Any]] = {
        "confirm": {"estimated_prep_time": 20},
        "reject": {"reason": "conformance check"},
        "pickup": {"otp": otp or "000000"},
        "complete_delivery": {"otp": otp or "000000", "delivery_notes": "conformance check"},
        "pay_success": {"status": "success", "transaction_id": "conformance"},
        "pay_failed": {"status": "failed", "transaction_id": "conformance"},
        "cancel": {"reason": "conformance check"},
    }
    return path, plains.get(move.name)


def perform(
    ctx: Context,
    order: TrackedOrder,
    move: Move,
    who: Who,
    *,
    otp: str | None = None,
    generic: bool = False,
    status_code: str | None = None,
    cleanup: bool = False,
) -> Exchange:
    """Send ``move`` as ``who``; on a 2xx the model takes the move (the caller judges whether it
    should have been allowed)."""
    path, body = move_request(move, order.id, otp, generic=generic, status_code=status_code)
    ex = ctx.driver.request(who, "POST", path, body=body, cleanup=cleanup)
    if ex.status is not None and 200 <= ex.status < 300:
        moved(ctx, order, move.target)
    return ex


def moved(ctx: Context, order: TrackedOrder, target: OrderStatus) -> None:
    order.status = target
    order.path.append(target.value)
    if target is S.CANCELLED:
        order.cancelled_at = time.monotonic()
    ctx.update_reserve()


def detail(ctx: Context, order: TrackedOrder, who: Who | None = None) -> Exchange:
    """Read the order (as its customer) and take its rider from it."""
    ex = ctx.driver.request(who or ctx.cast.customer, "GET", ENDPOINTS["get_order"].url(order.id))
    data = ex.json()
    if ex.status == 200 and isinstance(data, dict):
        rider = data.get("delivery_person")
        if isinstance(rider, str) and rider:
            order.rider_id = rider
    return ex


def observed_status(ex: Exchange) -> OrderStatus | None:
    data = ex.json()
    if ex.status != 200 or not isinstance(data, dict):
        return None
    code = canonical(data.get("order_status"))
    if code is None or code not in S.__members__:
        return None
    return S(code)


def resync(ctx: Context, order: TrackedOrder) -> None:
    """After an answer the model did not expect: take the status the target reports."""
    seen = observed_status(detail(ctx, order))
    if seen is not None and seen is not order.status:
        moved(ctx, order, seen)


def wait_rider(ctx: Context, order: TrackedOrder) -> Who:
    """The rider the target assigned (D20: read the order until it names one, within
    ``--rider-wait``), with a token to act as them."""
    left = max(0.0, ctx.budget.time_left())
    cut = left < ctx.options.rider_wait_s
    end = time.monotonic() + min(ctx.options.rider_wait_s, left)
    while order.rider_id is None:
        detail(ctx, order)
        if order.rider_id is not None:
            break
        if time.monotonic() >= end:
            if cut:  # the time limit ended the wait, not --rider-wait
                ctx.budget.out_of_time()
            raise NotTestable(
                f"no rider was assigned to order {order.number} within "
                f"{ctx.options.rider_wait_s:g}s (--rider-wait)"
            )
        time.sleep(0.25)
    who = ctx.cast.rider(order.rider_id)
    if who is None:
        raise NotTestable(f"no token for rider {order.rider_id}, whom the target assigned")
    return who


def read_otp(ctx: Context, order: TrackedOrder, kind: str) -> tuple[str, Exchange]:
    """The code as its holder reads it (pickup: the restaurant; delivery: the customer, D7)."""
    who = ctx.cast.restaurant if kind == "pickup" else ctx.cast.customer
    ex = ctx.driver.request(who, "GET", ENDPOINTS["get_otp"].url(order.id), params={"type": kind})
    data = ex.json()
    code = data.get("otp") if isinstance(data, dict) else None
    if ex.status != 200 or not isinstance(code, str):
        raise SetupFailed(f"reading the {kind} OTP failed: {refusal(ex)}")
    if kind == "pickup":
        order.pickup_code = code
    else:
        order.delivery_code = code
    return code, ex


def actor(ctx: Context, order: TrackedOrder, role: Role) -> Who:
    """Who takes a setup step of ``role``: the owner, or for a rider the assigned one."""
    if role is Role.RIDER:
        return wait_rider(ctx, order)
    who = ctx.cast.owner(role)
    assert who is not None
    return who


def step(ctx: Context, order: TrackedOrder, name: str, role: Role) -> Exchange:
    """One setup move by its usual actor, with the code it needs."""
    move = MOVE_BY_NAME[name]
    who = actor(ctx, order, role)
    otp = None
    if name == "pickup":
        otp = read_otp(ctx, order, "pickup")[0]
    elif name == "complete_delivery":
        otp = read_otp(ctx, order, "delivery")[0]
    ex = perform(ctx, order, move, who, otp=otp)
    if ex.status != 200:
        raise SetupFailed(f"{move.verb} failed: {refusal(ex)}")
    return ex


def build(ctx: Context, status: OrderStatus) -> TrackedOrder:
    """A new order in ``status`` (REFUND_COMPLETED: see ``refunded``)."""
    if status is S.REFUND_COMPLETED:
        return refunded(ctx)
    method, steps = PATHS[status]
    order = place(ctx, method)
    for name, role in steps:
        step(ctx, order, name, role)
    return order


def start_refund(ctx: Context) -> None:
    """Early in the run: a paid online order, cancelled, whose refund the target then settles
    on its own timers (D8), so that REFUND_COMPLETED may be reached before the run ends."""
    method, steps = REFUND_PATH
    order = place(ctx, method)
    for name, role in steps:
        step(ctx, order, name, role)
    ctx.refund_order = order


def refunded(ctx: Context) -> TrackedOrder:
    """The run's refund order once REFUND_COMPLETED. The target's refund delays cannot be read
    through the API, so it waits only while D8's reference delays (360 s from the cancellation)
    could still bring the refund within the time limit; otherwise it is not testable now."""
    order = ctx.refund_order
    if order is None:
        raise NotTestable("no paid-and-cancelled order was made to wait for a refund")
    while True:
        seen = observed_status(detail(ctx, order))
        if seen is S.REFUND_COMPLETED:
            if order.status is not S.REFUND_COMPLETED:
                moved(ctx, order, S.REFUND_COMPLETED)
            return order
        if seen is not S.CANCELLED:
            shown = seen.value if seen is not None else "unreadable"
            raise NotTestable(f"order {order.number}, cancelled after payment, is {shown}")
        cancelled = order.cancelled_at if order.cancelled_at is not None else time.monotonic()
        left = cancelled + REFERENCE_REFUND_S - time.monotonic()
        if left <= 0 or not ctx.budget.wait_ok(left):
            raise NotTestable(
                "only the target's refund timers reach REFUND_COMPLETED (D8: 360 s after the "
                f"cancellation by default); order {order.number} is not refunded and "
                "--time-limit ends first"
            )
        time.sleep(1.0)


def release(ctx: Context, *, everything: bool = False) -> None:
    """Cancel (as the system, D5) every active order of the run not reserved for a later check,
    or all of them, so their riders are free again; uses the requests kept back for this."""
    for order in ctx.orders:
        if not order.active or (order.reserved and not everything):
            continue
        try:
            ex = perform(ctx, order, CANCEL, ctx.cast.system, cleanup=True)
        except BoundReached:
            return
        if ex.status != 200:
            order.abandoned = True  # not ours to finish any more: stop holding a reserve for it
            ctx.update_reserve()
