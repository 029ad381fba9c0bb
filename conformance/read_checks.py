"""The rules around the table: authentication (D15), checkout (D3, D12, D17), who may read or
touch whose order (D4), the detail, ETA, queue and available-orders shapes, the generic status
endpoint (D11) and the order list's pages and filters (spec 2, D1, D9, D18)."""

from __future__ import annotations

import base64
import json
import math
import time
import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt

from conformance import orders, shapes
from conformance.catalogue import MOVE_BY_NAME
from conformance.context import Context, NotTestable, TrackedOrder
from conformance.driver import Exchange, Who
from conformance.observe import after_change, check_history
from conformance.otp_checks import wrong
from conformance.table import judge
from loadtest.checks import canonical
from reference_api.endpoints import ENDPOINTS
from reference_api.roles import Role
from reference_api.statuses import ALIASES, CANCELLED_LINEAGE, OrderStatus

S = OrderStatus
LIST = ENDPOINTS["list_orders"].url()
#: The most orders a walk of the list reads before it gives up looking for the run's own.
WALK_LIMIT = 2000
TAX_RATE = Decimal("0.05")  # D12


# ------------------------------------------------------------------------------ auth (D15)
def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(user_id: str) -> dict[str, Any]:
    return {
        "sub": user_id,
        "role": "customer",
        "name": "conformance",
        "exp": int(time.time()) + 600,
    }


def run_auth(ctx: Context) -> None:
    uid = ctx.cast.customer.user_id
    forged = jwt.encode(_claims(uid), "conformance-forged-secret-0123456789", algorithm="HS256")
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(uid))}."
    cases: list[tuple[str, dict[str, str] | None, str]] = [
        ("auth.missing_token_401", None, "not_authenticated"),
        ("auth.malformed_token_401", {"Authorization": "Bearer not-a-jwt"}, "token_invalid"),
        ("auth.forged_token_401", {"Authorization": f"Bearer {forged}"}, "token_invalid"),
        ("auth.alg_none_401", {"Authorization": f"Bearer {unsigned}"}, "token_invalid"),
    ]
    if ctx.secret is not None:
        from reference_api.http.auth import issue_token
        from reference_api.roles import Actor

        old = issue_token(
            Actor(Role.CUSTOMER, uid, "conformance"), ctx.secret, now=time.time() - 7200, ttl_s=60
        )
        cases.append(
            ("auth.expired_token_401", {"Authorization": f"Bearer {old}"}, "token_expired")
        )
    else:
        ctx.ledger.untestable(
            "auth.expired_token_401",
            "an expired token the target would otherwise accept needs its signing secret; "
            "tokens from --tokens cannot be re-signed",
        )
    for rule, headers, code in cases:
        ex = ctx.driver.request(None, "GET", LIST, headers=headers)
        problem = judge(ex, False, 401, code, "no valid token (D15)")
        if problem is None and headers is None:
            challenge = ex.headers.get("www-authenticate", "")
            if "bearer" not in challenge.lower():
                problem = f"401 without WWW-Authenticate: Bearer (got {challenge!r})"
        ctx.ledger.check(rule, problem, ex)
        if ex.status == 401:
            ctx.ledger.check("auth.error_body", shapes.error_body(ex.json(), None), ex)


# ------------------------------------------------------------------------------ checkout
def _amounts(body: dict[str, Any], sent: dict[str, Any]) -> str | None:
    try:
        subtotal = Decimal(body["subtotal"])
        fee = Decimal(body["delivery_fee"])
        tax = Decimal(body["tax_amount"])
        total = Decimal(body["total_amount"])
    except (KeyError, TypeError, ArithmeticError, ValueError):
        return "the amounts are not decimal strings"
    want = orders.expected_subtotal(sent)
    if subtotal != want:
        return f"subtotal {subtotal} is not the items' sum {want}"
    want_tax = (subtotal * TAX_RATE).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if tax != want_tax:
        return f"tax {tax} is not 5 % of {subtotal} ({want_tax})"
    if total != subtotal + fee + tax:
        return f"total {total} is not {subtotal} + {fee} + {tax}"
    return None


