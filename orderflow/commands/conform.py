"""`orderflow conform`: check a deployment of the order API against the spec's rules, as the
reference server implements them, rule by rule, within a request and a time bound."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conformance.runner import RunResult

DEFAULT_MAX_REQUESTS = 5000
DEFAULT_TIME_LIMIT_S = 120.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "conform",
        help="check a deployment against the spec's rules (transitions, roles, OTPs, events)",
        description="Drive orders through every (status, role, action) cell, the OTP, list, "
        "history and WebSocket rules and random sequences (Hypothesis) against --host, and "
        "report each rule as pass, fail or not testable. Exit 0 when every testable rule "
        "passed, 1 on bad input, 2 on a usage error, 3 when a rule failed, 4 when the check "
        "could not run or a bound cut it short.",
    )
    p.add_argument("--host", required=True, help="base URL of the deployment under test")
    p.add_argument(
        "--tokens",
        type=Path,
        help="tokens file (JSON or YAML, as `orderflow token --all` writes); without it, "
        "tokens are minted for the reference server's fixture users",
    )
    p.add_argument(
        "--max-requests",
        type=int,
        default=DEFAULT_MAX_REQUESTS,
        help="most HTTP requests and WebSocket connections to make (default %(default)s)",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        default=DEFAULT_TIME_LIMIT_S,
        help="seconds the whole check may take (default %(default)g)",
    )
    p.add_argument("--junit", type=Path, help="write JUnit XML here (one testcase per rule)")
    p.add_argument("--out", type=Path, help="write conform.json into this directory")
    p.add_argument(
        "--rider-wait",
        type=float,
        default=10.0,
        help="seconds to wait for the target to assign a rider (default %(default)g)",
    )
    p.add_argument(
        "--examples",
        type=int,
        default=10,
        help="Hypothesis examples of random sequences (default %(default)s; 0: none)",
    )
    p.add_argument("--steps", type=int, default=20, help="steps per example (default %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(handler=run)


def _usage(args: argparse.Namespace) -> str | None:
    if not 1 <= args.max_requests <= 10_000_000:
        return f"--max-requests: must be between 1 and 10000000, got {args.max_requests}"
    if not 1.0 <= args.time_limit <= 86_400.0:
        return f"--time-limit: must be between 1 and 86400 seconds, got {args.time_limit:g}"
    if not 0.0 <= args.rider_wait <= 600.0:
        return f"--rider-wait: must be between 0 and 600 seconds, got {args.rider_wait:g}"
    if not 0 <= args.examples <= 1000:
        return f"--examples: must be between 0 and 1000, got {args.examples}"
    if not 1 <= args.steps <= 200:
        return f"--steps: must be between 1 and 200, got {args.steps}"
    return None


def run(args: argparse.Namespace) -> int:
    from conformance import report
    from conformance.context import Options
    from conformance.ledger import Outcome
    from conformance.runner import CannotRun
    from conformance.runner import run as conform
    from loadtest.identities import IdentityError
    from loadtest.minting import resolve_identities
    from loadtest.preflight import TargetError, check_host
    from scenarios.exit_codes import ExitCode

    BAD_INPUT, USAGE, RUN_FAILED = ExitCode.BAD_INPUT, ExitCode.USAGE, ExitCode.RUN_FAILED

    def fail(message: str, code: int) -> int:
        print(f"orderflow conform: {message}", file=sys.stderr)
        return code

    problem = _usage(args)
    if problem:
        return fail(problem, USAGE)
    try:
        host = check_host(args.host)
    except TargetError as exc:
        return fail(str(exc), USAGE)
    for flag, where in (("--junit", args.junit and args.junit.parent), ("--out", args.out)):
        if where is None:
            continue
        problem = _unwritable(where)  # before the run, not after two minutes of it
        if problem:
            return fail(f"{flag}: cannot write to {where}: {problem}", USAGE)
    try:
        identities = resolve_identities(args.tokens)
    except IdentityError as exc:
        return fail(str(exc), BAD_INPUT)
    secret = None
    if args.tokens is None:
        import logging

        from reference_api.http.auth import resolve_secret

        # minting has resolved it (and refused an unusable one) and warned once already
        auth_log = logging.getLogger("orderflow.auth")
        was, auth_log.disabled = auth_log.disabled, True
        try:
            secret = resolve_secret()
        finally:
            auth_log.disabled = was

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"conform: {message}", file=sys.stderr, flush=True)

    options = Options(
        rider_wait_s=args.rider_wait, machine_examples=args.examples, machine_steps=args.steps
    )
    try:
        result = conform(
            host,
            identities,
            max_requests=args.max_requests,
            time_limit_s=args.time_limit,
            options=options,
            secret=secret,
            progress=progress,
        )
    except CannotRun as exc:
        code = fail(str(exc), RUN_FAILED)
        if exc.result is None:
            return code
        return max(code, _write_reports(args, host, exc.result))
    except Exception:  # a bug of the checker: the check did not run, say so with the trace
        import traceback

        traceback.print_exc()
        return fail("internal error: the check could not run to the end (trace above)", RUN_FAILED)
    report.print_table(result, sys.stdout)
    report.print_summary(result, sys.stdout)
    code = result.exit_code
    if result.bound is not None:
        left = sum(1 for v in result.verdicts if v.outcome is Outcome.UNTESTABLE)
        fail(
            f"{result.bound}: the check was cut short, {left} of {len(result.verdicts)} rules "
            "left untested; raise the bound to test them",
            RUN_FAILED,
        )
    # a report that cannot be written is said, and never hides a worse code
    return max(code, _write_reports(args, host, result))


def _unwritable(where: Path) -> str | None:
    """Why nothing can be written in directory ``where`` (made if missing), or None: a file is
    created there and deleted."""
    import os
    import tempfile

    try:
        where.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=where, prefix=".orderflow-conform-")
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _write_reports(args: argparse.Namespace, host: str, result: RunResult) -> int:
    """Write what --junit and --out ask for; 2 (after saying why) when one cannot be."""
    from conformance import junit, report
    from scenarios.exit_codes import ExitCode

    try:
        if args.junit is not None:
            junit.write(
                args.junit,
                result.verdicts,
                name=f"orderflow conform {host}",
                seconds=result.seconds,
                started=result.started,
            )
        if args.out is not None:
            report.write_json(args.out, result)
    except OSError as exc:
        print(f"orderflow conform: cannot write the report: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    return ExitCode.OK
