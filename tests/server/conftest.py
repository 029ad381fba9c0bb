"""Fixtures for the server tests: the ``api`` fixture runs each test twice, against the app
in-process (httpx ASGITransport) and against a real ``orderflow serve`` on 127.0.0.1; the
contract tests add a third backend, ``uvicorn --factory`` (``open_api(..., "factory")``)."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from reference_api.http.server import ServerSettings, build_app, build_service
from tests.server.harness import (
    CUSTOMERS,
    RIDERS,
    SECRET,
    VENDORS,
    Api,
    FactoryServer,
    LiveServer,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("live") / "orderflow.db")
    with server:
        yield server


@pytest.fixture(scope="session")
def factory_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FactoryServer]:
    server = FactoryServer(tmp_path_factory.mktemp("factory") / "orderflow.db")
    with server:
        yield server


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with the fixtures seeded once; each in-process test starts from a copy."""
    path = tmp_path_factory.mktemp("template") / "seeded.db"
    settings = ServerSettings(db=str(path), vendors=VENDORS, customers=CUSTOMERS, riders=RIDERS)
    _, store = build_service(settings, SECRET)
    store.checkpoint()
    store.close()
    return path


@contextlib.asynccontextmanager
async def open_api(request: pytest.FixtureRequest, tmp_path: Path, kind: str) -> AsyncIterator[Api]:
    """An ``Api`` on one backend: ``inprocess`` (a fresh copy of the seeded database), ``live``
    (the session's ``orderflow serve``) or ``factory`` (the session's ``uvicorn --factory``)."""
    if kind == "inprocess":
        db = tmp_path / "inprocess.db"
        shutil.copyfile(request.getfixturevalue("seeded_db"), db)
        settings = ServerSettings(db=str(db), vendors=VENDORS, customers=CUSTOMERS, riders=RIDERS)
        app = build_app(settings, SECRET)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                yield Api(c, "inprocess")
    else:
        fixture = {"live": "live_server", "factory": "factory_server"}[kind]
        server: LiveServer | FactoryServer = request.getfixturevalue(fixture)
        async with httpx.AsyncClient(base_url=server.url, timeout=10.0) as c:
            yield Api(c, kind)


@pytest.fixture(params=["inprocess", "live"])
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    async with open_api(request, tmp_path, request.param) as backend:
        yield backend
