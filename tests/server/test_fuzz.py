"""Whatever a client sends, the answer is a JSON error with a code, never a 500 (in-process,
Hypothesis generating bodies, ids and query strings for every operation)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio.from_thread
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference_api.endpoints import ENDPOINTS
from reference_api.http.server import ServerSettings, build_app
from reference_api.roles import SYSTEM_ACTOR, Actor
from tests.server.harness import SECRET, auth, fixtures

FX = fixtures()
ACTORS: list[Actor] = [FX.customers[0], FX.restaurants[0], FX.riders[0], SYSTEM_ACTOR]
EXPECTED = {200, 201, 400, 401, 403, 404, 405, 409, 422, 423, 429}
HTTP_OPS = [ep for ep in ENDPOINTS.values() if ep.method != "WS"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()  # unbounded: a bound here once hid two 500s (issue 17)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
# bodies shaped like the real ones, with wrong values where it hurts
field_names = st.sampled_from(
    [
        "vendor", "items", "delivery_address", "payment_method", "quantity", "unit_price",
        "latitude", "longitude", "otp", "type", "reason", "status", "status_code", "metadata",
        "estimated_prep_time", "available", "transaction_id", "delivery_notes", "name",
    ]
)  # fmt: skip
shaped = st.dictionaries(field_names, json_values, max_size=6)
bodies = st.one_of(json_values, shaped)
ascii_header = st.characters(min_codepoint=33, max_codepoint=126)


class SyncAsgiClient:
    """httpx over ``ASGITransport`` driven from synchronous Hypothesis tests: the app and its
    lifespan live on an event loop in a portal thread."""

    def __init__(self, portal: anyio.from_thread.BlockingPortal, app: Any) -> None:
        self._portal = portal
        transport = httpx.ASGITransport(app=app)
        self._client = httpx.AsyncClient(transport=transport, base_url="http://testserver")

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(lambda: self._client.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SyncAsgiClient, list[str]]]:
    db: Path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    app = build_app(ServerSettings(db=str(db), vendors=5, customers=400, riders=300), SECRET)
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(app.router.lifespan_context(app)),
    ):
        c = SyncAsgiClient(portal, app)
        ids = []
        for method in ("cod", "online"):
            body = {
                "vendor": FX.vendors[0].id,
                "items": [{"name": "M", "quantity": 1, "unit_price": "10.00"}],
                "delivery_address": {"latitude": 19.07, "longitude": 72.87},
                "payment_method": method,
            }
            response = c.post("/api/orders/", json=body, headers=auth(FX.customers[0]))
            assert response.status_code == 201
            ids.append(response.json()["id"])
        yield c, ids


def _check(response: Any) -> None:
    assert response.status_code in EXPECTED, (response.status_code, response.text)
    body = response.json()
    if response.status_code >= 400:
        assert isinstance(body["detail"], str) and body["detail"]
        assert isinstance(body["code"], str) and body["code"]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    op=st.sampled_from(HTTP_OPS),
    actor=st.sampled_from(ACTORS),
    body=bodies,
    pick=st.integers(0, 3),
    junk_id=st.text(max_size=40),
)
def test_any_json_body_gets_a_clean_answer(
    client: tuple[SyncAsgiClient, list[str]],
    op: Any,
    actor: Actor,
    body: Any,
    pick: int,
    junk_id: str,
) -> None:
    c, ids = client
    order_id = ids[pick] if pick < len(ids) else quote(junk_id, safe="") or "x"
    url = op.url(order_id)
    response = c.request(op.method, url, json=body, headers=auth(actor))
    _check(response)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=st.binary(max_size=64),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "", "application/x-www-form-urlencoded"]
    ),
    op=st.sampled_from([ep for ep in HTTP_OPS if ep.method == "POST"]),
)
def test_any_bytes_get_a_clean_answer(
    client: tuple[SyncAsgiClient, list[str]], raw: bytes, content_type: str, op: Any
) -> None:
    c, ids = client
    headers = auth(SYSTEM_ACTOR)
    if content_type:
        headers["Content-Type"] = content_type
    _check(c.post(op.url(ids[0]), content=raw, headers=headers))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    params=st.dictionaries(
        st.sampled_from(["status", "include_cancelled", "page", "page_size", "type"]),
        st.text(max_size=12),
        max_size=4,
    ),
    actor=st.sampled_from(ACTORS),
    header=st.one_of(
        st.none(),
        st.text(ascii_header, max_size=30),
        st.text(ascii_header, max_size=60).map(lambda t: "Bearer " + t),
    ),
)
def test_any_query_or_auth_header_gets_a_clean_answer(
    client: tuple[SyncAsgiClient, list[str]],
    params: dict[str, str],
    actor: Actor,
    header: str | None,
) -> None:
    c, ids = client
    headers = auth(actor) if header is None else {"Authorization": header}
    _check(c.get("/api/orders/", params=params, headers=headers))
    _check(c.get(f"/api/orders/{ids[0]}/otp/", params=params, headers=headers))
