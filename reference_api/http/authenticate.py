"""Authentication at the edge of the app: every ``/api/`` request is authenticated before it is
routed or its body parsed, so a request without a valid token gets 401 whatever else is wrong
with it, and routes read the caller from the request scope.

A pure ASGI middleware rather than a FastAPI dependency: per request it costs a dictionary
lookup for a known token, where dependency solving costs more than the rest of an order lookup.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from reference_api.errors import OrderflowError
from reference_api.http.auth import TokenVerifier, bearer_token
from reference_api.http.errors import error_response
from reference_api.roles import Actor

PROTECTED_PREFIX = "/api/"
SCOPE_KEY = "orderflow.actor"


class BearerAuthMiddleware:
    def __init__(self, app: ASGIApp, verifier: TokenVerifier) -> None:
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PROTECTED_PREFIX):
            await self.app(scope, receive, send)
            return
        header = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value.decode("latin-1")
                break
        try:
            actor = self.verifier.actor(bearer_token(header))
        except OrderflowError as exc:
            response = error_response(
                exc.status_code, exc.detail, exc.code, headers={"WWW-Authenticate": "Bearer"}
            )
            await response(scope, receive, send)
            return
        scope[SCOPE_KEY] = actor
        await self.app(scope, receive, send)


def caller(request: Request) -> Actor:
    """The authenticated caller of a route under ``/api/`` (set by the middleware)."""
    actor: Actor = request.scope[SCOPE_KEY]
    return actor
