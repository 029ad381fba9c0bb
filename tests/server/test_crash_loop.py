"""Soak and crash loop: journeys run against `orderflow serve` while it is killed with SIGKILL at
random moments and restarted on the same SQLite file, many times over; then every transition the
server acknowledged must be in the database, every history must be a legal path, the timers armed
before a kill must have fired after a restart, and a long steady run on the last server must not
grow its memory.

Bounded: a fixed number of lives, each a fraction of a second to a second long, then one steady
run of a fixed number of journeys; every request goes to a server on 127.0.0.1 this test started.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx
import psutil
import pytest

from reference_api.roles import Actor
from reference_api.statuses import DELIVERY_PARTNER_ASSIGNED, TRANSITIONS, OrderStatus
from tests.server.harness import Api, LiveServer, token

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

S = OrderStatus
KILLS = 24
WORKERS = 8
#: How long each server life lasts before its SIGKILL, drawn per life (seconds).
LIFE_S = (0.25, 1.0)
#: Short enough that most orders left unconfirmed outlive the server that armed their timer.
CONFIRM_TIMEOUT_S = 2.5
REFUND_STEP_S = 0.5
POLICY = (
    "--policy", f"confirm_timeout_s={CONFIRM_TIMEOUT_S}",
    "--policy", f"refund_processing_delay_s={REFUND_STEP_S}",
    "--policy", f"refund_settle_delay_s={REFUND_STEP_S}",
)  # fmt: skip
#: Journey kinds and their weights: delivered on cash, paid online then cancelled (two refund
#: timers), placed and forgotten (the confirm timeout cancels it).
KINDS: tuple[str, ...] = ("cod", "refund", "forgotten")
WEIGHTS: tuple[int, ...] = (6, 2, 2)
#: The steady run: phases of complete journeys on the last server, RSS sampled after each.
PHASES = 6
PHASE_JOURNEYS = 150
#: Allowed RSS growth from the end of phase 2 to the end of the last phase, per journey run in
#: between. The first phases fill what is bounded (SQLite's page cache, the token cache, the
#: allocator's arenas); after them, keeping even the smallest trace of a journey in memory, its
#: rendered detail document, would exceed this, and its order aggregate several times over.
RSS_BYTES_PER_JOURNEY = 1024
TERMINAL = frozenset({S.DELIVERED, S.CANCELLED, S.REFUND_COMPLETED, S.PAYMENT_FAILED})

Step = Callable[["Journey"], Awaitable[OrderStatus | None]]


class KeyedApi(Api):
    """Uses one token per actor for the whole test (``headers`` is shared), so the server's
    token cache holds one entry per actor and the RSS samples measure orders, not an ever
    growing set of fresh tokens."""

    headers: ClassVar[dict[str, dict[str, str]]] = {}

    def __init__(self, client: httpx.AsyncClient) -> None:
        super().__init__(client, "live")

    async def call(
        self, actor: Actor | None, method: str, url: str, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if actor is not None:
            known = self.headers.get(actor.user_id)
            if known is None:
                known = self.headers[actor.user_id] = {
                    "Authorization": f"Bearer {token(actor, ttl=3600.0)}"
                }
            headers.update(known)
        return await self.client.request(method, url, headers=headers, **kwargs)


@dataclass
class Journey:
    kind: str
    customer: Actor
    order_id: str = ""
    attempts: int = 0


@dataclass
class Ledger:
    """What the servers acknowledged, and when each life ended."""

    rng: random.Random
    acked: dict[str, list[OrderStatus]] = field(default_factory=dict)
    #: (order id, wall time the server acknowledged it, life it was acknowledged in)
    forgotten: list[tuple[str, float, int]] = field(default_factory=list)
    refunds: list[tuple[str, float, int]] = field(default_factory=list)
    kills: list[float] = field(default_factory=list)
    pending: list[Journey] = field(default_factory=list)
    finished: int = 0
    resumed: int = 0
    life: int = 0

    def ack(self, order_id: str, status: OrderStatus) -> None:
        self.acked.setdefault(order_id, []).append(status)

    def new_journey(self, api: Api) -> Journey:
        return Journey(self.rng.choices(KINDS, WEIGHTS)[0], api.customer())


class Driver:
    """Moves one journey's order a step at a time from the status the server last reported, so
    a journey cut by a kill resumes on the next server from wherever its order really is."""

    def __init__(self, api: Api, ledger: Ledger) -> None:
        self.api = api
        self.ledger = ledger
        self.rest = api.restaurant()
        self.steps: dict[tuple[str, OrderStatus], Step] = {
            ("cod", S.ORDER_PLACED): self._action("confirm", S.ORDER_CONFIRMED),
            ("cod", S.ORDER_CONFIRMED): self._action("start-preparing", S.PREPARING),
            ("cod", S.PREPARING): self._action("mark-ready", S.READY_FOR_PICKUP),
            ("cod", S.READY_FOR_PICKUP): self._pickup,
            ("cod", S.ORDER_PICKED_UP): self._start_delivery,
            ("cod", S.OUT_FOR_DELIVERY): self._complete,
            ("refund", S.PAYMENT_PENDING): self._pay,
            ("refund", S.PAYMENT_SUCCESS): self._cancel,
        }

    async def run(self, journey: Journey) -> None:
        if not journey.order_id:
            status = await self._place(journey)
        else:  # resumed: the request the kill cut may have been committed or not
            status = await self._status(journey)
        while status is not None and status not in TERMINAL:
            if journey.kind == "forgotten":
                return
            step = self.steps.get((journey.kind, status))
            assert step is not None, (journey, status)
            moved = await step(journey)
            if moved is None:  # refused (an auto-cancel won a race, no rider yet): look again
                journey.attempts += 1
                assert journey.attempts < 50, journey
                await asyncio.sleep(0.02)
                status = await self._status(journey)
            else:
                self.ledger.ack(journey.order_id, moved)
                status = moved
        self.ledger.finished += 1

    async def _status(self, journey: Journey) -> OrderStatus:
        detail = await self.api.ok(self.api.system, "GET", f"/api/orders/{journey.order_id}/")
        return OrderStatus(detail["order_status"])

    async def _place(self, journey: Journey) -> OrderStatus:
        method = "online" if journey.kind == "refund" else "cod"
        order = await self.api.place(journey.customer, method=method)
        journey.order_id = order["id"]
        status = OrderStatus(order["order_status"])
        self.ledger.ack(journey.order_id, status)
        if journey.kind == "forgotten":
            self.ledger.forgotten.append((journey.order_id, time.time(), self.ledger.life))
        return status

    async def _post(self, actor: Actor, url: str, **kwargs: Any) -> bool:
        response = await self.api.call(actor, "POST", url, **kwargs)
        assert response.status_code < 500, (url, response.text)
        return response.status_code in (200, 201)

    def _action(self, name: str, target: OrderStatus) -> Step:
        async def step(journey: Journey) -> OrderStatus | None:
            url = f"/api/restaurants/orders/{journey.order_id}/{name}/"
            return target if await self._post(self.rest, url) else None

        return step

    async def _rider(self, journey: Journey) -> Actor | None:
        detail = await self.api.ok(self.api.system, "GET", f"/api/orders/{journey.order_id}/")
        rider = detail["delivery_person"]
        return None if not rider else self.api.rider(rider)

    async def _pickup(self, journey: Journey) -> OrderStatus | None:
        rider = await self._rider(journey)
        if rider is None:
            return None
        oid = journey.order_id
        otp = await self.api.ok(self.rest, "GET", f"/api/orders/{oid}/otp/?type=pickup")
        ok = await self._post(rider, f"/api/orders/{oid}/pickup/", json={"otp": otp["otp"]})
        return S.ORDER_PICKED_UP if ok else None

    async def _start_delivery(self, journey: Journey) -> OrderStatus | None:
        rider = await self._rider(journey)
        url = f"/api/orders/{journey.order_id}/start-delivery/"
        if rider is None:
            return None
        return S.OUT_FOR_DELIVERY if await self._post(rider, url) else None

    async def _complete(self, journey: Journey) -> OrderStatus | None:
        rider = await self._rider(journey)
        if rider is None:
            return None
        oid = journey.order_id
        otp = await self.api.ok(journey.customer, "GET", f"/api/orders/{oid}/otp/?type=delivery")
        url = f"/api/orders/{oid}/complete-delivery/"
        ok = await self._post(rider, url, json={"otp": otp["otp"]})
        return S.DELIVERED if ok else None

    async def _pay(self, journey: Journey) -> OrderStatus | None:
        url = f"/api/orders/{journey.order_id}/payment/"
        ok = await self._post(self.api.system, url, json={"status": "success"})
        return S.PAYMENT_SUCCESS if ok else None

    async def _cancel(self, journey: Journey) -> OrderStatus | None:
        url = f"/api/orders/{journey.order_id}/cancel/"
        if not await self._post(journey.customer, url, json={"reason": "soak"}):
            return None
        self.ledger.refunds.append((journey.order_id, time.time(), self.ledger.life))
        return S.CANCELLED


async def _worker(driver: Driver, ledger: Ledger, stop: asyncio.Event, quota: list[int]) -> None:
    """Resume cut journeys first, then start new ones until ``stop`` (or the quota) says no."""
    while True:
        if ledger.pending:
            journey = ledger.pending.pop()
        elif stop.is_set() or quota[0] <= 0:
            return
        else:
            quota[0] -= 1
            journey = ledger.new_journey(driver.api)
        try:
            await driver.run(journey)
        except httpx.TransportError:  # killed under us: resume it on the next server
            ledger.pending.append(journey)
            ledger.resumed += 1
            return


async def _drive(server: LiveServer, ledger: Ledger, quota: int, life_s: float | None) -> None:
    """Run workers against ``server``; with ``life_s`` kill it after that long, else run until
    ``quota`` new journeys (and every pending one) are done."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10.0) as client:
        api = KeyedApi(client)
        driver = Driver(api, ledger)
        stop = asyncio.Event()
        left = [quota]
        tasks = [asyncio.create_task(_worker(driver, ledger, stop, left)) for _ in range(WORKERS)]
        if life_s is None:
            await asyncio.wait_for(asyncio.gather(*tasks), 120)
            return
        await asyncio.sleep(life_s)
        server.kill()  # SIGKILL with requests in flight
        ledger.kills.append(time.time())
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)


