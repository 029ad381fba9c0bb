"""``/ws/orders/{order_id}/`` on a real server: who may subscribe (close codes) and what a
subscriber hears during a delivery, rider positions included."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.server.harness import Api, LiveServer, token

pytestmark = pytest.mark.anyio

SPEC_KEYS = {
    "event_type",
    "order_id",
    "order_number",
    "previous_status",
    "new_status",
    "status_name",
    "timestamp",
    "updated_by",
}


@pytest.fixture
async def live_api(live_server: LiveServer) -> Any:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10.0) as client:
        yield Api(client, "live")


def ws_url(server: LiveServer, order_id: str, tok: str | None = None) -> str:
    base = server.url.replace("http://", "ws://") + f"/ws/orders/{order_id}/"
    return base if tok is None else f"{base}?token={tok}"


async def close_code(url: str, **kwargs: Any) -> int:
    async with connect(url, open_timeout=5, **kwargs) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def test_subscription_is_authorised_like_get_order(
    live_server: LiveServer, live_api: Api
) -> None:
    owner = live_api.customer()
    order = await live_api.place(owner)
    oid = order["id"]
    assert await close_code(ws_url(live_server, oid)) == 4401
    assert await close_code(ws_url(live_server, oid, "garbage")) == 4401
    assert await close_code(ws_url(live_server, oid, token(live_api.customer()))) == 4404
    assert await close_code(ws_url(live_server, "not-a-uuid", token(owner))) == 4404
    assert await close_code(ws_url(live_server, str(uuid.uuid4()), token(owner))) == 4404
    headers = {"Authorization": f"Bearer {token(live_api.restaurant())}"}
    async with connect(ws_url(live_server, oid), additional_headers=headers) as ws:
        await live_api.ok(live_api.restaurant(), "POST", f"/api/restaurants/orders/{oid}/confirm/")
        first = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert first["event_type"] == "order.status_changed"


async def _collect(ws: ClientConnection, until: str) -> list[dict[str, Any]]:
    events = []
    while True:
        event = json.loads(await asyncio.wait_for(ws.recv(), 5))
        events.append(event)
        if event["event_type"] == until:
            return events


async def test_customer_hears_every_step_and_the_riders_position(
    live_server: LiveServer, live_api: Api
) -> None:
    api = live_api
    customer = api.customer()
    order = await api.place(customer)
    oid = order["id"]
    async with connect(ws_url(live_server, oid, token(customer))) as ws:
        await api.advance(order, ["confirm", "prepare", "ready"])
        rider = await api.assigned_rider(oid)
        await api.ok(
            rider, "POST", "/api/riders/me/location/", json={"latitude": 19.08, "longitude": 72.879}
        )
        code = await api.otp(oid, "pickup")
        await api.ok(rider, "POST", f"/api/orders/{oid}/pickup/", json={"otp": code})
        await api.ok(rider, "POST", f"/api/orders/{oid}/start-delivery/")
        code = await api.otp(oid, "delivery")
        await api.ok(rider, "POST", f"/api/orders/{oid}/complete-delivery/", json={"otp": code})
        events = await _collect(ws, "order.delivered")
    kinds = [e["event_type"] for e in events]
    assert kinds == [
        "order.status_changed",
        "order.assigned",
        "order.status_changed",
        "order.status_changed",
        "order.ready_for_pickup",
        "order.location_updated",
        "order.status_changed",
        "order.picked_up",
        "order.status_changed",
        "order.out_for_delivery",
        "order.status_changed",
        "order.delivered",
    ]
    for event in events:
        assert set(event) >= SPEC_KEYS and event["order_id"] == oid
    changes = [e["new_status"] for e in events if e["event_type"] == "order.status_changed"]
    assert changes == [
        "ORDER_CONFIRMED",
        "PREPARING",
        "READY_FOR_PICKUP",
        "ORDER_PICKED_UP",
        "OUT_FOR_DELIVERY",
        "DELIVERED",
    ]
    assert events[0]["previous_status"] == "ORDER_PLACED"
    assert events[0]["updated_by"] == api.restaurant().name
    assert events[1]["delivery_person"] == rider.user_id
    location = events[5]["delivery_person_location"]
    assert location == {"latitude": "19.080000", "longitude": "72.879000"}


async def test_cancellation_reaches_every_subscriber(
    live_server: LiveServer, live_api: Api
) -> None:
    customer = live_api.customer()
    order = await live_api.place(customer)
    oid = order["id"]
    urls = [ws_url(live_server, oid, token(customer))] * 3 + [
        ws_url(live_server, oid, token(live_api.restaurant()))
    ]
    sockets = [await connect(u) for u in urls]
    try:
        await live_api.ok(customer, "POST", f"/api/orders/{oid}/cancel/", json={"reason": "late"})
        for ws in sockets:
            events = await _collect(ws, "order.cancelled")
            assert [e["new_status"] for e in events] == ["CANCELLED", "CANCELLED"]
    finally:
        for ws in sockets:
            await ws.close()
