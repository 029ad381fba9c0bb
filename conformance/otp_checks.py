"""The OTP rules (spec OTP Verification, D7, D14): who reads each code and when it exists, the
expiry window, wrong and malformed codes, the lockout, resends and used codes.

Two orders carry them: one ready for pickup, one out for delivery. Some rules need time to
pass: a resend is allowed only after the spacing the target's ``Retry-After`` states, and expiry
after the ``expires_at`` it gives. Those run last (``run_deferred``), when they fit in the time
limit; when they cannot (the reference's pickup code lives 15 minutes) they are not testable,
with the wait they would have needed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from conformance import orders, shapes
from conformance.context import Context, NotTestable, TrackedOrder
from conformance.driver import Exchange, Who
from conformance.table import judge
from reference_api.endpoints import ENDPOINTS
from reference_api.roles import Role
from reference_api.statuses import OrderStatus

S = OrderStatus
#: The spec's validity of each code ("Valid For"), which no target may exceed.
SPEC_TTL_S = {"pickup": 15 * 60.0, "delivery": 30 * 60.0}
#: D7: the wrong codes that lock an OTP.
MAX_ATTEMPTS = 5
#: Slack for the target's and our clocks' whole seconds.
CLOCK_SLACK_S = 2.0

PICKUP_RULES = (
    "otp.pickup.not_issued_before_ready",
    "otp.pickup.issued_at_ready",
    "otp.pickup.readers",
    "otp.pickup.valid_for_spec_window",
    "otp.pickup.wrong_code_refused",
    "otp.pickup.expired_refused",
    "otp.pickup.resend_invalidates_old",
    "otp.verify.wrong_code_refused",
    "otp.verify.right_code_not_consumed",
    "otp.malformed_422_not_counted",
    "otp.lockout_after_5_wrong",
    "otp.locked_refuses_right_code",
    "otp.resend.too_soon_429",
    "otp.resend.resets_attempts",
)
DELIVERY_RULES = (
    "otp.delivery.not_issued_before_start",
    "otp.delivery.issued_at_start",
    "otp.delivery.readers",
    "otp.delivery.valid_for_spec_window",
    "otp.delivery.wrong_code_refused",
    "otp.delivery.expired_refused",
    "otp.delivery.resend_invalidates_old",
    "otp.resend.used_code_409",
    "otp.used_code_refused",
)


@dataclass
class Pending:
    """A code whose resend (and then expiry) waits for time to pass."""

    order: TrackedOrder
    kind: str
    rider: Who
    old_code: str
    resend_at: float


def wrong(code: str) -> str:
    """A well-formed code that is not ``code``."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


def _holder(ctx: Context, kind: str) -> Who:
    return ctx.cast.restaurant if kind == "pickup" else ctx.cast.customer


def _get(ctx: Context, who: Who, order: TrackedOrder, kind: str) -> Exchange:
    return ctx.driver.request(who, "GET", ENDPOINTS["get_otp"].url(order.id), params={"type": kind})


def _verify(ctx: Context, rider: Who, order: TrackedOrder, kind: str, code: str) -> Exchange:
    return ctx.driver.request(
        rider, "POST", ENDPOINTS["verify_otp"].url(order.id), body={"otp": code, "type": kind}
    )


def _resend(ctx: Context, who: Who, order: TrackedOrder, kind: str) -> Exchange:
    return ctx.driver.request(
        who, "POST", ENDPOINTS["resend_otp"].url(order.id), body={"type": kind}
    )


def _use(ctx: Context, rider: Who, order: TrackedOrder, kind: str, code: str) -> Exchange:
    if kind == "pickup":
        return ctx.driver.request(
            rider, "POST", ENDPOINTS["pickup"].url(order.id), body={"otp": code}
        )
    return ctx.driver.request(
        rider, "POST", ENDPOINTS["complete_delivery"].url(order.id), body={"otp": code}
    )


def _ok(ex: Exchange) -> bool:
    return ex.status is not None and 200 <= ex.status < 300