def _path(history: list[dict[str, Any]]) -> list[OrderStatus]:
    """The status changes a history records, checked against ``TRANSITIONS``.

    Besides changes a history holds notes: the rider's assignment (tracking only, D2), the
    refund's progress (an entry in the status the order already has), and checkout's own pair
    for an online order, placed and then awaiting payment at the same moment.
    """
    entries = [h for h in history if h["status"] != DELIVERY_PARTNER_ASSIGNED]
    assert entries and entries[0]["status"] == S.ORDER_PLACED, history
    if len(entries) > 1 and entries[1]["status"] == S.PAYMENT_PENDING:
        entries = entries[1:]
    path = [OrderStatus(entries[0]["status"])]
    for entry in entries[1:]:
        status = OrderStatus(entry["status"])
        if status == path[-1]:
            assert "refund_status" in (entry["metadata"] or {}), history
            continue
        assert status in TRANSITIONS[path[-1]], history
        path.append(status)
    return path


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _fired_after_a_kill(
    armed: list[tuple[str, float, int]], kills: list[float], delay: float
) -> list[str]:
    """Orders whose timer was due only after the life that armed it had been killed."""
    return [oid for oid, at, life in armed if life < len(kills) and kills[life] < at + delay]


async def test_crash_loop_loses_no_acknowledged_transition(tmp_path: Path) -> None:
    db = tmp_path / "soak.db"
    ledger = Ledger(random.Random(17))
    started = time.monotonic()
    for life in range(KILLS):
        ledger.life = life
        server = LiveServer(db, *POLICY).start()
        try:
            await _drive(server, ledger, quota=10_000, life_s=ledger.rng.uniform(*LIFE_S))
        finally:
            server.stop()
    crash_s = time.monotonic() - started
    assert len(ledger.kills) == KILLS
    crash_transitions = sum(len(v) for v in ledger.acked.values())

    ledger.life = KILLS
    with LiveServer(db, *POLICY) as server:
        assert server.proc is not None
        process = psutil.Process(server.proc.pid)
        await _drive(server, ledger, quota=0, life_s=None)  # finish every cut journey
        assert not ledger.pending
        rss: list[int] = []
        for _ in range(PHASES):
            await _drive(server, ledger, quota=PHASE_JOURNEYS, life_s=None)
            rss.append(process.memory_info().rss)
        stored = await _check(server, db, ledger)
    growth = (rss[-1] - rss[1]) / ((PHASES - 2) * PHASE_JOURNEYS)
    transitions = sum(len(v) for v in ledger.acked.values())
    print(
        f"\ncrash loop: {KILLS} kills in {crash_s:.1f} s, {crash_transitions} transitions "
        f"acknowledged during it, {ledger.resumed} journeys cut and resumed; in all "
        f"{len(stored)} orders stored ({len(stored - set(ledger.acked))} never acknowledged), "
        f"{transitions} acknowledged transitions, 0 lost; "
        f"confirm timeouts fired after a restart "
        f"{len(_fired_after_a_kill(ledger.forgotten, ledger.kills, CONFIRM_TIMEOUT_S))}"
        f"/{len(ledger.forgotten)}, refunds finished after a restart "
        f"{len(_fired_after_a_kill(ledger.refunds, ledger.kills, 2 * REFUND_STEP_S))}"
        f"/{len(ledger.refunds)}; RSS per phase (MiB) "
        f"{[round(r / 2**20, 2) for r in rss]}, {growth:.0f} B/journey after phase 2"
    )
    assert growth < RSS_BYTES_PER_JOURNEY, rss


