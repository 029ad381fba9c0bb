"""The two ways the server runs service calls: inline on the event loop (the default) and on a
worker thread (``synchronous=FULL``). Both must give the same answers, publish events only
after commit, and roll back and recover on a bug."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from reference_api.events import DomainEvent
from reference_api.http.runner import ServiceRunner
from reference_api.http.server import ServerSettings, build_app, build_service
from reference_api.roles import SYSTEM_ACTOR
from tests.server.harness import SECRET, Api, fixtures

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("synchronous", ["NORMAL", "FULL"])
async def test_a_journey_in_both_modes(tmp_path: Path, synchronous: str) -> None:
    settings = ServerSettings(
        db=str(tmp_path / "m.db"), vendors=2, customers=2, riders=5, synchronous=synchronous
    )
    app = build_app(settings, SECRET)
    assert app.state.runner.offload is (synchronous == "FULL")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            api = Api(client, "inprocess")
            order = await api.place()
            detail = await api.advance(order, ["confirm", "prepare", "ready"])
            rider = api.rider(detail["delivery_person"])
            otp = await api.otp(order["id"], "pickup")
            await api.ok(rider, "POST", f"/api/orders/{order['id']}/pickup/", json={"otp": otp})
            final = await api.ok(api.system, "GET", f"/api/orders/{order['id']}/")
            assert final["order_status"] == "ORDER_PICKED_UP"


@pytest.mark.parametrize("offload", [False, True])
async def test_events_follow_commit_and_bugs_roll_back(tmp_path: Path, offload: bool) -> None:
    service, store = build_service(
        ServerSettings(db=str(tmp_path / "r.db"), vendors=1, customers=1, riders=1), SECRET
    )
    rebuilt: list[bool] = []
    runner = ServiceRunner(service, offload=offload, on_rollback=lambda: rebuilt.append(True))
    batches: list[list[DomainEvent]] = []
    runner.add_listener(batches.append)
    fx = fixtures()

    def place_then_crash() -> Any:
        service.place_order(
            fx.customers[0],
            vendor_id=fx.vendors[0].id,
            items=[{"quantity": 1, "unit_price": "5.00"}],
            delivery_address={"latitude": 19.0, "longitude": 72.8},
        )
        raise RuntimeError("a bug after a write")

    with pytest.raises(RuntimeError):
        await runner.call(place_then_crash)
    assert rebuilt == [True]
    assert (await runner.call(service.list_orders, SYSTEM_ACTOR))["count"] == 0

    order = await runner.call(
        service.place_order,
        fx.customers[0],
        vendor_id=fx.vendors[0].id,
        items=[{"quantity": 1, "unit_price": "5.00"}],
        delivery_address={"latitude": 19.0, "longitude": 72.8},
    )
    assert batches == []
    await runner.call(service.confirm, fx.restaurants[0], order["id"])
    assert [e.event_type for e in batches[-1]] == ["order.status_changed", "order.assigned"]
    runner.close()
    store.close()


async def test_a_bug_is_a_json_500_and_the_server_keeps_going(tmp_path: Path) -> None:
    app = build_app(
        ServerSettings(db=str(tmp_path / "b.db"), vendors=1, customers=400, riders=1), SECRET
    )
    service = app.state.runner.service

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("a genuine bug")

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            api = Api(client, "inprocess")
            order = await api.place()
            real = service.history
            service.history = broken
            response = await api.call(api.system, "GET", f"/api/orders/{order['id']}/history/")
            assert response.status_code == 500
            assert response.json()["code"] == "internal_error"
            assert "KeyError" not in response.text
            service.history = real
            await api.ok(api.system, "GET", f"/api/orders/{order['id']}/history/")