def _checkout(ctx: Context, method: str, rule: str) -> TrackedOrder | None:
    sent = orders.checkout_body(ctx, method)
    ex = orders.send_checkout(ctx, ctx.cast.customer, sent)
    body = ex.json()
    want = S.PAYMENT_PENDING if method == "online" else S.ORDER_PLACED
    problem = judge(ex, True, 201, None, "checkout (D17)") if ex.status != 201 else None
    if problem is None:
        problem = shapes.order_detail(body)
    if problem is None and canonical(body.get("order_status")) != want.value:
        problem = f"a new {method} order is {body.get('order_status')!r}, not {want.value}"
    ctx.ledger.check(rule, problem, ex)
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        return None
    ctx.ledger.check("detail.shape", shapes.order_detail(body), ex)
    number = body.get("order_number")
    ctx.ledger.check(
        "checkout.order_number_format",
        None
        if isinstance(number, str) and shapes.ORDER_NUMBER.match(number)
        else f"order number {number!r}",
        ex,
    )
    ctx.ledger.check("checkout.totals", _amounts(body, sent), ex)
    order = TrackedOrder(
        body["id"],
        str(number),
        method,
        want,
        [S.ORDER_PLACED.value] + ([S.PAYMENT_PENDING.value] if method == "online" else []),
        placed_by=ctx.cast.customer.user_id,
    )
    return ctx.track(order)


def run_checkout(ctx: Context) -> TrackedOrder | None:
    """Both checkouts and their refusals; the COD order is kept for the access rules."""
    placed = _checkout(ctx, "cod", "checkout.cod_starts_placed")
    online = _checkout(ctx, "online", "checkout.online_starts_payment_pending")
    if online is not None:
        check_history(ctx, online, "checkout.online_starts_payment_pending")
    ex = orders.send_checkout(ctx, ctx.cast.restaurant, orders.checkout_body(ctx, "cod"))
    ctx.ledger.check(
        "checkout.restaurant_refused",
        judge(ex, False, 403, "forbidden", "only a customer checks out (D17)"),
        ex,
    )
    if ex.status is not None and 200 <= ex.status < 300 and isinstance(ex.json(), dict):
        stray = ex.json().get("id")
        if isinstance(stray, str):
            ctx.track(
                TrackedOrder(
                    stray,
                    "",
                    "cod",
                    S.ORDER_PLACED,
                    [S.ORDER_PLACED.value],
                    placed_by=ctx.cast.restaurant.user_id,
                )
            )
    ex = orders.send_checkout(ctx, ctx.cast.customer, orders.checkout_body(ctx, "cod", quantity=0))
    problem = judge(ex, False, 422, None, "quantity 1..100 (D14)")
    if problem is None and (ex.json() or {}).get("field") != "body.items[0].quantity":
        problem = f"field should be body.items[0].quantity, is {(ex.json() or {}).get('field')!r}"
    ctx.ledger.check("checkout.invalid_quantity_422", problem, ex)
    return placed


# ------------------------------------------------------------------------------ access (D4)
def _read(ctx: Context, who: Who, op: str, order_id: str) -> Exchange:
    return ctx.driver.request(who, "GET", ENDPOINTS[op].url(order_id))


def _hidden(ctx: Context, rule: str, ex: Exchange) -> None:
    ctx.ledger.check(rule, judge(ex, False, 404, "not_found", "not the caller's (D4)"), ex)


