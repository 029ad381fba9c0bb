"""``/ws/orders/{order_id}/``: the spec's real-time events for one order.

Authorised like ``GET /api/orders/{order_id}/`` (token in ``?token=`` or an ``Authorization:
Bearer`` header). The handshake is accepted first so a refusal can carry a close code that says
why: 4401 bad or missing token, 4403 role not allowed, 4404 no such order for this caller (or a
malformed id). Once open, each committed event for the order arrives as the spec's JSON payload;
messages from the client are ignored. 1013 closes a subscriber that fell too far behind, 1001
closes everyone at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import orjson
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from reference_api.endpoints import ENDPOINTS
from reference_api.errors import Forbidden, NotFound
from reference_api.http.auth import Unauthorized, bearer_token
from reference_api.http.hub import (
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_UNAUTHORIZED,
    EventHub,
    Subscription,
)
from reference_api.http.runner import ServiceRunner

router = APIRouter()


async def _refuse(websocket: WebSocket, code: int, reason: str) -> None:
    await websocket.accept()
    await websocket.close(code, reason[:120])


@router.websocket(ENDPOINTS["websocket"].path)
async def order_events(websocket: WebSocket, order_id: str) -> None:
    state = websocket.app.state
    runner: ServiceRunner = state.runner
    hub: EventHub = state.hub
    try:
        token = websocket.query_params.get("token") or bearer_token(
            websocket.headers.get("authorization")
        )
        actor = state.tokens.actor(token)
    except Unauthorized as exc:
        await _refuse(websocket, CLOSE_UNAUTHORIZED, exc.detail)
        return
    try:
        oid = str(uuid.UUID(order_id))
    except ValueError:
        await _refuse(websocket, CLOSE_NOT_FOUND, f"order {order_id!r} not found")
        return
    try:
        await runner.call(runner.service.get_order, actor, oid)
    except NotFound as exc:
        await _refuse(websocket, CLOSE_NOT_FOUND, exc.detail)
        return
    except Forbidden as exc:
        await _refuse(websocket, CLOSE_FORBIDDEN, exc.detail)
        return
    sub = hub.subscribe(oid)
    try:
        await websocket.accept()
        await _serve(websocket, sub)
    finally:
        hub.unsubscribe(sub)


async def _serve(websocket: WebSocket, sub: Subscription) -> None:
    pump = asyncio.create_task(_pump(websocket, sub))
    listen = asyncio.create_task(_drain(websocket))
    try:
        await asyncio.wait({pump, listen}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pump, listen):
            task.cancel()
        for task in (pump, listen):
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task


async def _pump(websocket: WebSocket, sub: Subscription) -> None:
    while True:
        payload = await sub.queue.get()
        if payload is None:
            if websocket.client_state is WebSocketState.CONNECTED:
                await websocket.close(sub.close_code or 1000)
            return
        await websocket.send_text(orjson.dumps(payload).decode())


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) client messages until the client goes away."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