async def _check(server: LiveServer, db: Path, ledger: Ledger) -> set[str]:
    """Every acknowledged transition stored, every history legal, every timer fired; returns
    the ids of the orders in the database."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM orders")}
    assert set(ledger.acked) <= stored
    deadline = time.monotonic() + CONFIRM_TIMEOUT_S + 10
    async with httpx.AsyncClient(base_url=server.url, timeout=10.0) as client:
        api = KeyedApi(client)

        async def history(oid: str) -> list[dict[str, Any]]:
            doc = await api.ok(api.system, "GET", f"/api/orders/{oid}/history/")
            entries: list[dict[str, Any]] = doc["history"]
            return entries

        async def settled(oid: str, final: OrderStatus) -> list[dict[str, Any]]:
            while True:  # the last lives' timers may still be due
                entries = await history(oid)
                if entries[-1]["status"] == final or time.monotonic() > deadline:
                    return entries
                await asyncio.sleep(0.1)

        lost: list[tuple[str, OrderStatus]] = []
        for oid in sorted(stored):
            statuses = _path(await history(oid))
            lost.extend((oid, s) for s in ledger.acked.get(oid, []) if s not in statuses)
        assert lost == []

        for oid, acked_at, _ in ledger.forgotten:
            entries = await settled(oid, S.CANCELLED)
            last = entries[-1]
            assert last["status"] == S.CANCELLED, (oid, entries)
            assert last["metadata"]["auto"] == "confirm_timeout", last
            # never early: stored times are whole seconds
            assert _epoch(last["created_at"]) >= int(acked_at + CONFIRM_TIMEOUT_S) - 1, last
        for oid, _, _ in ledger.refunds:
            entries = await settled(oid, S.REFUND_COMPLETED)
            assert entries[-1]["status"] == S.REFUND_COMPLETED, (oid, entries)
    late = _fired_after_a_kill(ledger.forgotten, ledger.kills, CONFIRM_TIMEOUT_S)
    assert len(late) >= KILLS // 2, (len(late), len(ledger.forgotten))
    return stored
