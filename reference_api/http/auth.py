"""JWT bearer tokens (HS256, PyJWT): who is calling, from signed claims.

The algorithm is pinned on decode (``alg=none`` or an RS/HS512 token signed with the same secret
is refused), ``exp`` is required and checked, and the claims carry everything the service needs
to build an ``Actor`` (``sub``, ``role``, ``name``, ``vendor_id`` for restaurant owners), so no
request needs a database lookup to authenticate.

The secret comes from ``ORDERFLOW_JWT_SECRET``; without it every command falls back to
``reference_api.bootstrap.DEFAULT_SECRET`` (and says so), so ``orderflow serve`` and
``orderflow token`` agree out of the box on a developer machine.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

import jwt

from reference_api.bootstrap import DEFAULT_SECRET
from reference_api.errors import OrderflowError
from reference_api.roles import Actor, Role, parse_role

JWT_SECRET_ENV = "ORDERFLOW_JWT_SECRET"  # noqa: S105 (the variable name, not a secret)
ALGORITHM = "HS256"
MIN_SECRET_BYTES = 16
#: One day: long enough for a load test started from a tokens file.
DEFAULT_TTL_S = 86_400

log = logging.getLogger("orderflow.auth")


class Unauthorized(OrderflowError):
    status_code = 401
    code = "not_authenticated"


class TokenInvalid(Unauthorized):
    code = "token_invalid"


class TokenExpired(Unauthorized):
    code = "token_expired"


def resolve_secret(environ: Mapping[str, str] | None = None) -> bytes:
    """The signing secret from the environment, or the shared development default (warned)."""
    env = os.environ if environ is None else environ
    value = env.get(JWT_SECRET_ENV)
    if not value:
        log.warning(
            "%s is not set: using the development default secret; anyone can forge tokens "
            "for this server. Set it for any shared deployment.",
            JWT_SECRET_ENV,
        )
        return DEFAULT_SECRET
    secret = value.encode()
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"{JWT_SECRET_ENV}: must be at least {MIN_SECRET_BYTES} bytes long")
    return secret


def otp_secret(jwt_secret: bytes) -> bytes:
    """OTP codes are derived from a key of their own, itself derived from the one configured
    secret: it survives restarts (stored OTPs stay checkable) without a second setting."""
    return hmac.new(jwt_secret, b"orderflow/otp", hashlib.sha256).digest()


def claims_for(actor: Actor, *, now: float, ttl_s: float) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "sub": actor.user_id,
        "role": actor.role.value,
        "name": actor.name,
        "iat": int(now),
        "exp": int(now + ttl_s),
    }
    if actor.vendor_id is not None:
        claims["vendor_id"] = actor.vendor_id
    return claims


def issue_token(actor: Actor, secret: bytes, *, now: float, ttl_s: float = DEFAULT_TTL_S) -> str:
    return jwt.encode(claims_for(actor, now=now, ttl_s=ttl_s), secret, algorithm=ALGORITHM)


def decode_token(token: str, secret: bytes) -> tuple[Actor, float]:
    """The caller and the token's expiry (epoch seconds), or 401 saying what is wrong."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub", "role"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenExpired("token expired; request a new one") from None
    except jwt.InvalidTokenError as exc:
        raise TokenInvalid(f"invalid token: {exc}") from None
    return _actor(claims), float(claims["exp"])


def _actor(claims: Mapping[str, Any]) -> Actor:
    sub, role_name, name = claims["sub"], claims["role"], claims.get("name", "")
    if not isinstance(sub, str) or not sub:
        raise TokenInvalid("invalid token: claim 'sub' must be a non-empty string")
    if not isinstance(role_name, str):
        raise TokenInvalid("invalid token: claim 'role' must be a string")
    try:
        role = parse_role(role_name)
    except ValueError as exc:
        raise TokenInvalid(f"invalid token: claim 'role': {exc}") from None
    vendor_id = claims.get("vendor_id")
    if role is Role.RESTAURANT and not (isinstance(vendor_id, str) and vendor_id):
        raise TokenInvalid("invalid token: a restaurant token needs a 'vendor_id' claim")
    if not isinstance(name, str):
        raise TokenInvalid("invalid token: claim 'name' must be a string")
    return Actor(role, sub, name, vendor_id if role is Role.RESTAURANT else None)


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer ...`` header, or 401 saying what is missing."""
    if not authorization:
        raise Unauthorized("authentication required: send 'Authorization: Bearer <token>'")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'")
    return token.strip()


class TokenVerifier:
    """Verifies bearer tokens, remembering the ones that passed.

    Clients send the same token with every request, and PyJWT's full check (key preparation,
    base64, JSON, HMAC, claims) costs more than the rest of an order lookup. Only tokens that
    passed the full check are remembered, keyed by the whole string (signature included), and a
    remembered token is still refused once its ``exp`` has passed.
    """

    def __init__(self, secret: bytes, *, clock: Callable[[], float], size: int = 4096) -> None:
        self._secret = secret
        self._clock = clock
        self._size = size
        self._known: dict[str, tuple[Actor, float]] = {}

    def actor(self, token: str) -> Actor:
        known = self._known.get(token)
        if known is not None:
            if self._clock() < known[1]:
                return known[0]
            del self._known[token]
        actor, exp = decode_token(token, self._secret)
        if len(self._known) >= self._size:
            del self._known[next(iter(self._known))]
        self._known[token] = (actor, exp)
        return actor
