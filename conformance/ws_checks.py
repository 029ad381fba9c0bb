"""The WebSocket rules beyond the events of each change (``observe``): who may subscribe, told
by the close code (D16), and the rider's position reaching the order's watchers (D16, an
extension). A refusal is an accepted connection closed with 4401 or 4404, not a failed
handshake: the close code is how the client learns why."""

from __future__ import annotations

import uuid
from typing import Any

from conformance import orders
from conformance.context import Context, NotTestable
from conformance.driver import Who
from reference_api.endpoints import ENDPOINTS
from reference_api.events import LOCATION_UPDATED
from reference_api.roles import Role
from reference_api.statuses import OrderStatus

S = OrderStatus


def _closes(ctx: Context, rule: str, want: int, who: Who | None, order_id: str, **kw: Any) -> None:
    sub = ctx.driver.subscribe(who, order_id, **kw)
    try:
        sub.collect(lambda _events: False, ctx.options.event_wait_s)
    finally:
        sub.close()
    got = sub.result.close_code
    if got == want:
        problem = None
    elif sub.result.error is not None:
        problem = f"the handshake failed ({sub.result.error}); D16 accepts, then closes {want}"
    elif got is None:
        problem = f"still open after {ctx.options.event_wait_s:g}s; expected a close with {want}"
    else:
        problem = f"closed with {got}, expected {want}"
    ctx.ledger.check(rule, problem, sub.result)


def run(ctx: Context) -> None:
    order = orders.build(ctx, S.ORDER_PLACED)
    _closes(ctx, "ws.auth.missing_token_4401", 4401, None, order.id)
    bad = "not-a-jwt"
    _closes(ctx, "ws.auth.bad_token_4401", 4401, None, order.id, token=bad)
    if ctx.cast.other_customer is None:
        ctx.ledger.untestable("ws.auth.other_customer_4404", "the tokens name one customer")
    else:
        _closes(ctx, "ws.auth.other_customer_4404", 4404, ctx.cast.other_customer, order.id)
    _closes(ctx, "ws.auth.unknown_order_4404", 4404, ctx.cast.customer, str(uuid.uuid4()))
    try:
        orders.step(ctx, order, "confirm", Role.RESTAURANT)
        rider = orders.wait_rider(ctx, order)
    except NotTestable as exc:
        ctx.ledger.untestable("ws.location_updated", str(exc))
        return
    vendor = ctx.cast.vendor
    with ctx.driver.watching(ctx.cast.customer, order.id) as sub:
        ex = ctx.driver.request(
            rider,
            "POST",
            ENDPOINTS["update_rider_location"].url(),
            body={"latitude": vendor.latitude, "longitude": vendor.longitude},
        )
        if ex.status != 200:
            ctx.ledger.check("ws.location_updated", f"the location report answered {ex.status}", ex)
            return

        def heard(events: list[dict[str, Any]]) -> bool:
            return any(
                e.get("event_type") == LOCATION_UPDATED
                and isinstance(e.get("delivery_person_location"), dict)
                for e in events
            )

        sub.collect(heard, ctx.options.event_wait_s)
        ctx.ledger.check(
            "ws.location_updated",
            None
            if heard(sub.result.events)
            else f"no {LOCATION_UPDATED} with delivery_person_location within "
            f"{ctx.options.event_wait_s:g}s",
            sub.result,
            ex,
        )
