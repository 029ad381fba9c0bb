"""One conformance run: the preflight, then the phases in an order that lets the waits overlap
(the OTP orders are made early so their resend spacing passes while the table runs), then the
clean-up that cancels whatever the run still holds, whether it finished, hit a bound or lost
the target. The verdicts cover the whole catalogue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from conformance import machine, orders, otp_checks, read_checks, table, ws_checks
from conformance.catalogue import CATALOGUE
from conformance.context import Cast, Context, NotTestable, Options
from conformance.driver import BoundReached, Budget, Driver, Exchange, TargetGone, Who
from conformance.ledger import Ledger, Outcome, Verdict
from loadtest.identities import Identities
from reference_api.endpoints import ENDPOINTS
from scenarios.exit_codes import ExitCode


class CannotRun(RuntimeError):
    """The check could not start: the target is unreachable or refuses every token.
    ``result`` has every rule not testable, with why, for the reports."""

    def __init__(self, message: str, result: RunResult | None = None) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class RunResult:
    host: str
    verdicts: list[Verdict]
    requests: int
    seconds: float
    max_requests: int
    time_limit_s: float
    #: the bound that ended the checks early, if one did
    bound: str | None = None
    #: why the run stopped early otherwise (the target stopped answering)
    aborted: str | None = None
    warnings: list[str] = field(default_factory=list)
    #: when the run started (UTC)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    def count(self, outcome: Outcome) -> int:
        return sum(1 for v in self.verdicts if v.outcome is outcome)

    @property
    def exit_code(self) -> int:
        """4 the check could not run to the end (the target stopped answering, or a bound cut
        it short), 3 a testable rule failed, else 0."""
        if self.aborted is not None or self.bound is not None:
            return ExitCode.RUN_FAILED
        return ExitCode.BREACHED if self.count(Outcome.FAIL) else ExitCode.OK


def preflight(ctx: Context) -> list[str]:
    """One read per role: is the target there, and does it accept the tokens? Warnings for the
    roles it refuses; ``CannotRun`` when it answers none, or refuses every token."""
    cast = ctx.cast
    reads: list[tuple[Who, str]] = [
        (cast.customer, ENDPOINTS["list_orders"].url()),
        (cast.restaurant, ENDPOINTS["restaurant_queue"].url()),
        (cast.system, ENDPOINTS["list_orders"].url()),
    ]
    if cast.riders:
        reads.append((cast.riders[0], ENDPOINTS["available_orders"].url()))
    answers: list[tuple[Who, Exchange]] = []
    for who, path in reads:
        params = {"page_size": 1} if path == ENDPOINTS["list_orders"].url() else None
        ex = ctx.driver.request(who, "GET", path, params=params)
        if ex.status is None:
            raise CannotRun(f"cannot reach {ctx.driver.host}{path}: {ex.error}")
        answers.append((who, ex))
    refused = [who.label for who, ex in answers if ex.status == 401]
    if len(refused) == len(answers):
        raise CannotRun(
            f"{ctx.driver.host} refused every token (401 for {', '.join(refused)}): pass "
            "--tokens FILE with tokens this deployment accepts (or start the reference server "
            "with the same ORDERFLOW_JWT_SECRET)"
        )
    return [
        f"the target refused the token of {label} (401): the rules acting as it will fail"
        for label in refused
    ]


def _rules(*prefixes: str) -> tuple[str, ...]:
    """The ids of the catalogue that start with any of ``prefixes`` (a group, or a rule)."""
    return tuple(
        r.id for r in CATALOGUE if any(r.id == p or r.id.startswith(p + ".") for p in prefixes)
    )


def _guarded(ctx: Context, rules: tuple[str, ...], fn: Callable[[Context], object]) -> None:
    """Run a phase; a setup it could not make explains the rules it would have observed."""
    try:
        fn(ctx)
    except NotTestable as exc:
        for rule in rules:
            ctx.ledger.untestable(rule, str(exc))


def _phases(ctx: Context, pending: list[otp_checks.Pending]) -> None:
    ctx.progress("auth")
    read_checks.run_auth(ctx)
    ctx.progress("checkout and access")
    placed = read_checks.run_checkout(ctx)
    _guarded(
        ctx,
        _rules("access", "queue", "available", "eta.shape"),
        lambda c: read_checks.run_access(c, placed),
    )
    orders.release(ctx)
    _guarded(ctx, ("refund.completes",), orders.start_refund)
    _guarded(
        ctx, ("status_endpoint.refund_completed_refused",), read_checks.refund_completed_refused
    )
    pending.extend(otp_checks.run_early(ctx))
    ctx.progress("status endpoint")
    _guarded(ctx, _rules("status_endpoint"), read_checks.run_status_endpoint)
    orders.release(ctx)
    ctx.progress("websocket")
    _guarded(ctx, _rules("ws.auth", "ws.location_updated"), ws_checks.run)
    orders.release(ctx)
    table.run(ctx)
    ctx.progress("lists and filters")
    read_checks.run_lists(ctx)
    ctx.progress("sequences (Hypothesis)")
    machine.run(ctx)
    otp_checks.run_deferred(ctx, pending)
    table.run_refunded(ctx)


def run(
    host: str,
    identities: Identities,
    *,
    max_requests: int,
    time_limit_s: float,
    options: Options,
    secret: bytes | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> RunResult:
    started = datetime.now(UTC)
    budget = Budget(max_requests, time_limit_s)
    driver = Driver(host, budget)
    ledger = Ledger()

    def unrun(why: str) -> CannotRun:
        """Every rule not testable, saying why the check could not run."""
        return CannotRun(
            why,
            RunResult(
                host=driver.host,
                verdicts=ledger.verdicts(f"the check could not run: {why}"),
                requests=budget.sent,
                seconds=budget.elapsed(),
                max_requests=max_requests,
                time_limit_s=time_limit_s,
                aborted=why,
                started=started,
            ),
        )

    try:
        cast = Cast.from_identities(identities)
    except NotTestable as exc:
        driver.close()
        raise unrun(str(exc)) from None

    def told(message: str) -> None:
        progress(f"[{budget.elapsed():5.1f}s {budget.sent:5d} requests] {message}")

    ctx = Context(driver, ledger, cast, options, secret=secret, progress=told)
    bound = aborted = None
    warnings: list[str] = []
    try:
        pending: list[otp_checks.Pending] = []
        try:
            try:
                warnings = preflight(ctx)
            except CannotRun as exc:
                raise unrun(str(exc)) from None
            _phases(ctx, pending)
        except BoundReached as exc:
            bound = str(exc)
        except TargetGone as exc:
            aborted = f"the target stopped answering: {exc}"
        finally:
            try:
                orders.release(ctx, everything=True)
            except TargetGone as exc:
                aborted = aborted or f"the target stopped answering during the clean-up: {exc}"
    finally:
        driver.close()
    unreached = bound or aborted or "not reached by any check of this run"
    return RunResult(
        host=driver.host,
        verdicts=ledger.verdicts(unreached),
        requests=budget.sent,
        seconds=budget.elapsed(),
        max_requests=max_requests,
        time_limit_s=time_limit_s,
        bound=bound,
        aborted=aborted,
        warnings=warnings,
        started=started,
    )
