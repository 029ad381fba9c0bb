"""A rider's shift end over HTTP and in SQLite (D28), and planar geometry on a server (D27):
``available_until`` on the availability endpoint (a date-time with a time zone; anything else a
422 naming the field), shown in the rider view, persisted in SQLite and added to files written
before it; a server configured with ``metres_per_minute`` taking coordinates in metres under the
same field names."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from reference_api.clock import iso
from reference_api.fixtures import build_fixtures
from reference_api.http.server import ServerSettings, build_app
from reference_api.http.settings import SettingsError, parse_policy
from reference_api.model import Rider
from reference_api.policy import Policy
from reference_api.store.sqlite import SqliteStore
from tests.server.harness import SECRET, Api

pytestmark = pytest.mark.anyio

AVAILABILITY = "/api/riders/me/availability/"
VENDORS, CUSTOMERS, RIDERS = 1, 2, 2


@contextlib.asynccontextmanager
async def served(
    db: Path, *, riders: int = RIDERS, policy: Policy | None = None
) -> AsyncIterator[Api]:
    """The app in-process on a fresh database with a few fixtures."""
    settings = ServerSettings(
        db=str(db),
        vendors=VENDORS,
        customers=CUSTOMERS,
        riders=riders,
        policy=policy or Policy(),
    )
    app = build_app(settings, SECRET)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield Api(c, "inprocess", build_fixtures(VENDORS, CUSTOMERS, riders))


# ====================================================================== the HTTP field
async def test_availability_takes_a_shift_end_and_shows_it(tmp_path: Path) -> None:
    async with served(tmp_path / "api.db") as api:
        rider = api.fx.riders[0]
        lat, lon = api.fx.rider_starts[0]
        body = {"available": True, "latitude": lat, "longitude": lon}
        on = await api.ok(
            rider, "POST", AVAILABILITY, json={**body, "available_until": "2030-01-15T22:00:00Z"}
        )
        assert on["available_until"] == "2030-01-15T22:00:00Z"
        offset = await api.ok(
            rider,
            "POST",
            AVAILABILITY,
            json={**body, "available_until": "2030-01-15T22:00:00.250+05:30"},
        )
        assert offset["available_until"] == "2030-01-15T16:30:00Z"  # the API writes UTC
        endless = await api.ok(rider, "POST", AVAILABILITY, json=body)
        assert endless["available_until"] is None
        await api.ok(rider, "POST", AVAILABILITY, json={**body, "available_until": None})
        await api.ok(
            rider, "POST", AVAILABILITY, json={**body, "available_until": "2030-01-15T22:00:00Z"}
        )
        off = await api.ok(
            rider,
            "POST",
            AVAILABILITY,
            json={"available": False, "available_until": "2030-01-15T22:00:00Z"},
        )
        assert off["available"] is False and off["available_until"] is None  # cleared off duty


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("tomorrow", "date-time"),
        ("2030-01-15T22:00:00", "time zone"),  # no zone: refused, not guessed
        ("2030-02-30T22:00:00Z", "date-time"),
        ("", "date-time"),
        (1_900_000_000, "string"),
        (True, "string"),
    ],
)
async def test_a_bad_shift_end_is_a_422_naming_the_field(
    tmp_path: Path, value: object, says: str
) -> None:
    async with served(tmp_path / "bad.db") as api:
        rider = api.fx.riders[0]
        lat, lon = api.fx.rider_starts[0]
        body = {"available": True, "latitude": lat, "longitude": lon, "available_until": value}
        response = await api.call(rider, "POST", AVAILABILITY, json=body)
        assert response.status_code == 422, response.text
        error = response.json()
        assert error["code"] == "validation_error" and error["field"] == "body.available_until"
        assert says in error["detail"]


async def test_date_times_beyond_what_the_api_writes_are_taken_as_the_nearest(
    tmp_path: Path,
) -> None:
    """Every RFC 3339 date-time the schema allows is accepted (years 1 to 9999)."""
    async with served(tmp_path / "edges.db") as api:
        rider = api.fx.riders[0]
        lat, lon = api.fx.rider_starts[0]
        body = {"available": True, "latitude": lat, "longitude": lon}
        early = await api.ok(
            rider,
            "POST",
            AVAILABILITY,
            json={**body, "available_until": "0001-01-01T00:00:00+01:00"},
        )
        assert early["available_until"] == "1970-01-01T00:00:00Z"
        late = await api.ok(
            rider,
            "POST",
            AVAILABILITY,
            json={**body, "available_until": "9999-12-31T23:59:59-01:00"},
        )
        assert late["available_until"] == "9999-12-31T23:59:59Z"


async def test_a_rider_whose_shift_ends_first_is_not_sent(tmp_path: Path) -> None:
    """One rider, a few kilometres from the restaurant, whose shift ends in a second: the
    confirmed order waits; with the shift extended it is theirs."""
    async with served(tmp_path / "one.db", riders=1) as api:
        rider = api.fx.riders[0]
        lat, lon = api.fx.rider_starts[0]
        soon = iso(time.time() + 1.0)
        body = {"available": True, "latitude": lat, "longitude": lon}
        await api.ok(rider, "POST", AVAILABILITY, json={**body, "available_until": soon})
        order = await api.place(api.fx.customers[0])
        confirmed = await api.advance(order, ["confirm"])
        assert confirmed["delivery_person"] is None
        await api.ok(rider, "POST", AVAILABILITY, json=body)
        detail = await api.ok(api.system, "GET", f"/api/orders/{order['id']}/")
        assert detail["delivery_person"] == rider.user_id


async def test_the_openapi_document_describes_the_shift_end(tmp_path: Path) -> None:
    async with served(tmp_path / "doc.db") as api:
        doc = (await api.client.get("/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    taken = schemas["AvailabilityIn"]["properties"]["available_until"]
    assert {"type": "string", "format": "date-time"}.items() <= taken["anyOf"][0].items()
    shown = schemas["RiderView"]["properties"]["available_until"]
    assert "available_until" in schemas["RiderView"]["required"]
    assert any(s.get("format") == "date-time" for s in shown["anyOf"])


# ====================================================================== planar geometry
async def test_a_planar_server_takes_metres_under_the_same_names(tmp_path: Path) -> None:
    planar = Policy(metres_per_minute=427.0)
    where = {"available": True, "latitude": 4_500.0, "longitude": -12_000.5}
    async with served(tmp_path / "planar.db", policy=planar) as api:
        rider = api.fx.riders[0]
        on = await api.ok(rider, "POST", AVAILABILITY, json=where)
        assert (on["latitude"], on["longitude"]) == ("4500.000000", "-12000.500000")
        moved = await api.call(
            rider, "POST", "/api/riders/me/location/", json={"latitude": 2e8, "longitude": 0.0}
        )
        assert moved.status_code == 422 and moved.json()["field"] == "body.latitude"
    async with served(tmp_path / "spherical.db") as api:
        refused = await api.call(api.fx.riders[0], "POST", AVAILABILITY, json=where)
        assert refused.status_code == 422 and refused.json()["field"] == "body.latitude"


def test_the_planar_pace_and_the_pickup_lead_are_policy_settings() -> None:
    policy = parse_policy(["metres_per_minute=427", "pickup_lead_s=120"])
    assert policy.metres_per_minute == 427.0 and policy.pickup_lead_s == 120.0
    assert policy.geometry.planar
    for bad in ("metres_per_minute=-1", "pickup_lead_s=-5", "metres_per_minute=fast"):
        with pytest.raises(SettingsError, match=bad.split("=")[0]):
            parse_policy([bad])


# ====================================================================== SQLite
def test_a_shift_end_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "riders.db"
    store = SqliteStore(path)
    with store.transaction():
        store.save_rider(Rider("r1", "Rider 1", True, 19.0, 72.8, 5.0, (), 1_705_330_800.5))
        store.save_rider(Rider("r2", "Rider 2", True, 19.0, 72.8, 5.0))
    store.close()
    again = SqliteStore(path)
    first, second = again.get_rider("r1"), again.get_rider("r2")
    assert first is not None and first.available_until == 1_705_330_800.5
    assert second is not None and second.available_until is None
    again.close()


def test_a_file_from_before_shift_ends_opens_with_no_rider_limited(tmp_path: Path) -> None:
    """A riders table of the layout before D28 (no ``available_until``): opening the file adds
    the column, every rider keeps what they had and has no shift end, and one can be set."""
    path = tmp_path / "before-shifts.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE riders (id TEXT PRIMARY KEY, name TEXT NOT NULL,"
        " available INTEGER NOT NULL, latitude REAL, longitude REAL,"
        " location_updated_at REAL, order_ids TEXT NOT NULL);"
        "INSERT INTO riders VALUES ('r1', 'Rider 1', 1, 19.0, 72.8, 5.0, '[\"o1\"]');"
        "INSERT INTO riders VALUES ('r2', 'Rider 2', 0, NULL, NULL, NULL, '[]');"
    )
    db.commit()
    db.close()

    store = SqliteStore(path)
    first, second = store.get_rider("r1"), store.get_rider("r2")
    assert first == Rider("r1", "Rider 1", True, 19.0, 72.8, 5.0, ("o1",), None)
    assert second == Rider("r2", "Rider 2", False)
    with store.transaction():
        first.available_until = 1_705_330_800.0
        store.save_rider(first)
    store.close()
    again = SqliteStore(path)
    reopened = again.get_rider("r1")
    assert reopened is not None and reopened.available_until == 1_705_330_800.0
    again.close()
