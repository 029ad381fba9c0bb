"""A deliberately wrong target for the conformance tests: an HTTP and WebSocket proxy in front of
a real `orderflow serve` that breaks one rule on purpose and forwards everything else untouched
(the ``Host`` header included, so the server's pagination links name the proxy).

Faults:
- ``none``: a faithful proxy, which counts what it forwards (``GET /__proxy__/count``), so a
  test can see how many requests a run really sent;
- ``cancel-while-cooking``: a customer's cancellation of an order in PREPARING is forwarded as
  the system's, so it answers 200 and the order is cancelled (D5 allows customers only before
  preparation);
- ``any-otp``: the code of every pickup, delivery and verification is replaced by the real one
  (read as the system), so any OTP is accepted (D7).

The proxy signs its system token with ``ORDERFLOW_JWT_SECRET``, as the server does.

Run: ``python tests/conformance/wrong_server.py UPSTREAM FAULT`` (prints ``listening on
http://127.0.0.1:PORT``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import sys
import time
from typing import Any

import httpx
import jwt
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from reference_api.http.auth import issue_token, resolve_secret
from reference_api.roles import SYSTEM_ACTOR

FAULTS = ("none", "cancel-while-cooking", "any-otp")
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
#: Not forwarded: the hop's own (and ``date``/``server``, which uvicorn adds itself).
HOP = {
    "content-length", "transfer-encoding", "connection", "content-encoding", "keep-alive",
    "date", "server",
}  # fmt: skip
ORDER_ACTION = re.compile(r"^/api/orders/([^/]+)/(cancel|pickup|complete-delivery|otp/verify)/$")


class Proxy:
    def __init__(self, upstream: str, fault: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.fault = fault
        self.count = 0
        self.client = httpx.AsyncClient(base_url=self.upstream, timeout=30.0)
        self.system = {
            "Authorization": "Bearer "
            + issue_token(SYSTEM_ACTOR, resolve_secret(), now=time.time(), ttl_s=86_400)
        }

    # ------------------------------------------------------------------ faults
    async def _status_as_system(self, order_id: str) -> str | None:
        resp = await self.client.get(f"/api/orders/{order_id}/", headers=self.system)
        return resp.json().get("order_status") if resp.status_code == 200 else None

    async def _real_code(self, order_id: str, kind: str) -> str | None:
        resp = await self.client.get(
            f"/api/orders/{order_id}/otp/", params={"type": kind}, headers=self.system
        )
        return resp.json().get("otp") if resp.status_code == 200 else None

    async def bend(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[bytes, dict[str, str]]:
        """The request as the fault rewrites it (or unchanged)."""
        match = ORDER_ACTION.match(path)
        if method != "POST" or match is None or self.fault == "none":
            return body, headers
        order_id, action = match.groups()
        try:
            data: Any = json.loads(body) if body else {}
        except ValueError:
            return body, headers
        if self.fault == "cancel-while-cooking" and action == "cancel":
            token = headers.get("authorization", "").removeprefix("Bearer ")
            try:
                role = jwt.decode(token, options={"verify_signature": False}).get("role")
            except jwt.InvalidTokenError:
                return body, headers
            if role == "customer" and await self._status_as_system(order_id) == "PREPARING":
                return body, {**headers, "authorization": self.system["Authorization"]}
        if self.fault == "any-otp" and isinstance(data, dict):
            if action == "otp/verify" and "otp" in data:
                kind = data.get("type") or "delivery"
            elif action == "pickup" and "otp" in data:
                kind = "pickup"
            elif action == "complete-delivery" and "otp" in data:
                kind = "delivery"
            else:
                return body, headers
            code = await self._real_code(order_id, kind)
            if code is not None:
                data["otp"] = code
                return json.dumps(data).encode(), headers
        return body, headers

    # ------------------------------------------------------------------ HTTP
    async def http(self, request: Request) -> Response:
        if request.url.path == "/__proxy__/count":
            return JSONResponse({"requests": self.count})
        self.count += 1
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
        body, headers = await self.bend(
            request.method, request.url.path, await request.body(), headers
        )
        resp = await self.client.request(
            request.method,
            request.url.path,
            params=list(request.query_params.multi_items()),
            content=body,
            headers=headers,
        )
        out = {k: v for k, v in resp.headers.items() if k.lower() not in HOP}
        return Response(resp.content, status_code=resp.status_code, headers=out)

    # ------------------------------------------------------------------ WebSocket
    async def websocket(self, ws: WebSocket) -> None:
        self.count += 1
        base = self.upstream.replace("http://", "ws://", 1) + ws.url.path
        url = f"{base}?{ws.url.query}" if ws.url.query else base
        auth = ws.headers.get("authorization")
        try:
            upstream = await connect(
                url, additional_headers={"Authorization": auth} if auth else None
            )
        except (OSError, InvalidHandshake):
            await ws.accept()
            await ws.close(1011)
            return
        await ws.accept()

        async def down() -> None:
            with contextlib.suppress(ConnectionClosed):
                async for message in upstream:
                    await ws.send_text(message if isinstance(message, str) else message.decode())
            with contextlib.suppress(RuntimeError):
                await ws.close(upstream.close_code or 1000)

        async def up() -> None:
            with contextlib.suppress(WebSocketDisconnect, ConnectionClosed):
                while True:
                    await upstream.send(await ws.receive_text())

        tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        await upstream.close()


def main() -> None:
    upstream, fault = sys.argv[1], sys.argv[2]
    if fault not in FAULTS:
        raise SystemExit(f"unknown fault {fault!r}; one of {', '.join(FAULTS)}")
    proxy = Proxy(upstream, fault)
    app = Starlette(
        routes=[
            WebSocketRoute("/{path:path}", proxy.websocket),
            Route("/{path:path}", proxy.http, methods=METHODS),
        ]
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]} ({fault})", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