def server_now(ex: Exchange) -> datetime:
    """The target's clock from its ``Date`` header (ours when it sends none we can read)."""
    try:
        moment = parsedate_to_datetime(ex.headers["date"])
    except (KeyError, TypeError, ValueError, IndexError):
        return datetime.now(UTC)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _read(ctx: Context, order: TrackedOrder, kind: str, rule: str) -> tuple[str, Exchange]:
    """The holder reads the code: ``rule`` is its shape; its expiry against the spec window."""
    ex = _get(ctx, _holder(ctx, kind), order, kind)
    body = ex.json()
    problem = judge(ex, True, 200, None, f"the {kind} OTP's holder reads it (D7)")
    problem = problem or shapes.otp_document(body, kind, order.id)
    ctx.ledger.check(rule, problem, ex)
    if problem is not None:
        raise NotTestable(f"the {kind} OTP could not be read: {problem}")
    expires = shapes.instant(body["expires_at"])
    assert expires is not None  # otp_document checked it
    left = (expires - server_now(ex)).total_seconds()
    limit = SPEC_TTL_S[kind]
    window = None
    if left <= -CLOCK_SLACK_S:
        window = f"expires_at {body['expires_at']} is already past"
    elif left > limit + CLOCK_SLACK_S:
        window = f"expires_at is {left:.0f}s away, more than the spec's {limit / 60:.0f} min"
    ctx.ledger.check(f"otp.{kind}.valid_for_spec_window", window, ex)
    code = str(body["otp"])
    if kind == "pickup":
        order.pickup_code = code
    else:
        order.delivery_code = code
    return code, ex


def _readers(ctx: Context, order: TrackedOrder, kind: str, rider: Who) -> None:
    """D7: the pickup code is the restaurant's, the delivery code the customer's."""
    others = [ctx.cast.customer, rider] if kind == "pickup" else [ctx.cast.restaurant, rider]
    for who in others:
        ex = _get(ctx, who, order, kind)
        problem = judge(ex, False, 403, "forbidden", f"only its holder reads the {kind} OTP (D7)")
        ctx.ledger.check(f"otp.{kind}.readers", problem, ex)


def _too_soon(ctx: Context, order: TrackedOrder, kind: str) -> float:
    """A resend straight after issue: 429 with Retry-After (D7, D14). When the resend may run."""
    ex = _resend(ctx, _holder(ctx, kind), order, kind)
    retry = ex.headers.get("retry-after")
    problem = judge(ex, False, 429, None, "a resend within the spacing (D7)")
    wait = 30.0
    if problem is None:
        try:
            wait = float(retry) if retry is not None else math.nan
        except ValueError:
            wait = math.nan
        if not math.isfinite(wait) or wait < 0:
            problem = f"429 without a usable Retry-After (got {retry!r})"
            wait = 30.0
    ctx.ledger.check("otp.resend.too_soon_429", problem, ex)
    if _ok(ex):
        raise NotTestable(f"the {kind} OTP was resent at once, so its codes are not the run's")
    return time.monotonic() + wait + 0.5


def _still(ctx: Context, order: TrackedOrder, rule: str) -> None:
    """A refused move must leave the order where it was."""
    ex = orders.detail(ctx, order)
    seen = orders.observed_status(ex)
    if seen is not order.status:
        ctx.ledger.check(rule, f"after the refusal the order is {seen}, not {order.status}", ex)
        orders.resync(ctx, order)
        raise NotTestable(f"order {order.number} moved under a refused code")


