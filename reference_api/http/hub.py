"""Fan-out of committed domain events to the WebSocket subscribers of each order.

Publishing never blocks the service: events arrive on the worker thread and are handed to the
event loop; each subscriber has a bounded queue, and one that falls too far behind is dropped
(its connection closes with 1013, "try again later") rather than slowing everyone else.
"""

from __future__ import annotations

import asyncio
from typing import Any

from reference_api.events import DomainEvent

#: Close codes of ``/ws/orders/{order_id}/`` (docs/spec-decisions.md).
CLOSE_GOING_AWAY = 1001
CLOSE_TOO_SLOW = 1013
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404

Payload = dict[str, Any]


class Subscription:
    __slots__ = ("close_code", "order_id", "queue")

    def __init__(self, order_id: str, size: int) -> None:
        self.order_id = order_id
        self.queue: asyncio.Queue[Payload | None] = asyncio.Queue(size)
        self.close_code: int | None = None

    def end(self, code: int) -> None:
        """Ask the connection to close: the ``None`` sentinel jumps the queue."""
        self.close_code = code
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class EventHub:
    def __init__(self, queue_size: int = 256) -> None:
        self._subs: dict[str, set[Subscription]] = {}
        self._queue_size = queue_size
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self, order_id: str) -> Subscription:
        sub = Subscription(order_id, self._queue_size)
        self._subs.setdefault(order_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.order_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.order_id]

    def subscriber_count(self, order_id: str | None = None) -> int:
        if order_id is not None:
            return len(self._subs.get(order_id, ()))
        return sum(len(s) for s in self._subs.values())

    def publish_threadsafe(self, events: list[DomainEvent]) -> None:
        """Called from the service's worker thread after commit."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.deliver, events)

    def deliver(self, events: list[DomainEvent]) -> None:
        for event in events:
            subs = self._subs.get(event.order_id)
            if not subs:
                continue
            payload = event.to_payload()
            for sub in list(subs):
                if sub.close_code is not None:
                    continue
                try:
                    sub.queue.put_nowait(payload)
                except asyncio.QueueFull:
                    self.unsubscribe(sub)
                    sub.end(CLOSE_TOO_SLOW)

    def close_all(self) -> None:
        for subs in list(self._subs.values()):
            for sub in list(subs):
                sub.end(CLOSE_GOING_AWAY)
        self._subs.clear()
