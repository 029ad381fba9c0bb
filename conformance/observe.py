"""What must hold after every change an allowed action made: the detail shows the new status
(spec 1, D1) and the delivery status that goes with it (D2), the history lists the whole path in
order (spec Order Tracking), and a subscriber heard the change (spec Real-Time Updates, D16)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conformance import shapes
from conformance.context import Context, TrackedOrder
from conformance.driver import Subscription
from conformance.orders import detail
from loadtest.checks import canonical
from reference_api.endpoints import ENDPOINTS
from reference_api.events import ASSIGNED, SPECIFIC_EVENT, STATUS_CHANGED
from reference_api.statuses import DELIVERY_PARTNER_ASSIGNED, OrderStatus

S = OrderStatus

#: The delivery status an order must show on entering each status (D2); None: unchanged.
DELIVERY_STATUS: dict[OrderStatus, str] = {
    S.ORDER_PICKED_UP: "picked_up",
    S.OUT_FOR_DELIVERY: "out_for_delivery",
    S.DELIVERED: "delivered",
}
_RULE_OF_EVENT = {
    ASSIGNED: "ws.event.assigned",
    **{event: f"ws.event.{event.removeprefix('order.')}" for event in SPECIFIC_EVENT.values()},
}


def history_path(entries: list[Any]) -> tuple[list[str], str | None]:
    """The statuses a history shows (tracking-only entries left out, an entry repeating the
    status before it, such as an OTP resend, counted once) and a problem with its times."""
    path: list[str] = []
    last_time = None
    problem = None
    for entry in entries:
        status = canonical(entry.get("status")) if isinstance(entry, dict) else None
        moment = shapes.instant(entry.get("created_at")) if isinstance(entry, dict) else None
        if moment is not None:
            if last_time is not None and moment < last_time and problem is None:
                problem = f"history times go backwards at {entry.get('status')!r}"
            last_time = moment
        if status is None or status == DELIVERY_PARTNER_ASSIGNED:
            continue
        if not path or path[-1] != status:
            path.append(status)
    return path, problem


def check_history(ctx: Context, order: TrackedOrder, rule: str) -> list[Any] | None:
    """``rule`` (complete and in order) against the model's path, plus the shape and (D2) the
    assignment entry of an order with a rider. Returns the entries when they could be read."""
    ex = ctx.driver.request(ctx.cast.customer, "GET", ENDPOINTS["history"].url(order.id))
    body = ex.json()
    if ex.status != 200:
        ctx.ledger.check(rule, f"history answered {ex.status}", ex)
        return None
    shape = shapes.history(body, order.id)
    ctx.ledger.check("history.shape", shape, ex)
    if shape is not None:
        ctx.ledger.check(rule, shape, ex)
        return None
    entries: list[Any] = body["history"]
    path, times = history_path(entries)
    problem = times
    if path != order.path:
        problem = f"history shows {' -> '.join(path)}; expected {' -> '.join(order.path)}"
    ctx.ledger.check(rule, problem, ex)
    if order.rider_id is not None:
        has = any(e.get("status") == DELIVERY_PARTNER_ASSIGNED for e in entries)
        ctx.ledger.check(
            "history.assignment_recorded",
            None if has else f"order has rider {order.rider_id} but no assignment entry",
            ex,
        )
    return entries


def assigned_after(entries: list[Any] | None, target: OrderStatus) -> bool:
    """Whether the history records an assignment after the entry of the move to ``target``:
    it happened after a subscription opened before the move, so the subscriber must hear it."""
    if not entries:
        return False
    last = None
    for i, entry in enumerate(entries):
        if isinstance(entry, dict) and canonical(entry.get("status")) == target.value:
            last = i
    if last is None:
        return False
    return any(
        isinstance(e, dict) and e.get("status") == DELIVERY_PARTNER_ASSIGNED
        for e in entries[last + 1 :]
    )


def _heard(previous: str, target: str) -> Callable[[list[dict[str, Any]]], bool]:
    def done(events: list[dict[str, Any]]) -> bool:
        return any(
            e.get("event_type") == STATUS_CHANGED
            and canonical(e.get("previous_status")) == previous
            and canonical(e.get("new_status")) == target
            for e in events
        )

    return done


def check_events(
    ctx: Context,
    sub: Subscription,
    previous: str,
    target: OrderStatus,
    newly_assigned: bool,
    start: int = 0,
) -> None:
    """The events a change must have published, on a subscription opened before it."""
    if sub.result.error is not None and sub.conn is None and not sub.result.events:
        ctx.ledger.check("ws.status_changed_after_each_change", "could not subscribe", sub.result)
        return
    specific = SPECIFIC_EVENT.get(target)
    wanted = {e for e in (specific, ASSIGNED if newly_assigned else None) if e is not None}
    changed = _heard(previous, target.value)

    def complete(events: list[dict[str, Any]]) -> bool:
        fresh = events[start:]
        types = {e.get("event_type") for e in fresh}
        return changed(fresh) and wanted <= types

    sub.collect(complete, ctx.options.event_wait_s)
    fresh = sub.result.events[start:]
    ctx.ledger.check(
        "ws.status_changed_after_each_change",
        None
        if changed(fresh)
        else f"no order.status_changed {previous} -> {target.value} within "
        f"{ctx.options.event_wait_s:g}s",
        sub.result,
    )
    types = {e.get("event_type") for e in fresh}
    for event in sorted(wanted):
        ctx.ledger.check(
            _RULE_OF_EVENT[event],
            None if event in types else f"no {event} within {ctx.options.event_wait_s:g}s",
            sub.result,
        )
    for payload in fresh:
        ctx.ledger.check("ws.payload_shape", shapes.event(payload), sub.result)


def after_change(
    ctx: Context,
    order: TrackedOrder,
    previous: str,
    target: OrderStatus,
    *,
    sub: Subscription | None,
) -> None:
    """Everything a change must show, read back once."""
    ex = detail(ctx, order)
    body = ex.json()
    if ex.status != 200:
        ctx.ledger.check("detail.status_after_change", f"detail answered {ex.status}", ex)
    else:
        ctx.ledger.check("detail.shape", shapes.order_detail(body), ex)
        shown = {canonical(body.get("order_status")), canonical(body.get("order_status_code"))}
        ctx.ledger.check(
            "detail.status_after_change",
            None
            if shown == {target.value}
            else f"after the move to {target.value} the detail shows "
            f"{body.get('order_status')!r} / {body.get('order_status_code')!r}",
            ex,
        )
        want = DELIVERY_STATUS.get(target)
        if target in (S.CANCELLED, S.RESTAURANT_REJECTED):
            want = "cancelled" if order.rider_id else None
        elif target in (S.ORDER_CONFIRMED, S.PREPARING, S.READY_FOR_PICKUP):
            want = "assigned" if order.rider_id else "unassigned"
        if want is not None:
            got = body.get("delivery_status")
            ctx.ledger.check(
                "detail.delivery_status_follows",
                None
                if got == want
                else f"in {target.value} delivery_status is {got!r}, not {want}",
                ex,
            )
    entries = check_history(ctx, order, "history.complete_and_ordered")
    if sub is not None:
        check_events(ctx, sub, previous, target, assigned_after(entries, target))