def _pickup(ctx: Context) -> Pending:
    order = orders.build(ctx, S.PREPARING)
    order.reserved = True
    ex = _get(ctx, ctx.cast.restaurant, order, "pickup")
    ctx.ledger.check(
        "otp.pickup.not_issued_before_ready",
        judge(ex, False, 400, "otp_not_issued", "issued at mark-ready (D7)"),
        ex,
    )
    orders.step(ctx, order, "mark_ready", Role.RESTAURANT)
    code, _ = _read(ctx, order, "pickup", "otp.pickup.issued_at_ready")
    rider = orders.wait_rider(ctx, order)
    _readers(ctx, order, "pickup", rider)
    resend_at = _too_soon(ctx, order, "pickup")
    bad = wrong(code)
    ledger = ctx.ledger
    miscounted = False

    def refused(ex: Exchange, rule: str, status: int = 400, what: str = "otp_invalid") -> None:
        nonlocal miscounted
        ledger.check(rule, judge(ex, False, status, what, "a wrong code (D7)"), ex)
        miscounted = miscounted or _ok(ex)

    refused(_verify(ctx, rider, order, "pickup", bad), "otp.verify.wrong_code_refused")  # 1
    ex = _verify(ctx, rider, order, "pickup", "12345")
    ledger.check(
        "otp.malformed_422_not_counted",
        judge(ex, False, 422, None, "not 6 digits (D7)"),
        ex,
    )
    ex = _use(ctx, rider, order, "pickup", bad)  # 2
    refused(ex, "otp.pickup.wrong_code_refused")
    if _ok(ex):
        orders.resync(ctx, order)
        raise NotTestable(f"order {order.number} was picked up with a wrong code")
    _still(ctx, order, "otp.pickup.wrong_code_refused")
    if miscounted:
        raise NotTestable("the target accepted a wrong code, so the attempt count is unknown")
    for _ in range(MAX_ATTEMPTS - 3):  # 3, 4
        refused(_verify(ctx, rider, order, "pickup", bad), "otp.verify.wrong_code_refused")
    if miscounted:
        raise NotTestable("the target accepted a wrong code, so the attempt count is unknown")
    for _ in range(2):  # the right code, twice: verify does not use it up
        ex = _verify(ctx, rider, order, "pickup", code)
        body = ex.json()
        problem = judge(ex, True, 200, None, "the right code verifies (D7)")
        if problem is None and not (isinstance(body, dict) and body.get("verified") is True):
            problem = "verify answered 200 without verified=true"
        ledger.check("otp.verify.right_code_not_consumed", problem, ex)
        ledger.check(
            "otp.malformed_422_not_counted",
            None if problem is None else f"after 4 wrong codes and a malformed one: {problem}",
            ex,
        )
    refused(
        _verify(ctx, rider, order, "pickup", bad), "otp.lockout_after_5_wrong", 423, "otp_locked"
    )
    if miscounted:
        raise NotTestable("the target accepted the 5th wrong code, so the OTP is not locked")
    ex = _use(ctx, rider, order, "pickup", code)
    ledger.check(
        "otp.locked_refuses_right_code",
        judge(ex, False, 423, "otp_locked", "locked after 5 wrong codes (D7)"),
        ex,
    )
    if _ok(ex):
        orders.resync(ctx, order)
        raise NotTestable("the locked order was picked up")
    return Pending(order, "pickup", rider, code, resend_at)


def _delivery(ctx: Context) -> Pending:
    order = orders.build(ctx, S.ORDER_PICKED_UP)
    order.reserved = True
    rider = orders.wait_rider(ctx, order)
    used = order.pickup_code
    ex = _resend(ctx, ctx.cast.restaurant, order, "pickup")
    ctx.ledger.check(
        "otp.resend.used_code_409", judge(ex, False, 409, None, "already used (D14)"), ex
    )
    if used is not None:
        ex = _verify(ctx, rider, order, "pickup", used)
        ctx.ledger.check(
            "otp.used_code_refused",
            judge(ex, False, 400, "otp_invalid", "already used (D7)"),
            ex,
        )
    ex = _get(ctx, ctx.cast.customer, order, "delivery")
    ctx.ledger.check(
        "otp.delivery.not_issued_before_start",
        judge(ex, False, 400, "otp_not_issued", "issued at start-delivery (D7)"),
        ex,
    )
    orders.step(ctx, order, "start_delivery", Role.RIDER)
    code, _ = _read(ctx, order, "delivery", "otp.delivery.issued_at_start")
    _readers(ctx, order, "delivery", rider)
    ex = _use(ctx, rider, order, "delivery", wrong(code))
    ctx.ledger.check(
        "otp.delivery.wrong_code_refused",
        judge(ex, False, 400, "otp_invalid", "a wrong code (D7)"),
        ex,
    )
    if _ok(ex):
        orders.resync(ctx, order)
        raise NotTestable("the order was delivered with a wrong code")
    _still(ctx, order, "otp.delivery.wrong_code_refused")
    resend_at = _too_soon(ctx, order, "delivery")
    return Pending(order, "delivery", rider, code, resend_at)


def run_early(ctx: Context) -> list[Pending]:
    """Everything that needs no waiting; returns the codes to resend later."""
    pending = []
    for kind, make, rules in (
        ("pickup", _pickup, PICKUP_RULES),
        ("delivery", _delivery, DELIVERY_RULES),
    ):
        ctx.progress(f"otp: {kind}")
        try:
            pending.append(make(ctx))
        except NotTestable as exc:
            for rule in rules:
                ctx.ledger.untestable(rule, str(exc))
    return pending


