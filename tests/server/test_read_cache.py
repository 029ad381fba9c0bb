"""Order detail reads never serve a stale or unauthorised document: every write (an action, a
timer, a rider assignment) is seen by the next read of every caller who may see the order, and
callers who may not get 404."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from reference_api.http.server import ServerSettings, build_app, parse_policy
from reference_api.roles import Actor
from tests.server.harness import SECRET, Api

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = ServerSettings(
        db=str(tmp_path / "c.db"),
        vendors=2,
        customers=2,
        riders=3,
        policy=parse_policy(["confirm_timeout_s=0.5"]),
    )
    app = build_app(settings, SECRET)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield Api(client, "inprocess")


async def _status(api: Api, actor: Actor, oid: str) -> str:
    return str((await api.ok(actor, "GET", f"/api/orders/{oid}/"))["order_status"])


async def test_every_write_is_seen_by_every_reader(api: Api) -> None:
    customer = api.fx.customers[0]
    rest = api.restaurant()
    order = await api.place(customer)
    oid = order["id"]
    readers = [customer, rest, api.system]
    for actor in readers:
        assert await _status(api, actor, oid) == "ORDER_PLACED"
    assert await _status(api, customer, oid) == "ORDER_PLACED"

    rider_candidates = api.fx.riders[:3]
    for rider in rider_candidates:  # nobody assigned yet: riders see nothing
        response = await api.call(rider, "GET", f"/api/orders/{oid}/")
        assert response.status_code == 404
    for step, expected in (
        ("confirm", "ORDER_CONFIRMED"),
        ("start-preparing", "PREPARING"),
        ("mark-ready", "READY_FOR_PICKUP"),
    ):
        await api.ok(rest, "POST", f"/api/restaurants/orders/{oid}/{step}/")
        for actor in readers:
            assert await _status(api, actor, oid) == expected
    detail = await api.ok(customer, "GET", f"/api/orders/{oid}/")
    assigned = api.rider(detail["delivery_person"])
    assert await _status(api, assigned, oid) == "READY_FOR_PICKUP"
    for rider in rider_candidates:
        if rider.user_id != assigned.user_id:
            response = await api.call(rider, "GET", f"/api/orders/{oid}/")
            assert response.status_code == 404


async def test_a_timer_firing_is_seen(api: Api) -> None:
    customer = api.fx.customers[1]
    order = await api.place(customer)
    assert await _status(api, customer, order["id"]) == "ORDER_PLACED"
    for _ in range(60):  # confirm timeout 0.5 s, fired in wall time by the server's task
        if await _status(api, customer, order["id"]) == "CANCELLED":
            break
        await asyncio.sleep(0.05)
    assert await _status(api, customer, order["id"]) == "CANCELLED"
