"""Identities for a run: the tokens file when one is given, else tokens minted for the reference
server's fixture users with the same secret `orderflow serve` uses (``ORDERFLOW_JWT_SECRET`` or
the development default), as `orderflow token --all` would print them."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from loadtest.identities import Identities, Identity, IdentityError, load_tokens, parse_identities

#: Riders a server may have been started with (`orderflow serve --riders N`), all of whom the
#: load test can act for once the server assigns them an order.
MAX_FIXTURE_RIDERS = 5000
TOKEN_TTL_S = 12 * 3600.0


def reference_identities() -> Identities:
    from reference_api.fixtures import build_fixtures, fixture_id
    from reference_api.http.auth import issue_token, resolve_secret
    from reference_api.http.settings import DEFAULT_CUSTOMERS, DEFAULT_RIDERS, DEFAULT_VENDORS
    from reference_api.http.tokens import tokens_file
    from reference_api.roles import Actor, Role

    try:
        secret = resolve_secret()
    except ValueError as exc:
        raise IdentityError(f"cannot mint tokens for the reference server: {exc}") from None
    fx = build_fixtures(DEFAULT_VENDORS, DEFAULT_CUSTOMERS, DEFAULT_RIDERS)
    now = time.time()
    raw = tokens_file(fx, secret, now=now, ttl_s=TOKEN_TTL_S)
    numbered = {fixture_id("rider", i): i for i in range(MAX_FIXTURE_RIDERS)}

    def rider(user_id: str) -> Identity | None:
        index = numbered.get(user_id)
        if index is None:
            return None
        actor = Actor(Role.RIDER, user_id, f"Rider {index}")
        return Identity(issue_token(actor, secret, now=now, ttl_s=TOKEN_TTL_S), user_id)

    ids = parse_identities(raw, "minted reference-server tokens")
    return dataclasses.replace(ids, resolver=rider)


def resolve_identities(tokens: Path | None) -> Identities:
    return reference_identities() if tokens is None else load_tokens(tokens)