def run_access(ctx: Context, placed: TrackedOrder | None) -> None:
    if placed is None:
        placed = orders.build(ctx, S.ORDER_PLACED)
    for who in (ctx.cast.customer, ctx.cast.restaurant, ctx.cast.system):
        ex = _read(ctx, who, "get_order", placed.id)
        ctx.ledger.check(
            "access.owners_can_read", judge(ex, True, 200, None, "its own order (D4)"), ex
        )
        if ex.status == 200:
            ctx.ledger.check("detail.shape", shapes.order_detail(ex.json()), ex)
    ex = _read(ctx, ctx.cast.customer, "eta", placed.id)
    problem = judge(ex, True, 200, None, "its own order") or shapes.eta(ex.json(), placed.id)
    ctx.ledger.check("eta.shape", problem, ex)
    other = ctx.cast.other_customer
    if other is None:
        for rule in ("detail", "history", "eta", "cancel"):
            ctx.ledger.untestable(
                f"access.other_customer.{rule}_404", "the tokens name one customer"
            )
    else:
        _hidden(ctx, "access.other_customer.detail_404", _read(ctx, other, "get_order", placed.id))
        _hidden(ctx, "access.other_customer.history_404", _read(ctx, other, "history", placed.id))
        _hidden(ctx, "access.other_customer.eta_404", _read(ctx, other, "eta", placed.id))
        ex = ctx.driver.request(
            other, "POST", ENDPOINTS["cancel"].url(placed.id), body={"reason": "not mine"}
        )
        _hidden(ctx, "access.other_customer.cancel_404", ex)
        if ex.status is not None and 200 <= ex.status < 300:
            orders.resync(ctx, placed)
    stranger = ctx.cast.other_restaurant
    if stranger is None:
        for rule in ("detail", "confirm"):
            ctx.ledger.untestable(
                f"access.other_restaurant.{rule}_404", "the tokens name one restaurant"
            )
    elif placed.status is S.ORDER_PLACED:
        _hidden(
            ctx, "access.other_restaurant.detail_404", _read(ctx, stranger, "get_order", placed.id)
        )
        ex = orders.perform(ctx, placed, MOVE_BY_NAME["confirm"], stranger)
        _hidden(ctx, "access.other_restaurant.confirm_404", ex)
    else:
        for rule in ("detail", "confirm"):
            ctx.ledger.untestable(
                f"access.other_restaurant.{rule}_404",
                f"the order to try it on is {placed.status.value} (another customer moved it)",
            )
    _hidden(
        ctx,
        "access.unknown_order_404",
        _read(ctx, ctx.cast.customer, "get_order", str(uuid.uuid4())),
    )
    ex = ctx.driver.request(ctx.cast.customer, "GET", "/api/orders/not-a-uuid/")
    problem = judge(ex, False, 422, None, "a malformed id (D14)")
    if problem is None and (ex.json() or {}).get("field") != "path.order_id":
        problem = f"field should be path.order_id, is {(ex.json() or {}).get('field')!r}"
    ctx.ledger.check("access.malformed_id_422", problem, ex)
    _queues(ctx, placed)
    _riders(ctx)


def _riders(ctx: Context) -> None:
    """The assigned rider reads the order; another rider may neither read nor pick it up."""
    try:
        ready = orders.build(ctx, S.READY_FOR_PICKUP)
        rider = orders.wait_rider(ctx, ready)
    except NotTestable as exc:
        for rule in ("access.unassigned_rider.detail_404", "access.unassigned_rider.pickup_404"):
            ctx.ledger.untestable(rule, str(exc))
        return
    ex = _read(ctx, rider, "get_order", ready.id)
    ctx.ledger.check("access.owners_can_read", judge(ex, True, 200, None, "its order (D4)"), ex)
    stranger = ctx.cast.stranger_rider(ready.rider_id)
    if stranger is None:
        for rule in ("access.unassigned_rider.detail_404", "access.unassigned_rider.pickup_404"):
            ctx.ledger.untestable(rule, "the tokens name only the rider the target assigned")
        return
    _hidden(ctx, "access.unassigned_rider.detail_404", _read(ctx, stranger, "get_order", ready.id))
    code = orders.read_otp(ctx, ready, "pickup")[0]
    ex = orders.perform(ctx, ready, MOVE_BY_NAME["pickup"], stranger, otp=code)
    _hidden(ctx, "access.unassigned_rider.pickup_404", ex)


def _queues(ctx: Context, placed: TrackedOrder) -> None:
    """The restaurant queue (spec 7) and the available orders (D13), and who may read them."""
    path = ENDPOINTS["restaurant_queue"].url()
    ex = ctx.driver.request(ctx.cast.restaurant, "GET", path)
    body = ex.json()
    problem = judge(ex, True, 200, None, "its queue") or shapes.order_queue(body)
    if problem is None:
        unnamed = [o["id"] for o in body["orders"] if not isinstance(o.get("vendor"), str)]
        foreign = [
            o["id"] for o in body["orders"] if o.get("vendor") not in (None, ctx.cast.vendor.id)
        ]
        ids = {o["id"] for o in body["orders"]}
        if unnamed:
            problem = f"queue entries without their vendor (spec 7): {unnamed[:3]}"
        elif foreign:
            problem = f"the queue holds orders of other vendors: {foreign[:3]}"
        elif placed.status is S.ORDER_PLACED and placed.id not in ids:
            problem = f"the new order {placed.number} is not in its restaurant's queue"
    ctx.ledger.check("queue.shape_and_scope", problem, ex)
    ex = ctx.driver.request(ctx.cast.customer, "GET", path)
    ctx.ledger.check(
        "queue.customer_refused", judge(ex, False, 403, "forbidden", "restaurants only (D4)"), ex
    )
    path = ENDPOINTS["available_orders"].url()
    if ctx.cast.riders:
        ex = ctx.driver.request(ctx.cast.riders[0], "GET", path)
        problem = judge(ex, True, 200, None, "riders list them (D13)") or shapes.order_queue(
            ex.json()
        )
        ctx.ledger.check("available.shape", problem, ex)
    else:
        ctx.ledger.untestable("available.shape", "the tokens name no rider")
    ex = ctx.driver.request(ctx.cast.customer, "GET", path)
    ctx.ledger.check(
        "available.customer_refused",
        judge(ex, False, 403, "forbidden", "riders and the system only (D4)"),
        ex,
    )


