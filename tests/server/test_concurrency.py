"""Many clients racing the same transitions on a real server: exactly one winner per race, the
losers told why, and a history with every acknowledged transition exactly once."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reference_api.roles import Actor
from tests.server.harness import Api, LiveServer, auth

pytestmark = pytest.mark.anyio

ORDERS = 25
PER_SIDE = 4  # requests per side per order and round: 25 orders x 8 = 200 concurrent clients


async def _race(
    server: LiveServer,
    requests: list[tuple[Actor, str, str, Any]],
    release_at: Callable[[float], float] | None = None,
) -> list[int]:
    """Each request from its own client and connection, all released at once: 50 ms after
    every connection is open, or at ``release_at(now)`` (a wall time) when given."""
    tls = ssl.create_default_context()  # unused on http://, but each client would build one
    clients = [httpx.AsyncClient(base_url=server.url, timeout=30.0, verify=tls) for _ in requests]
    try:
        # open every connection first, so the race itself is not staggered by connects
        await asyncio.gather(*(c.get("/openapi.json") for c in clients))
        go = asyncio.Event()

        async def one(client: httpx.AsyncClient, req: tuple[Actor, str, str, Any]) -> int:
            actor, method, url, body = req
            await go.wait()
            response = await client.request(method, url, headers=auth(actor), json=body)
            assert response.status_code < 500, response.text
            if response.status_code != 200:
                assert response.json()["code"] in ("invalid_transition", "not_found"), response.text
            return response.status_code

        tasks = [asyncio.create_task(one(c, r)) for c, r in zip(clients, requests, strict=True)]
        now = time.time()
        await asyncio.sleep(0.05 if release_at is None else max(0.0, release_at(now) - now))
        go.set()
        return list(await asyncio.gather(*tasks))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


def _winners(statuses: list[int], per_order: int) -> list[int]:
    """Index of the single 200 in each order's block of requests (asserting there is one)."""
    winners = []
    for start in range(0, len(statuses), per_order):
        block = statuses[start : start + per_order]
        assert block.count(200) == 1, block
        winners.append(block.index(200))
    return winners


async def test_races_have_exactly_one_winner_and_a_clean_history(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30.0) as client:
        api = Api(client, "live")
        customers = [api.customer() for _ in range(ORDERS)]
        orders = [await api.place(c) for c in customers]
        rest = api.restaurant()
        acknowledged: dict[str, list[str]] = {o["id"]: ["ORDER_PLACED"] for o in orders}

        # round 1: confirm racing reject
        reqs = []
        for o in orders:
            oid = o["id"]
            reqs += [(rest, "POST", f"/api/restaurants/orders/{oid}/confirm/", None)] * PER_SIDE
            reqs += [
                (rest, "POST", f"/api/restaurants/orders/{oid}/reject/", {"reason": "busy"})
            ] * PER_SIDE
        assert len(reqs) >= 100
        won = _winners(await _race(live_server, reqs), 2 * PER_SIDE)
        confirmed = []
        for o, w in zip(orders, won, strict=True):
            if w < PER_SIDE:
                acknowledged[o["id"]] += ["ORDER_CONFIRMED", "DELIVERY_PARTNER_ASSIGNED"]
                confirmed.append(o)
            else:
                acknowledged[o["id"]].append("RESTAURANT_REJECTED")
        assert confirmed, "no confirm won any race; nothing left to race"

        # round 2: the restaurant starting to cook racing the customer cancelling
        reqs = []
        for o in confirmed:
            oid = o["id"]
            reqs += [(rest, "POST", f"/api/restaurants/orders/{oid}/start-preparing/", None)] * (
                PER_SIDE
            )
            reqs += [
                (o["_customer"], "POST", f"/api/orders/{oid}/cancel/", {"reason": "race"})
            ] * PER_SIDE
        won = _winners(await _race(live_server, reqs), 2 * PER_SIDE)
        cooking = []
        for o, w in zip(confirmed, won, strict=True):
            if w < PER_SIDE:
                acknowledged[o["id"]].append("PREPARING")
                cooking.append(o)
            else:
                acknowledged[o["id"]].append("CANCELLED")

        # round 3: everyone marks ready at once; then the assigned rider's pickups race an
        # intruding rider (who must not even see the order)
        for o in cooking:
            await api.ok(rest, "POST", f"/api/restaurants/orders/{o['id']}/mark-ready/")
            acknowledged[o["id"]].append("READY_FOR_PICKUP")
        reqs = []
        for o in cooking:
            oid = o["id"]
            rider = await api.assigned_rider(oid)
            code = await api.otp(oid, "pickup")
            intruder = api.other_rider(rider.user_id)
            reqs += [(rider, "POST", f"/api/orders/{oid}/pickup/", {"otp": code})] * PER_SIDE
            reqs += [(intruder, "POST", f"/api/orders/{oid}/pickup/", {"otp": code})] * PER_SIDE
        if reqs:
            won = _winners(await _race(live_server, reqs), 2 * PER_SIDE)
            assert all(w < PER_SIDE for w in won)
            for o in cooking:
                acknowledged[o["id"]].append("ORDER_PICKED_UP")

        for o in orders:
            history = await api.ok(api.system, "GET", f"/api/orders/{o['id']}/history/")
            entries = history["history"]
            assert [h["status"] for h in entries] == acknowledged[o["id"]]
            assert len({h["id"] for h in entries}) == len(entries)
            assert not [s for s, n in Counter(h["status"] for h in entries).items() if n > 1]
