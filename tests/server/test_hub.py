"""The WebSocket hub on its own: fan-out per order, a slow subscriber dropped (1013) without
holding up the others, everyone told at shutdown (1001)."""

from __future__ import annotations

import asyncio

import pytest

from reference_api.events import STATUS_CHANGED, DomainEvent
from reference_api.http.hub import CLOSE_GOING_AWAY, CLOSE_TOO_SLOW, EventHub

pytestmark = pytest.mark.anyio


def _event(order_id: str, n: int) -> DomainEvent:
    return DomainEvent(STATUS_CHANGED, order_id, "ORD1", "A", "B", "B", 1_700_000_000.0 + n, "x")


async def test_fan_out_and_slow_subscribers() -> None:
    hub = EventHub(queue_size=4)
    hub.bind(asyncio.get_running_loop())
    fast, slow, other = hub.subscribe("o1"), hub.subscribe("o1"), hub.subscribe("o2")
    for n in range(3):
        hub.deliver([_event("o1", n)])
        assert (await fast.queue.get())["timestamp"].startswith("2023-11-14T22:13:2")
    assert hub.subscriber_count("o1") == 2 and other.queue.empty()
    hub.deliver([_event("o1", n) for n in range(3, 6)])  # slow now holds 6 > 4
    assert slow.close_code == CLOSE_TOO_SLOW
    assert await slow.queue.get() is None  # the close sentinel, nothing stale before it
    assert hub.subscriber_count("o1") == 1
    assert [(await fast.queue.get())["order_id"] for _ in range(3)] == ["o1"] * 3

    hub.publish_threadsafe([_event("o2", 9)])  # from another thread in the server
    assert (await asyncio.wait_for(other.queue.get(), 1))["order_id"] == "o2"
    hub.close_all()
    assert fast.close_code == other.close_code == CLOSE_GOING_AWAY
    assert await fast.queue.get() is None
    assert hub.subscriber_count() == 0