# ------------------------------------------------------------------------------ POST /status/
def _generic(
    ctx: Context, order: TrackedOrder, who: Who, code: str, metadata: dict[str, Any] | None = None
) -> Exchange:
    body: dict[str, Any] = {"status_code": code, "reason": "conformance check"}
    if metadata is not None:
        body["metadata"] = metadata
    return ctx.driver.request(who, "POST", ENDPOINTS["update_status"].url(order.id), body=body)


def _generic_move(
    ctx: Context,
    order: TrackedOrder,
    who: Who,
    code: str,
    target: OrderStatus,
    rule: str,
    metadata: dict[str, Any] | None = None,
) -> Exchange | None:
    """An allowed generic move, its answer checked against ``rule`` and read back."""
    previous = order.status.value
    with ctx.driver.watching(ctx.cast.customer, order.id) as sub:
        ex = _generic(ctx, order, who, code, metadata)
        problem = judge(ex, True, 200, None, f"{code} through POST /status/ (D11)")
        problem = problem or shapes.status_update(ex.json(), order.id, previous, target.value)
        ctx.ledger.check(rule, problem, ex)
        if ex.status is None or not 200 <= ex.status < 300:
            return None
        orders.moved(ctx, order, target)
        after_change(ctx, order, previous, target, sub=sub)
    return ex


def _status(order: TrackedOrder) -> OrderStatus:
    """The model's status now (a call, so a type checker does not carry an earlier test)."""
    return order.status


def refund_completed_refused(ctx: Context) -> None:
    """D11: REFUND_COMPLETED is set by refund processing only, even for the system and from
    CANCELLED, where the table has the edge; tried on the run's refund order while it is still
    CANCELLED (just after the paid cancellation, before the target's refund timers run)."""
    rule = "status_endpoint.refund_completed_refused"
    order = ctx.refund_order
    if order is None:
        raise NotTestable("no paid-and-cancelled order was made")
    if order.status is not S.CANCELLED:
        raise NotTestable(f"the paid-and-cancelled order is {order.status.value} already")
    ex = _generic(ctx, order, ctx.cast.system, S.REFUND_COMPLETED.value)
    ctx.ledger.check(
        rule,
        judge(ex, False, 400, "invalid_transition", "set by refund processing only (D11)"),
        ex,
    )
    if ex.status is not None and 200 <= ex.status < 300:
        orders.moved(ctx, order, S.REFUND_COMPLETED)


