"""A real `orderflow serve --dispatch rolling_horizon --dispatch-option interval_min=0.05` (a round
every 3 wall seconds) through the HTTP API and the WebSocket: a confirmed order waits for the next
round rather than getting a rider at confirmation; with one rider, two orders of one restaurant
going to neighbouring customers become one bundle, each order keeping its own OTPs and history
and delivered in the sequence the server chose; and many clients racing the same transitions
while rounds assign riders still see exactly one winner per race."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from reference_api.roles import Actor
from tests.server.harness import Api, LiveServer, token
from tests.server.test_concurrency import _race, _winners

pytestmark = pytest.mark.anyio

INTERVAL_S = 3.0  # interval_min=0.05
ROLLING = ("--dispatch", "rolling_horizon", "--dispatch-option", "interval_min=0.05")
#: The restaurant's estimate: one minute, shorter than any fixture rider's ride to vendor 0 (at
#: least 1.26 km, five minutes), so a round commits the assignment at once instead of holding
#: it for a round nearer the food's ready time.
PREP_MIN = 1
KM_PER_DEG = 111.2


@pytest.fixture
def one_rider(tmp_path: Path) -> Iterator[LiveServer]:
    with LiveServer(tmp_path / "one.db", *ROLLING, riders=1) as server:
        yield server


@pytest.fixture
def eight_riders(tmp_path: Path) -> Iterator[LiveServer]:
    # any two orders of vendor 0 may share a rider, so the race runs against bundles too
    stack = ("--dispatch-option", "stack_km=50")
    with LiveServer(tmp_path / "eight.db", *ROLLING, *stack, riders=8) as server:
        yield server


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _next_round(now: float | None = None) -> float:
    """The first round strictly after ``now``: rounds fall on multiples of the interval."""
    now = time.time() if now is None else now
    return (math.floor(now / INTERVAL_S) + 1) * INTERVAL_S


async def _just_after_a_round(lead: float = 0.3) -> float:
    """Sleep until ``lead`` seconds after a round; the next is then ``INTERVAL_S - lead`` away."""
    now = time.time()
    start = _next_round(now) - INTERVAL_S + lead
    if start < now:
        start += INTERVAL_S
    await asyncio.sleep(start - now)
    return start + INTERVAL_S - lead


def _near_vendor(api: Api, km_north: float) -> dict[str, Any]:
    vendor = api.fx.vendors[0]
    return {
        "title": "Home",
        "address_line_1": f"{km_north} km north of {vendor.name}",
        "latitude": round(vendor.latitude + km_north / KM_PER_DEG, 6),
        "longitude": vendor.longitude,
    }


async def _place_at(api: Api, customer: Actor, address: dict[str, Any]) -> dict[str, Any]:
    body = {
        "vendor": api.fx.vendors[0].id,
        "items": [{"name": "Margherita", "quantity": 1, "unit_price": "374.00"}],
        "delivery_address": address,
        "payment_method": "cod",
    }
    response = await api.call(customer, "POST", "/api/orders/", json=body)
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


async def _confirm(api: Api, oid: str) -> dict[str, Any]:
    url = f"/api/restaurants/orders/{oid}/confirm/"
    body = {"estimated_prep_time": PREP_MIN}
    confirmed: dict[str, Any] = await api.ok(api.restaurant(), "POST", url, json=body)
    return confirmed


async def _detail(api: Api, oid: str) -> dict[str, Any]:
    detail: dict[str, Any] = await api.ok(api.system, "GET", f"/api/orders/{oid}/")
    return detail


async def _wait_for_rider(api: Api, oid: str, within: float) -> tuple[float, dict[str, Any]]:
    """Poll the order until it names a rider: when that was first seen, and the order."""
    deadline = time.time() + within
    while True:
        detail = await _detail(api, oid)
        if detail["delivery_person"]:
            return time.time(), detail
        assert time.time() < deadline, f"no rider within {within} s: {detail}"
        await asyncio.sleep(0.05)


async def _history(api: Api, oid: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = (
        await api.ok(api.system, "GET", f"/api/orders/{oid}/history/")
    )["history"]
    return entries


async def _events_until_assigned(ws: ClientConnection) -> list[dict[str, Any]]:
    events = []
    while True:
        event = json.loads(await asyncio.wait_for(ws.recv(), 10))
        events.append(event)
        if event["event_type"] == "order.assigned":
            return events


def _ws_url(server: LiveServer, oid: str, who: Actor) -> str:
    return server.url.replace("http://", "ws://") + f"/ws/orders/{oid}/?token={token(who)}"


async def test_an_order_gets_its_rider_at_the_next_round_not_at_confirmation(
    one_rider: LiveServer,
) -> None:
    async with httpx.AsyncClient(base_url=one_rider.url, timeout=10.0) as client:
        api = Api(client, "live")
        customer = api.customer()
        order = await api.place(customer)
        oid = order["id"]
        rest = api.restaurant()

        next_round = await _just_after_a_round()
        confirmed_at = time.time()
        confirmed = await _confirm(api, oid)
        assert confirmed["status"] == "RESTAURANT_CONFIRMED"
        waiting = await _detail(api, oid)
        assert waiting["delivery_person"] is None and waiting["bundle"] is None
        assert time.time() < next_round - 0.5  # that read was well before the round
        seen_at, detail = await _wait_for_rider(api, oid, within=3 * INTERVAL_S)
        assert seen_at >= next_round - 0.05, (seen_at, next_round)  # not before the round
        assert seen_at - confirmed_at >= INTERVAL_S / 2
        assert detail["bundle"] is None  # alone: nothing else waited
        history = await _history(api, oid)
        assert [h["status"] for h in history] == [
            "ORDER_PLACED",
            "ORDER_CONFIRMED",
            "DELIVERY_PARTNER_ASSIGNED",
        ]
        assigned = _epoch(history[2]["created_at"])
        assert assigned > _epoch(history[1]["created_at"])
        assert assigned % INTERVAL_S <= 1.0, history[2]  # at a round (second precision)
        assert "bundle" not in history[2]["metadata"]
        rider = api.rider(detail["delivery_person"])

        # the rest of the journey, as under every strategy
        assert (await api.ok(rest, "POST", f"/api/restaurants/orders/{oid}/start-preparing/"))[
            "status"
        ] == "PREPARING"
        await api.ok(rest, "POST", f"/api/restaurants/orders/{oid}/mark-ready/")
        code = await api.otp(oid, "pickup")
        picked = await api.ok(rider, "POST", f"/api/orders/{oid}/pickup/", json={"otp": code})
        assert picked["status"] == "ORDER_PICKED_UP"
        await api.ok(rider, "POST", f"/api/orders/{oid}/start-delivery/")
        code = await api.otp(oid, "delivery")
        done = await api.ok(
            rider, "POST", f"/api/orders/{oid}/complete-delivery/", json={"otp": code}
        )
        assert done["status"] == "DELIVERED"
        statuses = [h["status"] for h in await _history(api, oid)]
        assert statuses[3:] == [
            "PREPARING",
            "READY_FOR_PICKUP",
            "ORDER_PICKED_UP",
            "OUT_FOR_DELIVERY",
            "DELIVERED",
        ]
        here = {"latitude": 19.08, "longitude": 72.88}
        me = await api.ok(rider, "POST", "/api/riders/me/location/", json=here)
        assert me["current_order"] is None and me["current_orders"] == []


async def test_two_orders_of_one_restaurant_share_the_only_rider_in_sequence(
    one_rider: LiveServer,
) -> None:
    async with httpx.AsyncClient(base_url=one_rider.url, timeout=10.0) as client:
        api = Api(client, "live")
        rest = api.restaurant()
        far_customer, near_customer = api.customer(), api.customer()
        # placed farther first: the server delivers the nearer customer first all the same
        far = (await _place_at(api, far_customer, _near_vendor(api, 2.3)))["id"]
        near = (await _place_at(api, near_customer, _near_vendor(api, 2.0)))["id"]
        sockets = [
            await connect(_ws_url(one_rider, far, far_customer)),
            await connect(_ws_url(one_rider, near, near_customer)),
        ]
        try:
            next_round = await _just_after_a_round()
            for oid in (far, near):
                await _confirm(api, oid)
            for oid in (far, near):
                assert (await _detail(api, oid))["delivery_person"] is None
            assert time.time() < next_round - 0.5
            await _wait_for_rider(api, far, within=3 * INTERVAL_S)
            events = [await _events_until_assigned(ws) for ws in sockets]
        finally:
            for ws in sockets:
                await ws.close()

        details = {oid: await _detail(api, oid) for oid in (far, near)}
        riders = {d["delivery_person"] for d in details.values()}
        assert len(riders) == 1 and None not in riders
        rider = api.rider(riders.pop())
        bundle = details[near]["bundle"]
        assert bundle["orders"] == [near, far] and bundle["position"] == 1
        assert details[far]["bundle"] == {**bundle, "position": 2}
        rounds = set()
        for oid, ws_events in zip((far, near), events, strict=True):
            assigned = ws_events[-1]
            assert assigned["order_id"] == oid and assigned["delivery_person"] == rider.user_id
            assert assigned["bundle"] == {"id": bundle["id"], "orders": [near, far]}
            history = await _history(api, oid)
            entry = history[-1]
            assert entry["status"] == "DELIVERY_PARTNER_ASSIGNED"
            assert entry["metadata"]["bundle"] == {"id": bundle["id"], "orders": [near, far]}
            rounds.add(_epoch(entry["created_at"]))
        assert len(rounds) == 1 and rounds.pop() % INTERVAL_S <= 1.0  # both at one round
        here = {"latitude": 19.09, "longitude": 72.88}
        me = await api.ok(rider, "POST", "/api/riders/me/location/", json=here)
        assert me["current_orders"] == [near, far] and me["current_order"] == near

        # each order its own kitchen steps and codes; the rider takes them in sequence
        for oid in (near, far):
            await api.ok(rest, "POST", f"/api/restaurants/orders/{oid}/start-preparing/")
            await api.ok(rest, "POST", f"/api/restaurants/orders/{oid}/mark-ready/")
        pickup = {oid: await api.otp(oid, "pickup") for oid in (near, far)}
        if pickup[near] != pickup[far]:  # another order's code is no code for this one
            wrong = await api.call(
                rider, "POST", f"/api/orders/{far}/pickup/", json={"otp": pickup[near]}
            )
            assert wrong.status_code == 400, wrong.text
        for oid in (near, far):
            done = await api.ok(
                rider, "POST", f"/api/orders/{oid}/pickup/", json={"otp": pickup[oid]}
            )
            assert done["status"] == "ORDER_PICKED_UP"
        for oid in (near, far):
            await api.ok(rider, "POST", f"/api/orders/{oid}/start-delivery/")
        for oid, left in ((near, [far]), (far, [])):
            code = await api.otp(oid, "delivery")
            done = await api.ok(
                rider, "POST", f"/api/orders/{oid}/complete-delivery/", json={"otp": code}
            )
            assert done["status"] == "DELIVERED"
            me = await api.ok(rider, "POST", "/api/riders/me/location/", json=here)
            assert me["current_orders"] == left
        for oid in (near, far):
            statuses = [h["status"] for h in await _history(api, oid)]
            assert statuses == [
                "ORDER_PLACED",
                "ORDER_CONFIRMED",
                "DELIVERY_PARTNER_ASSIGNED",
                "PREPARING",
                "READY_FOR_PICKUP",
                "ORDER_PICKED_UP",
                "OUT_FOR_DELIVERY",
                "DELIVERED",
            ]
        # free again: the next order of the restaurant is the rider's at the next round
        another = await _place_at(api, api.customer(), _near_vendor(api, 1.0))
        await _confirm(api, another["id"])
        _, detail = await _wait_for_rider(api, another["id"], within=3 * INTERVAL_S)
        assert detail["delivery_person"] == rider.user_id and detail["bundle"] is None


ORDERS = 12
PER_SIDE = 4  # 12 orders x 8 clients = 96 racing clients per round of the race


async def _race_at(
    server: LiveServer, requests: list[tuple[Actor, str, str, Any]], phase: float
) -> list[int]:
    """``test_concurrency._race``, released ``phase`` seconds after a round (negative: before
    one, so that round's assignments run among the racing requests), once every client has
    its connection open."""

    def release_at(now: float) -> float:
        return math.ceil((now + 0.05 - phase) / INTERVAL_S) * INTERVAL_S + phase

    return await _race(server, requests, release_at)


def _block(i: int, first: Any, second: Any) -> list[Any]:
    """Order ``i``'s racing requests, ``PER_SIDE`` of each side, interleaved (the first side
    leads for even orders, the second for odd ones), so either side may be the first through."""
    return [first if (j + i) % 2 == 0 else second for j in range(2 * PER_SIDE)]


def _first_side(i: int, winner: int) -> bool:
    """Whether the winning request of order ``i``'s block (``_block``) was of the first side."""
    return (winner + i) % 2 == 0


