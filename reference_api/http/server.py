"""The composition root of the live server: SQLite store, wall clock, OS randomness, fixtures,
the app, and uvicorn on a socket bound before start-up (so ``--port 0`` works and the printed
address is the real one).

Randomness comes from the operating system: ids and OTP nonces drawn from a fixed seed would
repeat after a restart on the same database. Fixture identities stay deterministic (they are
derived from their index, not drawn).
"""

from __future__ import annotations

import gc
import logging
import random
import socket
import time
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI

from reference_api.fixtures import Fixtures, build_fixtures, seed
from reference_api.http.app import assemble_app
from reference_api.http.auth import otp_secret
from reference_api.http.detail import render_detail
from reference_api.http.settings import (
    DEFAULT_CUSTOMERS,
    DEFAULT_RIDERS,
    DEFAULT_VENDORS,
    ServerSettings,
    parse_policy,
)
from reference_api.service import OrderService
from reference_api.store.sqlite import SqliteStore

__all__ = [
    "DEFAULT_CUSTOMERS",
    "DEFAULT_RIDERS",
    "DEFAULT_VENDORS",
    "ServerSettings",
    "WallClock",
    "bind",
    "build_app",
    "build_fixtures_for",
    "build_service",
    "parse_policy",
    "serve",
]

log = logging.getLogger("orderflow.server")


class WallClock:
    """The server's clock: real UTC epoch seconds. Only the server layer owns one."""

    __slots__ = ()

    def now(self) -> float:
        return time.time()


def build_fixtures_for(settings: ServerSettings) -> Fixtures:
    return build_fixtures(settings.vendors, settings.customers, settings.riders)


def build_service(settings: ServerSettings, secret: bytes) -> tuple[OrderService, SqliteStore]:
    """Open (or create) the database, rebuild dispatch from it and seed missing fixtures."""
    path = settings.db
    if settings.fresh and path != ":memory:":
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
    store = SqliteStore(path, synchronous=settings.synchronous, render_detail=render_detail)
    service = OrderService(
        store,
        WallClock(),
        random.SystemRandom(),
        policy=settings.policy,
        otp_secret=otp_secret(secret),
        dispatch=settings.dispatch.build(settings.policy),
    )
    seed(service, build_fixtures_for(settings))
    return service, store


def build_app(settings: ServerSettings, secret: bytes) -> FastAPI:
    service, store = build_service(settings, secret)

    def rebuild_dispatch() -> None:
        """After a rollback the in-memory dispatch state may disagree with the database."""
        service.rebuild_dispatch(settings.dispatch.build(settings.policy))

    return assemble_app(
        service,
        secret=secret,
        clock=service.clock,
        on_rollback=rebuild_dispatch,
        on_shutdown=store.close,
        offload=settings.synchronous.upper() == "FULL",  # an fsync per commit: off the loop
    )


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(
    settings: ServerSettings,
    secret: bytes,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "warning",
    announce: Callable[[str], None] = print,
) -> None:
    import uvicorn

    sock = bind(host, port)
    try:
        app = build_app(settings, secret)
    except BaseException:
        sock.close()
        raise
    actual = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    announce(
        f"orderflow reference server listening on http://{shown}:{actual} "
        f"(db {settings.db}; {settings.vendors} vendors, {settings.customers} customers, "
        f"{settings.riders} riders; OpenAPI at /openapi.json, docs at /docs)"
    )
    # Start-up objects (modules, schemas, fixtures) live as long as the process: keep them out
    # of the collector's scans so each request pays only for what it allocates.
    gc.collect()
    gc.freeze()
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