def run_status_endpoint(ctx: Context) -> None:
    order = orders.build(ctx, S.ORDER_PLACED)
    ex = _generic_move(
        ctx,
        order,
        ctx.cast.restaurant,
        S.ORDER_CONFIRMED.value,
        S.ORDER_CONFIRMED,
        "status_endpoint.answer_shape",
        {"estimated_prep_time": 20},
    )
    if ex is not None:
        hist = ctx.driver.request(ctx.cast.customer, "GET", ENDPOINTS["history"].url(order.id))
        entries = (hist.json() or {}).get("history") if isinstance(hist.json(), dict) else None
        ids = [
            e.get("id")
            for e in entries or []
            if isinstance(e, dict) and canonical(e.get("status")) == S.ORDER_CONFIRMED.value
        ]
        tracking = (ex.json() or {}).get("tracking_id")
        ctx.ledger.check(
            "status_endpoint.answer_shape",
            None if tracking in ids else f"tracking_id {tracking!r} is no ORDER_CONFIRMED entry",
            ex,
            hist,
        )
    if _status(order) is not S.ORDER_CONFIRMED:
        raise NotTestable("the generic confirmation did not go through")
    ex = _generic(ctx, order, ctx.cast.customer, S.PREPARING.value)
    ctx.ledger.check(
        "status_endpoint.same_guards",
        judge(ex, False, 403, "forbidden", "a customer may not start preparing (D4, D11)"),
        ex,
    )
    if ex.status is not None and 200 <= ex.status < 300:
        orders.resync(ctx, order)
        raise NotTestable("a customer moved the order through POST /status/")
    alias = next(a for a, s in ALIASES.items() if s is S.PREPARING)
    _generic_move(
        ctx, order, ctx.cast.restaurant, alias, S.PREPARING, "status_endpoint.alias_accepted"
    )
    ex = _generic(ctx, order, ctx.cast.restaurant, "NOT_A_STATUS")
    ctx.ledger.check(
        "status_endpoint.unknown_code_422", judge(ex, False, 422, None, "unknown (D14)"), ex
    )
    if _status(order) is not S.PREPARING:
        raise NotTestable(f"the order is {order.status.value}, not PREPARING")
    orders.step(ctx, order, "mark_ready", Role.RESTAURANT)
    rider = orders.wait_rider(ctx, order)
    ex = _generic(ctx, order, rider, S.ORDER_PICKED_UP.value, {})
    problem = judge(ex, False, 422, None, "a rider's pickup needs metadata.otp (D11)")
    if problem is None and (ex.json() or {}).get("field") != "body.metadata.otp":
        problem = f"field should be body.metadata.otp, is {(ex.json() or {}).get('field')!r}"
    ctx.ledger.check("status_endpoint.pickup_needs_otp", problem, ex)
    if ex.status is not None and 200 <= ex.status < 300:
        orders.resync(ctx, order)
        raise NotTestable("the order was picked up without a code")
    code = orders.read_otp(ctx, order, "pickup")[0]
    ex = _generic(ctx, order, rider, S.ORDER_PICKED_UP.value, {"otp": wrong(code)})
    ctx.ledger.check(
        "status_endpoint.wrong_otp_refused",
        judge(ex, False, 400, "otp_invalid", "a wrong metadata.otp is a wrong code (D7, D11)"),
        ex,
    )
    if ex.status is not None and 200 <= ex.status < 300:
        orders.resync(ctx, order)
        raise NotTestable("the order was picked up with a wrong code")
    orders.step(ctx, order, "pickup", Role.RIDER)
    orders.step(ctx, order, "start_delivery", Role.RIDER)
    done = _generic_move(
        ctx,
        order,
        ctx.cast.system,
        S.DELIVERED.value,
        S.DELIVERED,
        "status_endpoint.system_override_unverified",
    )
    if done is None:
        return
    hist = ctx.driver.request(ctx.cast.customer, "GET", ENDPOINTS["history"].url(order.id))
    entries = hist.json().get("history") if isinstance(hist.json(), dict) else None
    last = next(
        (
            e
            for e in reversed(entries or [])
            if isinstance(e, dict) and canonical(e.get("status")) == S.DELIVERED.value
        ),
        None,
    )
    meta = last.get("metadata") if isinstance(last, dict) else None
    verified = meta.get("otp_verified") if isinstance(meta, dict) else None
    ctx.ledger.check(
        "status_endpoint.system_override_unverified",
        None if verified is False else f"the DELIVERED entry's otp_verified is {verified!r}",
        hist,
    )


# ------------------------------------------------------------------------------ lists
def _page(ctx: Context, who: Who, params: dict[str, Any]) -> Exchange:
    return ctx.driver.request(who, "GET", LIST, params=params)


def _count(ctx: Context, who: Who, params: dict[str, Any]) -> tuple[int | None, Exchange]:
    ex = _page(ctx, who, {**params, "page_size": 1})
    body = ex.json()
    if ex.status != 200 or shapes.order_page(body) is not None:
        return None, ex
    return int(body["count"]), ex


def _link(value: object, page: int, params: dict[str, Any], path: str) -> str | None:
    """None when ``value`` is an absolute link to ``page`` of the same query (D18)."""
    if not isinstance(value, str):
        return f"link to page {page} is {value!r}"
    parts = urlsplit(value)
    if not parts.scheme or not parts.netloc or parts.path != path:
        return f"link {value!r} is not an absolute URL of {path}"
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if query.get("page") != str(page):
        return f"link {value!r} should name page {page}"
    for key, want in params.items():
        if query.get(key) != str(want).lower() and query.get(key) != str(want):
            return f"link {value!r} lost {key}={want}"
    return None


