"""A customer's live-tracking subscription to ``/ws/orders/{id}/``: connects in its own greenlet
(websocket-client over gevent's patched sockets), keeps every event with the moment it arrived,
and shows up in Locust's statistics as one ``WS /ws/orders/[id]/`` request per connection. Its
``order.assigned`` event tells the journey which rider to act as, and the bundle the order is
part of, if any."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any
from urllib.parse import quote, urlsplit

import gevent
import websocket

from loadtest.checks import bundle_orders
from reference_api.endpoints import ENDPOINTS

WS_NAME = ENDPOINTS["websocket"].name


def ws_url(host: str, order_id: str, token: str) -> str:
    parts = urlsplit(host)
    scheme = "wss" if parts.scheme == "https" else "ws"
    base = parts.path.rstrip("/")
    path = ENDPOINTS["websocket"].url(order_id)
    return f"{scheme}://{parts.netloc}{base}{path}?token={quote(token)}"


class Subscription:
    def __init__(self, host: str, order_id: str, token: str, request_event: Any) -> None:
        self.url = ws_url(host, order_id, token)
        self.order_id = order_id
        self.request_event = request_event
        self.events: list[tuple[float, dict[str, Any]]] = []  # (received_ts, payload)
        self.error: str | None = None
        self._ws: websocket.WebSocket | None = None
        self._closing = False
        self._greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        start = time.time()
        perf = time.perf_counter()
        try:
            self._ws = websocket.create_connection(self.url, timeout=10)
        except Exception as exc:  # any connect failure is a recorded failure, not a crash
            self.error = f"{type(exc).__name__}: {exc}"
            self._fire(start, perf, exc)
            return
        self._fire(start, perf, None)
        ws = self._ws
        ws.settimeout(None)
        while not self._closing:
            try:
                message = ws.recv()
            except Exception as exc:
                if not self._closing:
                    self.error = f"{type(exc).__name__}: {exc}"
                return
            if not message:
                return
            received = time.time()
            try:
                payload = json.loads(message)
            except (TypeError, ValueError):
                continue
            if isinstance(payload, dict):
                self.events.append((received, payload))

    def _fire(self, start: float, perf: float, exc: Exception | None) -> None:
        self.request_event.fire(
            request_type="WS",
            name=WS_NAME,
            response_time=(time.perf_counter() - perf) * 1000,
            response_length=0,
            exception=exc,
            context={},
            start_time=start,
            url=self.url.split("?", 1)[0],
            response=None,
        )

    def rider(self) -> str | None:
        """The rider the server assigned, if an ``order.assigned`` event said so."""
        found = self.assignment()
        return None if found is None else found[0]

    def assignment(self) -> tuple[str, tuple[str, ...] | None] | None:
        """The rider the server assigned and, when it gave them this order with others of the
        restaurant, the bundle's orders in delivery sequence (the event's ``bundle``), if an
        ``order.assigned`` event said so. Only that event names a ``delivery_person``."""
        for _, payload in self.events:
            rider = payload.get("delivery_person")
            if isinstance(rider, str) and rider:
                return rider, bundle_orders(payload.get("bundle"))
        return None

    def close(self, grace_s: float = 0.0) -> None:
        if grace_s > 0:
            gevent.sleep(grace_s)
        self._closing = True
        if self._ws is not None:
            with contextlib.suppress(Exception):  # a broken socket has nothing to report
                self._ws.close(timeout=1)
        self._greenlet.kill(block=True, timeout=2)