async def test_races_have_exactly_one_winner_while_rounds_assign(
    eight_riders: LiveServer,
) -> None:
    server = eight_riders
    async with httpx.AsyncClient(base_url=server.url, timeout=30.0) as client:
        api = Api(client, "live")
        customers = [api.customer() for _ in range(ORDERS)]
        orders = [await api.place(c) for c in customers]
        rest = api.restaurant()
        acknowledged: dict[str, list[str]] = {o["id"]: ["ORDER_PLACED"] for o in orders}
        prep: dict[str, Any] = {"estimated_prep_time": PREP_MIN}
        Request = tuple[Actor, str, str, Any]

        # confirm racing reject, released just after a round: the confirmed orders wait for
        # the next
        reqs: list[Request] = []
        for i, o in enumerate(orders):
            oid = o["id"]
            reqs += _block(
                i,
                (rest, "POST", f"/api/restaurants/orders/{oid}/confirm/", prep),
                (rest, "POST", f"/api/restaurants/orders/{oid}/reject/", {"reason": "busy"}),
            )
        won = _winners(await _race_at(server, reqs, 0.1), 2 * PER_SIDE)
        confirmed = []
        for i, (o, w) in enumerate(zip(orders, won, strict=True)):
            if _first_side(i, w):
                acknowledged[o["id"]].append("ORDER_CONFIRMED")
                confirmed.append(o)
            else:
                acknowledged[o["id"]].append("RESTAURANT_REJECTED")
        assert confirmed, "no confirm won any race; nothing left to race"

        # the kitchen starting racing the customer cancelling, released as the round that
        # assigns (and bundles) these very orders is due
        reqs = []
        for i, o in enumerate(confirmed):
            oid = o["id"]
            reqs += _block(
                i,
                (rest, "POST", f"/api/restaurants/orders/{oid}/start-preparing/", None),
                (o["_customer"], "POST", f"/api/orders/{oid}/cancel/", {"reason": "race"}),
            )
        won = _winners(await _race_at(server, reqs, -0.02), 2 * PER_SIDE)
        cooking = []
        for i, (o, w) in enumerate(zip(confirmed, won, strict=True)):
            if _first_side(i, w):
                acknowledged[o["id"]].append("PREPARING")
                cooking.append(o)
            else:
                acknowledged[o["id"]].append("CANCELLED")

        # every order still cooking gets a rider at a round; then the restaurant marks each
        # ready from eight clients at once
        riders = {}
        for o in cooking:
            _, detail = await _wait_for_rider(api, o["id"], within=3 * INTERVAL_S)
            riders[o["id"]] = api.rider(detail["delivery_person"])
        reqs = []
        for o in cooking:
            url = f"/api/restaurants/orders/{o['id']}/mark-ready/"
            reqs += [(rest, "POST", url, None)] * (2 * PER_SIDE)
        if reqs:
            _winners(await _race_at(server, reqs, -0.02), 2 * PER_SIDE)
            for o in cooking:
                acknowledged[o["id"]].append("READY_FOR_PICKUP")

        # the assigned rider's pickups racing an intruding rider's (who must not see it)
        reqs = []
        for i, o in enumerate(cooking):
            oid = o["id"]
            rider = riders[oid]
            code = await api.otp(oid, "pickup")
            intruder = api.other_rider(rider.user_id)
            url = f"/api/orders/{oid}/pickup/"
            reqs += _block(
                i, (rider, "POST", url, {"otp": code}), (intruder, "POST", url, {"otp": code})
            )
        if reqs:
            won = _winners(await _race_at(server, reqs, -0.02), 2 * PER_SIDE)
            assert all(_first_side(i, w) for i, w in enumerate(won))
            for o in cooking:
                acknowledged[o["id"]].append("ORDER_PICKED_UP")

        bundles: dict[str, list[str]] = {}
        for o in orders:
            oid = o["id"]
            entries = await _history(api, oid)
            statuses = [h["status"] for h in entries]
            # assignment is the round's, not a racer's: once at most, after confirmation, and
            # for every order that reached the kitchen
            assigned = statuses.count("DELIVERY_PARTNER_ASSIGNED")
            assert assigned <= 1, statuses
            if assigned:
                at = statuses.index("DELIVERY_PARTNER_ASSIGNED")
                assert statuses.index("ORDER_CONFIRMED") < at, statuses
                when = _epoch(entries[at]["created_at"])
                assert when > _epoch(entries[statuses.index("ORDER_CONFIRMED")]["created_at"])
                assert when % INTERVAL_S <= 1.0, entries[at]  # at a round (second precision)
            assert assigned == 1 or o not in cooking, statuses
            assert [s for s in statuses if s != "DELIVERY_PARTNER_ASSIGNED"] == acknowledged[oid]
            assert len({h["id"] for h in entries}) == len(entries)
            assert not [s for s, n in Counter(statuses).items() if n > 1]
            bundle = (await _detail(api, oid))["bundle"]
            if bundle is not None:
                assert bundles.setdefault(bundle["id"], bundle["orders"]) == bundle["orders"]
        for members in bundles.values():
            details = [await _detail(api, oid) for oid in members]
            assert len({d["delivery_person"] for d in details}) == 1, details