def _own(ctx: Context) -> list[str]:
    """The ids of the orders this run checked out as its customer, oldest first."""
    return [o.id for o in ctx.orders if o.placed_by == ctx.cast.customer.user_id]


def _walk(ctx: Context) -> None:
    """D18's pages, judged on the run's own orders (so a customer with thousands of orders from
    earlier runs is as testable as a new one): pages sized so the run's orders fill about four,
    walked (newest first, spec 2) until every one of them was seen or the walk limit."""
    who = ctx.cast.customer
    total, ex = _count(ctx, who, {"include_cancelled": "true"})
    ctx.ledger.check("list.shape", shapes.order_page(ex.json()) if ex.status == 200 else
                     f"the list answered {ex.status}", ex)  # fmt: skip
    if total is None:
        raise NotTestable("the order list could not be read")
    mine = set(_own(ctx))
    if not mine:
        raise NotTestable("the run checked out no order of its own to look for")
    size = max(1, min(100, math.ceil(len(mine) / 4)))
    params = {"include_cancelled": "true", "page_size": size}
    seen: list[str] = []
    pages = max(1, math.ceil(total / size))
    page = 1
    while page <= pages and len(seen) < WALK_LIMIT:
        ex = _page(ctx, who, {**params, "page": page})
        body = ex.json()
        problem = shapes.order_page(body) if ex.status == 200 else f"page {page}: {ex.status}"
        ctx.ledger.check("list.shape", problem, ex)
        if problem is not None:
            return
        results = body["results"]
        want = size if page < pages else total - size * (pages - 1)
        ctx.ledger.check(
            "list.page_size_respected",
            None
            if len(results) == want
            else f"page {page} of {total}: {len(results)} results, not {want}",
            ex,
        )
        link = None
        if page < pages:
            link = _link(body["next"], page + 1, params, LIST)
        elif body["next"] is not None:
            link = f"the last page has a next link {body['next']!r}"
        if link is None and page > 1:
            link = _link(body["previous"], page - 1, params, LIST)
        elif link is None and body["previous"] is not None:
            link = f"page 1 has a previous link {body['previous']!r}"
        ctx.ledger.check("list.links", link, ex)
        seen.extend(str(r.get("id")) for r in results)
        page += 1
        if mine <= set(seen) and page > 2:
            break  # every order of the run was met, over two pages at least
    twice = sorted({i for i in seen if seen.count(i) > 1})
    ours_twice = [i for i in twice if i in mine]
    missing = mine - set(seen)
    walked_all = page > pages
    problem = None
    if twice:
        problem = f"{len(twice)} orders appear on two pages (the run's own: {len(ours_twice)})"
    elif missing and walked_all:
        problem = f"{len(missing)} of the run's {len(mine)} orders are on no page"
    elif walked_all and len(seen) != total:
        problem = f"the pages hold {len(seen)} orders, count says {total}"
    elif missing:
        ctx.ledger.untestable(
            "list.pages_partition",
            f"{len(missing)} of the run's orders are not within the first {len(seen)} of "
            f"{total} (the walk reads at most {WALK_LIMIT})",
        )
        return
    ctx.ledger.check("list.pages_partition", problem, ex)


def _unlisted(
    ctx: Context, who: Who, params: dict[str, Any], body: dict[str, Any], ids: set[str]
) -> set[str] | None:
    """Which of ``ids`` the list of ``params`` leaves out, reading on from its first page
    (``body``, of 100) while some are missing; None when the walk limit ends the search."""
    missing = ids - {str(r.get("id")) for r in body["results"]}
    page, pages = 1, math.ceil(int(body["count"]) / 100)
    while missing and page < pages:
        if page * 100 >= WALK_LIMIT:
            return None
        page += 1
        ex = _page(ctx, who, {**params, "page_size": 100, "page": page})
        more = ex.json()
        if ex.status != 200 or shapes.order_page(more) is not None:
            return None
        missing -= {str(r.get("id")) for r in more["results"]}
    return missing


