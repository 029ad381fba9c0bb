"""A server killed with SIGKILL mid-load and restarted on the same database keeps every
transition it acknowledged; timers (auto-cancel, refunds) survive the restart and fire in wall
time."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from reference_api.statuses import TRANSITIONS, OrderStatus
from tests.server.harness import Api, LiveServer

pytestmark = pytest.mark.anyio

WORKERS = 24
LOAD_SECONDS = 1.5


async def _journeys(api: Api, acked: list[tuple[str, str]], stop: asyncio.Event) -> None:
    """Drive orders to delivery, recording each transition the server acknowledged."""
    rest = api.restaurant()
    while not stop.is_set():
        order = await api.place()
        oid = order["id"]
        acked.append((oid, "ORDER_PLACED"))
        for step, status in (
            ("confirm", "ORDER_CONFIRMED"),
            ("start-preparing", "PREPARING"),
            ("mark-ready", "READY_FOR_PICKUP"),
        ):
            await api.ok(rest, "POST", f"/api/restaurants/orders/{oid}/{step}/")
            acked.append((oid, status))
        rider = await api.assigned_rider(oid)
        otp = await api.otp(oid, "pickup")
        await api.ok(rider, "POST", f"/api/orders/{oid}/pickup/", json={"otp": otp})
        acked.append((oid, "ORDER_PICKED_UP"))
        await api.ok(rider, "POST", f"/api/orders/{oid}/start-delivery/")
        acked.append((oid, "OUT_FOR_DELIVERY"))
        otp = await api.otp(oid, "delivery")
        await api.ok(rider, "POST", f"/api/orders/{oid}/complete-delivery/", json={"otp": otp})
        acked.append((oid, "DELIVERED"))


async def _worker(api: Api, acked: list[tuple[str, str]], stop: asyncio.Event) -> None:
    try:
        await _journeys(api, acked, stop)
    except httpx.TransportError:
        return  # the server died under us: what was acknowledged is in ``acked``


def _consistent(history: list[dict[str, Any]]) -> None:
    statuses = [h["status"] for h in history if h["status"] != "DELIVERY_PARTNER_ASSIGNED"]
    for before, after in itertools.pairwise(statuses):
        assert OrderStatus(after) in TRANSITIONS[OrderStatus(before)], statuses


async def test_kill_9_mid_load_loses_no_acknowledged_transition(tmp_path: Path) -> None:
    db = tmp_path / "orderflow.db"
    acked: list[tuple[str, str]] = []
    server = LiveServer(db).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10.0) as client:
            api = Api(client, "live")
            stop = asyncio.Event()
            workers = [asyncio.create_task(_worker(api, acked, stop)) for _ in range(WORKERS)]
            await asyncio.sleep(LOAD_SECONDS)
            server.kill()  # mid-load: requests are in flight
            stop.set()
            await asyncio.wait_for(asyncio.gather(*workers), 20)
    finally:
        server.stop()
    assert len(acked) >= 50, f"load too light to mean anything: {len(acked)} acknowledgements"

    with LiveServer(db) as restarted:
        async with httpx.AsyncClient(base_url=restarted.url, timeout=10.0) as client:
            api = Api(client, "live")
            by_order: dict[str, set[str]] = {}
            for oid, status in acked:
                by_order.setdefault(oid, set()).add(status)
            for oid, statuses in by_order.items():
                history = (await api.ok(api.system, "GET", f"/api/orders/{oid}/history/"))[
                    "history"
                ]
                recorded = [h["status"] for h in history]
                assert statuses <= set(recorded), (oid, statuses, recorded)
                assert len(recorded) == len(set(recorded)), recorded
                _consistent(history)
            # the restarted server works: dispatch was rebuilt from the database
            order = await api.place()
            detail = await api.advance(order, ["confirm"])
            assert detail["delivery_person"]


async def test_timers_survive_a_restart_and_fire_in_wall_time(tmp_path: Path) -> None:
    db = tmp_path / "orderflow.db"
    policy = [
        "--policy",
        "confirm_timeout_s=2",
        "--policy",
        "refund_processing_delay_s=1",
        "--policy",
        "refund_settle_delay_s=1",
    ]
    server = LiveServer(db, *policy).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10.0) as client:
            api = Api(client, "live")
            forgotten = await api.place()  # nobody confirms: auto-cancel in 2 s
            paid = await api.place(method="online")
            await api.ok(
                api.system, "POST", f"/api/orders/{paid['id']}/payment/", json={"status": "success"}
            )
            await api.ok(
                paid["_customer"], "POST", f"/api/orders/{paid['id']}/cancel/", json={}
            )  # refund pending; steps due in 1 s and 1 s more
            placed_at = time.monotonic()
        server.kill()
    finally:
        server.stop()

    with LiveServer(db, *policy) as restarted:
        async with httpx.AsyncClient(base_url=restarted.url, timeout=10.0) as client:
            api = Api(client, "live")
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                a = await api.ok(api.system, "GET", f"/api/orders/{forgotten['id']}/")
                b = await api.ok(api.system, "GET", f"/api/orders/{paid['id']}/")
                if a["order_status"] == "CANCELLED" and b["order_status"] == "REFUND_COMPLETED":
                    break
                await asyncio.sleep(0.2)
            assert a["order_status"] == "CANCELLED", a
            assert a["cancelled_by"] == "system"
            assert b["order_status"] == "REFUND_COMPLETED" and b["refund_status"] == "completed"
            assert time.monotonic() - placed_at >= 2.0
            history = await api.ok(api.system, "GET", f"/api/orders/{forgotten['id']}/history/")
            assert history["history"][-1]["metadata"]["auto"] == "confirm_timeout"
