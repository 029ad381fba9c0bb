"""`orderflow serve`: the reference API over HTTP and WebSocket on SQLite (see docs/server.md)."""

from __future__ import annotations

import argparse
import logging
import sys

from reference_api.dispatch.options import DEFAULT_POLICY, POLICIES
from reference_api.dispatch.options import OPTIONS as DISPATCH_OPTIONS
from reference_api.http.settings import DEFAULT_CUSTOMERS, DEFAULT_RIDERS, DEFAULT_VENDORS


def add_fixture_arguments(p: argparse.ArgumentParser) -> None:
    """Fixture counts; `serve` and `token` share them so both name the same users."""
    for name, default in (
        ("vendors", DEFAULT_VENDORS),
        ("customers", DEFAULT_CUSTOMERS),
        ("riders", DEFAULT_RIDERS),
    ):
        p.add_argument(
            f"--{name}",
            type=int,
            default=default,
            metavar="N",
            help=f"fixture {name} (default %(default)s; give serve and token the same)",
        )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="run the reference API server (HTTP + WebSocket, SQLite)",
        description="Start the reference server; seed the fixture users into the database "
        "(existing rows are kept, so a restart resumes where it stopped).",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000, help="0 picks a free port (printed)")
    p.add_argument("--db", default="orderflow.db", help="SQLite file (default: %(default)s)")
    p.add_argument("--fresh", action="store_true", help="delete the database first")
    add_fixture_arguments(p)
    p.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a rule limit, e.g. confirm_timeout_s=60 (repeatable)",
    )
    p.add_argument(
        "--dispatch",
        default=DEFAULT_POLICY,
        metavar="NAME",
        help=f"dispatch strategy: {', '.join(POLICIES)} (default %(default)s; docs/dispatch.md)",
    )
    p.add_argument(
        "--dispatch-option",
        dest="dispatch_options",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a strategy option, e.g. interval_min=0.05 for rounds every 3 wall seconds: "
        + ", ".join(f"{n} ({o.doc}, default {o.default:g})" for n, o in DISPATCH_OPTIONS.items())
        + " (repeatable)",
    )
    p.add_argument(
        "--synchronous",
        default="NORMAL",
        choices=("NORMAL", "FULL"),
        help="SQLite durability: NORMAL survives a killed process, FULL also a power cut",
    )
    p.add_argument("--log-level", default="warning", choices=("debug", "info", "warning"))
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from reference_api.http.auth import resolve_secret
    from reference_api.http.server import serve
    from reference_api.http.settings import OPTIONS, parse_settings
    from scenarios.exit_codes import ExitCode

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        secret = resolve_secret()
        # the same parser as the ORDERFLOW_* variables of `uvicorn --factory` (docs/server.md)
        raw = {option.field: getattr(args, option.field) for option in OPTIONS}
        settings = parse_settings(raw, spelling="flag")
    except ValueError as exc:
        print(f"orderflow serve: {exc}", file=sys.stderr)
        return ExitCode.USAGE

    def announce(line: str) -> None:
        print(line, flush=True)

    try:
        serve(
            settings,
            secret,
            host=args.host,
            port=args.port,
            log_level=args.log_level,
            announce=announce,
        )
    except OSError as exc:
        print(f"orderflow serve: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return ExitCode.RUN_FAILED
    return 0
