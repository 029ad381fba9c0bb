"""The stored detail document: written with every write of an order, byte for byte what the
service renders from the aggregate, served to the callers who may see the order (404 otherwise,
as before), and never stale: an older database gains the column, and a change of the rendered
format drops every stored document."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from reference_api.http.detail import DetailReader, render_detail
from reference_api.http.server import ServerSettings, build_app
from reference_api.model import Order
from reference_api.store.sqlite import SqliteStore, order_from_json
from tests.server.harness import SECRET, Api

pytestmark = pytest.mark.anyio


def _settings(db: Path) -> ServerSettings:
    return ServerSettings(db=str(db), vendors=2, customers=4, riders=3)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Api, DetailReader, SqliteStore]]:
    app = build_app(_settings(tmp_path / "d.db"), SECRET)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield Api(client, "inprocess"), app.state.detail_reader, app.state.runner.service.store


def _rows(store: SqliteStore) -> list[tuple[str, str, bytes | None]]:
    return store._db.execute("SELECT id, data, detail FROM orders ORDER BY seq").fetchall()


def _assert_documents_match_aggregates(store: SqliteStore) -> int:
    rows = _rows(store)
    for _, data, detail in rows:
        assert detail is not None
        assert detail == render_detail(order_from_json(data))
    return len(rows)


async def _journeys(api: Api) -> list[str]:
    """Orders left in many states: delivered, cancelled and refunded, in the kitchen, placed."""
    customer = api.fx.customers[0]
    delivered = await api.place(customer, method="online")
    oid = delivered["id"]
    await api.ok(api.system, "POST", f"/api/orders/{oid}/payment/", json={"status": "success"})
    await api.advance(delivered, ["confirm", "prepare", "ready"])
    rider = await api.assigned_rider(oid)
    otp = await api.otp(oid, "pickup")
    await api.ok(rider, "POST", f"/api/orders/{oid}/pickup/", json={"otp": otp})
    await api.ok(rider, "POST", f"/api/orders/{oid}/start-delivery/")
    otp = await api.otp(oid, "delivery")
    await api.ok(
        rider,
        "POST",
        f"/api/orders/{oid}/complete-delivery/",
        json={"otp": otp, "delivery_notes": "left at the door"},
    )
    refunded = await api.place(api.fx.customers[1], method="online")
    await api.ok(
        api.system, "POST", f"/api/orders/{refunded['id']}/payment/", json={"status": "success"}
    )
    await api.advance(refunded, ["confirm"])
    await api.ok(
        api.fx.customers[1],
        "POST",
        f"/api/orders/{refunded['id']}/cancel/",
        json={"reason": "changed my mind"},
    )
    cooking = await api.place(api.fx.customers[2])
    await api.advance(cooking, ["confirm", "prepare"])
    placed = await api.place(api.fx.customers[3], vendor=1)
    return [oid, refunded["id"], cooking["id"], placed["id"]]


async def test_documents_are_the_rendered_aggregate_and_the_get_body(
    served: tuple[Api, DetailReader, SqliteStore],
) -> None:
    api, reader, store = served
    ids = await _journeys(api)
    assert _assert_documents_match_aggregates(store) == len(ids)
    stored = reader.stored_reads
    for oid in ids:
        response = await api.call(api.system, "GET", f"/api/orders/{oid}/")
        assert response.status_code == 200
        row = store.order_detail_row(oid)
        assert row is not None
        assert response.content == row[3]
        assert response.headers["content-type"] == "application/json"
    assert reader.stored_reads == stored + len(ids)


async def test_owners_see_the_document_others_get_the_same_404(
    served: tuple[Api, DetailReader, SqliteStore],
) -> None:
    api, _, store = served
    order = await api.place(api.fx.customers[0])
    oid = order["id"]
    await api.advance(order, ["confirm"])
    rider = await api.assigned_rider(oid)
    row = store.order_detail_row(oid)
    assert row is not None
    for actor in (api.fx.customers[0], api.restaurant(0), rider, api.system):
        response = await api.call(actor, "GET", f"/api/orders/{oid}/")
        assert response.status_code == 200
        assert response.content == row[3]
    strangers = (api.fx.customers[1], api.restaurant(1), api.other_rider(rider.user_id))
    missing = await api.call(api.system, "GET", "/api/orders/00000000-0000-4000-8000-000000000000/")
    assert missing.status_code == 404
    for actor in strangers:
        response = await api.call(actor, "GET", f"/api/orders/{oid}/")
        assert response.status_code == 404
        body: dict[str, Any] = response.json()
        assert body == {**missing.json(), "detail": f"order {oid} not found"}


async def test_an_older_database_gains_the_column_and_is_served_the_same(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    app = build_app(_settings(db), SECRET)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            api = Api(client, "inprocess")
            ids = await _journeys(api)
            before = [(await api.call(api.system, "GET", f"/api/orders/{i}/")).content for i in ids]
    with sqlite3.connect(db) as conn:  # as a database from before the column
        conn.execute("ALTER TABLE orders DROP COLUMN detail")
        conn.execute("DELETE FROM meta")
    conn.close()

    app = build_app(_settings(db), SECRET)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            api = Api(client, "inprocess")
            reader: DetailReader = app.state.detail_reader
            after = [(await api.call(api.system, "GET", f"/api/orders/{i}/")).content for i in ids]
            assert after == before
            assert reader.stored_reads == 0  # rendered from the aggregate: no document yet
            await api.advance({"id": ids[3]}, ["confirm"], vendor=1)  # a write stores one
            store: SqliteStore = app.state.runner.service.store
            row = store.order_detail_row(ids[3])
            assert row is not None and row[3] is not None


def test_a_new_rendered_format_drops_every_stored_document(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    app = build_app(_settings(db), SECRET)
    service = app.state.runner.service
    fx = build_fixtures_for_test()
    service.place_order(
        fx.customers[0],
        vendor_id=fx.vendors[0].id,
        items=[{"name": "Margherita", "quantity": 1, "unit_price": "374.00"}],
        delivery_address={"latitude": 19.07, "longitude": 72.87},
    )
    store: SqliteStore = service.store
    assert all(detail is not None for _, _, detail in _rows(store))
    store.close()

    same = SqliteStore(db, render_detail=render_detail)
    assert all(detail is not None for _, _, detail in _rows(same))
    same.close()

    def renamed(order: Order) -> bytes:
        return orjson.dumps({**orjson.loads(render_detail(order)), "new_field": 1})

    changed = SqliteStore(db, render_detail=renamed)
    assert [detail for _, _, detail in _rows(changed)] == [None]
    changed.close()
    without = SqliteStore(db)  # a store that renders nothing keeps nothing it could leave stale
    assert without.order_detail_row(_rows(without)[0][0]) is not None
    without.close()


def build_fixtures_for_test() -> Any:
    from reference_api.http.server import build_fixtures_for

    return build_fixtures_for(_settings(Path("unused")))