def _resend_now(ctx: Context, p: Pending) -> float | None:
    """Resend, check the old code is dead and the new one alive; when the new code expires."""
    kind = p.kind
    rule = f"otp.{kind}.resend_invalidates_old"
    ex = _resend(ctx, _holder(ctx, kind), p.order, kind)
    problem = judge(ex, True, 200, None, "a resend after the spacing (D7)")
    ctx.ledger.check(rule, problem, ex)
    if problem is not None:
        raise NotTestable(f"the {kind} OTP could not be resent: {problem}")
    new, read = _read(ctx, p.order, kind, rule)
    if new == p.old_code:
        ctx.ledger.check(rule, "the resent code is the old one", read)
    ex = _verify(ctx, p.rider, p.order, kind, p.old_code)
    ctx.ledger.check(rule, judge(ex, False, 400, "otp_invalid", "replaced by a resend (D7)"), ex)
    ex = _verify(ctx, p.rider, p.order, kind, new)
    problem = judge(ex, True, 200, None, "the resent code (D7)")
    ctx.ledger.check(rule, problem, ex)
    if kind == "pickup":
        # its own exchanges: after the lockout, a wrong code counts afresh (400, not 423) and
        # the new code still works
        ex = _verify(ctx, p.rider, p.order, kind, wrong(new))
        reset = judge(ex, False, 400, "otp_invalid", "a resend starts the count again (D7)")
        ctx.ledger.check("otp.resend.resets_attempts", reset, ex)
        if reset is None:
            ex = _verify(ctx, p.rider, p.order, kind, new)
            problem = judge(ex, True, 200, None, "the resent code after a wrong one (D7)")
            ctx.ledger.check("otp.resend.resets_attempts", problem, ex)
    body = read.json()
    expires = shapes.instant(body.get("expires_at")) if isinstance(body, dict) else None
    if expires is None:
        return None
    return time.monotonic() + (expires - server_now(read)).total_seconds() + 1.5


def run_deferred(ctx: Context, pending: list[Pending]) -> None:
    """The resends once allowed, then expiry, each as far as the time limit reaches."""
    expiring: list[tuple[float, Pending]] = []
    for p in sorted(pending, key=lambda p: p.resend_at):
        wait = p.resend_at - time.monotonic()
        rules = [f"otp.{p.kind}.resend_invalidates_old", f"otp.{p.kind}.expired_refused"]
        if p.kind == "pickup":
            rules.append("otp.resend.resets_attempts")
        if not ctx.budget.wait_ok(max(0.0, wait)):
            why = (
                f"the target allows a {p.kind} resend {wait:.0f}s from now (Retry-After, D7: "
                "30 s after issue), past the time limit"
            )
            for rule in rules:
                ctx.ledger.untestable(
                    rule,
                    f"expiry is checked on the resent code, and {why}"
                    if "expired" in rule
                    else why,
                )
            continue
        ctx.progress(f"otp: {p.kind} resend (waiting {max(0.0, wait):.0f}s)")
        time.sleep(max(0.0, wait))
        try:
            due = _resend_now(ctx, p)
        except NotTestable as exc:
            for rule in rules:
                ctx.ledger.untestable(rule, str(exc))
            continue
        if due is None:
            ctx.ledger.untestable(f"otp.{p.kind}.expired_refused", "the new code has no expiry")
        else:
            expiring.append((due, p))
    for due, p in sorted(expiring, key=lambda item: item[0]):
        code = p.order.pickup_code if p.kind == "pickup" else p.order.delivery_code
        rule = f"otp.{p.kind}.expired_refused"
        wait = due - time.monotonic()
        if code is None or not ctx.budget.wait_ok(max(0.0, wait)):
            ctx.ledger.untestable(
                rule,
                f"the {p.kind} code expires {wait:.0f}s from now (the target's expires_at; the "
                f"spec allows {SPEC_TTL_S[p.kind] / 60:.0f} min), past the time limit",
            )
            continue
        ctx.progress(f"otp: {p.kind} expiry (waiting {max(0.0, wait):.0f}s)")
        time.sleep(max(0.0, wait))
        ex = _verify(ctx, p.rider, p.order, p.kind, code)
        ctx.ledger.check(rule, judge(ex, False, 400, "otp_expired", "past its expires_at (D7)"), ex)