def _settling(order: TrackedOrder) -> bool:
    """A paid online order cancelled or rejected moves on by itself (its refund, D8), so the
    run's model may not know its status any more."""
    return order.method == "online" and S.PAYMENT_SUCCESS.value in order.path


def _status_counts(ctx: Context, *, check: bool) -> dict[OrderStatus, int] | None:
    """The customer's count in every status (None if one could not be read); ``check``: record
    each page against ``list.status_filter`` too."""
    counts: dict[OrderStatus, int] = {}
    for status in OrderStatus:
        ex = _page(ctx, ctx.cast.customer, {"status": status.value, "page_size": 100})
        body = ex.json()
        problem = shapes.order_page(body) if ex.status == 200 else f"answered {ex.status}"
        if problem is None:
            counts[status] = int(body["count"])
            odd = [r.get("order_status") for r in body["results"]
                   if canonical(r.get("order_status")) != status.value]  # fmt: skip
            own = set(_own(ctx))
            mine = {
                o.id for o in ctx.orders if o.id in own and o.status is status and not _settling(o)
            }
            if odd:
                problem = f"status={status.value} lists orders in {sorted(set(map(str, odd)))}"
            elif mine:
                left = _unlisted(ctx, ctx.cast.customer, {"status": status.value}, body, mine)
                if left:
                    problem = (
                        f"status={status.value} leaves out {len(left)} of the run's "
                        f"{len(mine)} orders in that status"
                    )
        if check:
            ctx.ledger.check("list.status_filter", problem, ex)
    return counts if len(counts) == len(OrderStatus) else None


def _hidden_by_default(
    ctx: Context, counts: dict[OrderStatus, int]
) -> tuple[str | None, list[Exchange]]:
    """D9: the default list is everything but the cancelled lineage."""
    shown, ex = _count(ctx, ctx.cast.customer, {})
    every, ex2 = _count(ctx, ctx.cast.customer, {"include_cancelled": "true"})
    hidden = sum(counts[s] for s in CANCELLED_LINEAGE)
    if every != sum(counts.values()):
        return (
            f"include_cancelled=true counts {every}, the statuses add up to {sum(counts.values())}",
            [ex2],
        )
    if shown != every - hidden:
        return (
            f"the default list counts {shown}; all but CANCELLED and REFUND_COMPLETED are "
            f"{every - hidden}",
            [ex, ex2],
        )
    return None, [ex, ex2]


def _filters(ctx: Context) -> None:
    """status= filters (spec 2), their aliases (D1) and what is hidden by default (D9). Counts
    read one after another can disagree while a refund moves an order on by itself (D8), so a
    disagreement is read again once before it counts."""
    counts = _status_counts(ctx, check=True)
    if counts is None:
        raise NotTestable("a status filter could not be read, so the counts cannot be compared")
    for alias, status in ALIASES.items():
        if not counts.get(status):
            continue
        got, ex = _count(ctx, ctx.cast.customer, {"status": alias})
        want = counts[status]
        if got != want:
            want = _count(ctx, ctx.cast.customer, {"status": status.value})[0] or 0
            got, ex = _count(ctx, ctx.cast.customer, {"status": alias})
        ctx.ledger.check(
            "list.status_filter_alias",
            None if got == want else f"status={alias} counts {got}, status={status.value} {want}",
            ex,
        )
    problem, seen = _hidden_by_default(ctx, counts)
    if problem is not None:
        again = _status_counts(ctx, check=False)
        if again is not None:
            problem, seen = _hidden_by_default(ctx, again)
    ctx.ledger.check("list.include_cancelled", problem, *seen)


def _scoped(ctx: Context) -> None:
    mine = {o.id for o in ctx.orders}
    params = {"include_cancelled": "true", "page_size": 100}
    for label, who in (("other customer", ctx.cast.other_customer),
                       ("other restaurant", ctx.cast.other_restaurant)):  # fmt: skip
        if who is None:
            continue
        ex = _page(ctx, who, params)
        body = ex.json()
        problem = shapes.order_page(body) if ex.status == 200 else f"answered {ex.status}"
        if problem is None:
            leaked = [r.get("order_number") for r in body["results"] if r.get("id") in mine]
            problem = f"the {label} lists the run's orders {leaked[:3]}" if leaked else None
        ctx.ledger.check("list.scoped_to_caller", problem, ex)
    ex = _page(ctx, ctx.cast.restaurant, params)
    body = ex.json()
    problem = shapes.order_page(body) if ex.status == 200 else f"answered {ex.status}"
    if problem is None:
        foreign = [r.get("order_number") for r in body["results"]
                   if r.get("vendor") != ctx.cast.vendor.id]  # fmt: skip
        problem = (
            f"the restaurant lists orders of other vendors, or without their vendor, {foreign[:3]}"
            if foreign
            else None
        )
    ctx.ledger.check("list.scoped_to_caller", problem, ex)
    _rider_list(ctx, params)


