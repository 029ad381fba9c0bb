"""The FastAPI application: routes, error handlers, the WebSocket hub and the timer task around
one ``OrderService``. Built by ``assemble_app`` at call time; ``reference_api.http.server``
decides the store, clock and fixtures.

``create_app`` is the ASGI factory for ``uvicorn --factory reference_api.http.app:create_app``:
it reads the ``ORDERFLOW_*`` variables (``reference_api.http.settings``) and composes the same
server `orderflow serve` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, NoReturn

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from reference_api.clock import Clock
from reference_api.events import EVENT_TYPES, LOCATION_UPDATED
from reference_api.http import errors, routes
from reference_api.http.auth import TokenVerifier
from reference_api.http.authenticate import BearerAuthMiddleware
from reference_api.http.detail import DetailReader
from reference_api.http.hub import EventHub
from reference_api.http.runner import ServiceRunner
from reference_api.http.timers import TimerLoop
from reference_api.http.websocket import router as ws_router
from reference_api.service import OrderService

DESCRIPTION = f"""
The order process flow after checkout (`order-process-flow.md`), as a live reference server.

* Auth: `Authorization: Bearer <JWT>` (HS256; claims `sub`, `role`, `name`, `vendor_id`, `exp`);
  get one with `orderflow token --role customer|restaurant|rider|system`.
* Errors: `{{"detail": ..., "code": ..., "field": ...}}`; `field` is a path into the request.
* Operations tagged `extension` (and marked `x-extension: true`) are not in the spec; the flows
  need them (checkout, payment callback, rejection, rider availability and location).
* WebSocket `/ws/orders/{{order_id}}/?token=<JWT>` pushes the spec's events
  ({", ".join(f"`{e}`" for e in (*EVENT_TYPES, LOCATION_UPDATED))}); close codes 4401
  (token), 4403 (role), 4404 (no such order for this caller), 1013 (too slow), 1001 (shutdown).
"""


def create_app() -> FastAPI:
    """The ``uvicorn --factory`` entry point: settings from ``ORDERFLOW_*`` variables.

    A bad setting is a usage error, not a crash: the message (naming the variable and what it
    accepts) goes to stderr and the process exits with status 2, before uvicorn binds a port.
    """
    from reference_api.http.auth import resolve_secret
    from reference_api.http.server import build_app  # the server module imports this one
    from reference_api.http.settings import settings_from_env

    try:
        settings = settings_from_env(os.environ)
        secret = resolve_secret(os.environ)
    except ValueError as exc:
        _usage_error(str(exc))
    try:
        return build_app(settings, secret)
    except (sqlite3.Error, OSError) as exc:
        _usage_error(f"ORDERFLOW_DB={settings.db!r}: cannot open the database: {exc}")


def _usage_error(message: str) -> NoReturn:
    print(f"orderflow: {message}", file=sys.stderr, flush=True)
    raise SystemExit(2)


def assemble_app(
    service: OrderService,
    *,
    secret: bytes,
    clock: Clock | None = None,
    on_rollback: Callable[[], None] | None = None,
    on_shutdown: Callable[[], None] | None = None,
    run_timers: bool = True,
    offload: bool = False,
) -> FastAPI:
    """``clock`` drives the timer task (the service's own clock by default); ``offload`` runs
    service calls on a worker thread rather than the event loop (see ``ServiceRunner``)."""
    runner = ServiceRunner(service, offload=offload, on_rollback=on_rollback)
    hub = EventHub()
    runner.add_listener(hub.publish_threadsafe)
    timers = TimerLoop(runner, clock or service.clock)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        hub.bind(asyncio.get_running_loop())
        task = asyncio.create_task(timers.run()) if run_timers else None
        try:
            yield {}
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            hub.close_all()
            await asyncio.get_running_loop().run_in_executor(None, runner.close)
            if on_shutdown is not None:
                on_shutdown()

    app = FastAPI(
        title="orderflow reference API",
        version="1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "orders", "description": "the spec's order endpoints"},
            {"name": "restaurant", "description": "restaurant owner actions"},
            {"name": "rider", "description": "delivery partner updates"},
            {"name": "extension", "description": "not in the spec; needed by the flows"},
        ],
    )
    app.state.secret = secret
    # JWT expiry is wall time (PyJWT checks it against the system clock too)
    app.state.tokens = TokenVerifier(secret, clock=time.time)
    app.state.runner = runner
    app.state.detail_reader = DetailReader(service)
    app.state.hub = hub
    app.state.timers = timers
    errors.install(app)
    app.add_middleware(BearerAuthMiddleware, verifier=app.state.tokens)
    routes.install(app)
    app.include_router(ws_router)
    app.openapi = functools.partial(_openapi, app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document plus the bearer scheme every operation names in ``security``."""
    if app.openapi_schema is None:
        doc = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        doc.setdefault("components", {})["securitySchemes"] = {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "HS256 JWT from `orderflow token`",
            }
        }
        app.openapi_schema = doc
    return app.openapi_schema
