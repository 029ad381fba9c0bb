"""`orderflow token`: a signed JWT for a fixture user, or the whole tokens file (docs/server.md)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from orderflow.commands.serve import add_fixture_arguments


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "token",
        help="print a signed token for a fixture user (or all of them)",
        description="Print JSON {token, role, user_id, vendor_id?, name} for one fixture user, "
        "or with --all the tokens file a load test reads. Uses ORDERFLOW_JWT_SECRET (or the "
        "development default, as `orderflow serve` does).",
    )
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--role", choices=("customer", "restaurant", "rider", "system"))
    who.add_argument("--all", action="store_true", help="every fixture user, vendors, addresses")
    p.add_argument("--index", type=int, default=0, help="which fixture user (default 0)")
    p.add_argument("--ttl", type=float, default=None, metavar="S", help="lifetime in seconds")
    p.add_argument("--out", type=Path, default=None, help="with --all: write here, not stdout")
    add_fixture_arguments(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from reference_api.fixtures import build_fixtures
    from reference_api.http.auth import DEFAULT_TTL_S, resolve_secret
    from reference_api.http.tokens import token_record, tokens_file
    from reference_api.roles import Role

    logging.basicConfig(level="WARNING", format="%(levelname)s %(name)s: %(message)s")
    ttl = DEFAULT_TTL_S if args.ttl is None else args.ttl
    if ttl <= 0:
        print("orderflow token: --ttl must be positive", file=sys.stderr)
        return 2
    if args.out is not None and not args.all:
        print("orderflow token: --out goes with --all", file=sys.stderr)
        return 2
    from scenarios.exit_codes import ExitCode

    try:
        secret = resolve_secret()
    except ValueError as exc:  # ORDERFLOW_JWT_SECRET is missing or unusable
        print(f"orderflow token: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    fx = build_fixtures(args.vendors, args.customers, args.riders)
    now = time.time()
    if args.all:
        text = json.dumps(tokens_file(fx, secret, now=now, ttl_s=ttl), indent=1)
        if args.out is None:
            print(text)
        else:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text + "\n")
            print(f"wrote {args.out}", file=sys.stderr)
        return 0
    try:
        actor = fx.actor(Role(args.role), args.index)
    except IndexError as exc:
        print(f"orderflow token: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(token_record(actor, secret, now=now, ttl_s=ttl)))
    return 0