def _rider_list(ctx: Context, params: dict[str, Any]) -> None:
    """A rider's list, judged on the run's orders and the riders the target gave them: every
    result names this rider as its delivery_person, the run's orders of other riders are not
    there, and the run's orders of this rider still theirs are (spec 2, D4)."""
    by_rider: dict[str, list[TrackedOrder]] = {}
    for o in ctx.orders:
        if o.rider_id:
            by_rider.setdefault(o.rider_id, []).append(o)
    rider = next(
        (r for r in (ctx.cast.rider(o.rider_id) for o in reversed(ctx.orders) if o.rider_id) if r),
        None,
    )
    if rider is None:
        return
    ex = _page(ctx, rider, params)
    body = ex.json()
    problem = shapes.order_page(body) if ex.status == 200 else f"answered {ex.status}"
    if problem is None:
        listed = {str(r.get("id")) for r in body["results"]}
        unnamed = [r.get("order_number") for r in body["results"]
                   if r.get("delivery_person") != rider.user_id]  # fmt: skip
        others = [
            o.number
            for rid, held in by_rider.items()
            if rid != rider.user_id
            for o in held
            if o.id in listed
        ]
        theirs = {
            o.id for o in by_rider.get(rider.user_id, []) if o.status not in CANCELLED_LINEAGE
        }
        if unnamed:
            problem = f"the rider lists orders not naming them as delivery_person {unnamed[:3]}"
        elif others:
            problem = f"the rider lists the run's orders of other riders {others[:3]}"
        elif theirs:
            left = _unlisted(ctx, rider, params, body, theirs)
            if left:
                problem = f"the rider's list leaves out {len(left)} of the run's orders of theirs"
    ctx.ledger.check("list.scoped_to_caller", problem, ex)


def _bad_parameters(ctx: Context) -> None:
    for params, field in (
        ({"page": 0}, "query.page"),
        ({"page_size": 101}, "query.page_size"),
        ({"status": "NOT_A_STATUS"}, "query.status"),
    ):
        ex = _page(ctx, ctx.cast.customer, params)
        problem = judge(ex, False, 422, None, f"{field} out of range (D14, D18)")
        if problem is None and (ex.json() or {}).get("field") != field:
            problem = f"field should be {field}, is {(ex.json() or {}).get('field')!r}"
        ctx.ledger.check("list.bad_parameters_422", problem, ex)


def _finished_eta(ctx: Context) -> None:
    done = next((o for o in reversed(ctx.orders) if o.status in (S.DELIVERED, S.CANCELLED)), None)
    if done is None:
        ctx.ledger.untestable("eta.finished_is_null", "the run finished no order")
        return
    ex = _read(ctx, ctx.cast.customer, "eta", done.id)
    body = ex.json()
    problem = judge(ex, True, 200, None, "its own order") or shapes.eta(body, done.id)
    ctx.ledger.check("eta.shape", problem, ex)
    if problem is None and body["current_eta_minutes"] is not None:
        problem = (
            f"a {done.status.value} order's current_eta_minutes is {body['current_eta_minutes']}"
        )
    ctx.ledger.check("eta.finished_is_null", problem, ex)


#: Each part of the list checks, and the rules it leaves unexplained when it cannot go on.
_LIST_PARTS = (
    (_walk, ("list.shape", "list.page_size_respected", "list.links", "list.pages_partition")),
    (_filters, ("list.status_filter", "list.status_filter_alias", "list.include_cancelled")),
    (_scoped, ("list.scoped_to_caller",)),
    (_bad_parameters, ("list.bad_parameters_422",)),
    (_finished_eta, ("eta.finished_is_null",)),
)


def run_lists(ctx: Context) -> None:
    for part, rules in _LIST_PARTS:
        try:
            part(ctx)
        except NotTestable as exc:
            for rule in rules:
                ctx.ledger.untestable(rule, str(exc))
