"""Numbers of any size, in every field that takes one (issue 17): pages, page sizes, prices,
quantities, minutes, coordinates and the numbers a client may put in ``metadata``.

Each is parsed into a bounded type before it is used, so a value out of range answers 422 naming
the field, never a 5xx. A property test sends unbounded integers, decimals of any magnitude (as
JSON numbers and as strings), floats with NaN and the infinities, number literals longer than
Python will turn into an ``int``, and numbers where a string belongs, to every endpoint with
such a field; the regression tests below pin each 500 it found.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from reference_api.http.server import ServerSettings, build_app
from reference_api.money import MAX_PRICE
from reference_api.roles import SYSTEM_ACTOR, Actor
from reference_api.service.parsing import MAX_METADATA_DEPTH, MAX_PAGE
from tests.server.harness import SECRET, auth, fixtures

FX = fixtures()
CUSTOMER, RESTAURANT, RIDER = FX.customers[0], FX.restaurants[0], FX.riders[0]
#: Every answer a request with one wrong number may get; 5xx never.
EXPECTED = {200, 201, 400, 403, 404, 409, 422}


class Raw(str):
    """A JSON number token written as is: literals no ``int`` or ``float`` round-trips
    (``1E+26`` as the client wrote it, a 5,000-digit integer)."""


def to_json(value: Any) -> bytes:
    """JSON as a lenient client writes it: ``NaN`` and ``Infinity`` tokens (which Python's parser,
    and so the server's, accepts) and ``Raw`` number literals of any length."""

    def render(v: Any) -> str:
        if isinstance(v, Raw):
            return str(v)
        if isinstance(v, dict):
            return "{" + ",".join(f"{json.dumps(k)}:{render(x)}" for k, x in v.items()) + "}"
        if isinstance(v, list):
            return "[" + ",".join(render(x) for x in v) + "]"
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)  # the default digit limit is far above what st.integers() draws
        return json.dumps(v)  # floats: NaN, Infinity, -Infinity allowed

    return render(value).encode()


def query_text(value: Any) -> str:
    return str(value) if not isinstance(value, float) else repr(value)


def _long_literal(digits: int, negative: bool) -> Raw:
    return Raw(("-" if negative else "") + "9" * digits)


huge_literals = st.builds(_long_literal, st.integers(4_000, 6_000), st.booleans())
exponent_tokens = st.builds(
    lambda m, e, sign: Raw(f"{sign}{m}e{e}"),
    st.integers(1, 999),
    st.integers(-(10**10), 10**10),
    st.sampled_from(["", "-"]),
)
#: numbers as a JSON number token
json_numbers = st.one_of(
    st.integers(),  # unbounded
    st.integers(-300, 300),  # in range for most fields, so the success paths run too
    huge_literals,
    st.floats(),  # NaN and the infinities included
    st.floats(-200, 200),
    st.decimals(allow_nan=False, allow_infinity=False).map(lambda d: Raw(str(d))),
    exponent_tokens,
)
#: numbers written as strings (prices are decimal strings; query strings are all text)
numeric_strings = st.one_of(
    st.integers().map(str),
    st.decimals(places=2, min_value=0, max_value=2 * MAX_PRICE).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    exponent_tokens.map(str),
    huge_literals.map(str),
    st.sampled_from(
        ["-0", "1_000", " 12 ", "0x10", "\u0661\u0662", "12.", ".5", "+5", "1e26", "1e999999999"]
    ),
)
numbers = st.one_of(json_numbers, numeric_strings)


# ------------------------------------------------------------------------------ the app
class SyncAsgiClient:
    """httpx over ``ASGITransport`` for synchronous Hypothesis tests: the app and its lifespan
    live on an event loop in a portal thread. A bug answers its JSON 500 rather than raising."""

    def __init__(self, portal: anyio.from_thread.BlockingPortal, app: Any) -> None:
        self._portal = portal
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self._client = httpx.AsyncClient(transport=transport, base_url="http://testserver")

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(lambda: self._client.request(method, url, **kwargs))

    def send(
        self, actor: Actor, method: str, url: str, body: Any = None, **kwargs: Any
    ) -> httpx.Response:
        headers = auth(actor)
        if body is not None:
            headers["Content-Type"] = "application/json"
            kwargs["content"] = to_json(body)
        return self.request(method, url, headers=headers, **kwargs)

    def place(self, method: str = "cod") -> str:
        response = self.send(CUSTOMER, "POST", "/api/orders/", order_body(payment_method=method))
        assert response.status_code == 201, response.text
        order_id: str = response.json()["id"]
        return order_id


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncAsgiClient]:
    db: Path = tmp_path_factory.mktemp("numeric") / "numeric.db"
    app = build_app(ServerSettings(db=str(db), vendors=5, customers=400, riders=300), SECRET)
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(app.router.lifespan_context(app)),
    ):
        yield SyncAsgiClient(portal, app)


def order_body(**changes: Any) -> dict[str, Any]:
    item = {"name": "Meal", "quantity": 1, "unit_price": "10.00"}
    address = {"latitude": 19.07, "longitude": 72.87}
    item.update(changes.pop("item", {}))
    address.update(changes.pop("address", {}))
    return {"vendor": FX.vendors[0].id, "items": [item], "delivery_address": address, **changes}


# ------------------------------------------------------------------------------ the fields
@dataclass(frozen=True, repr=False)
class Target:
    """One numeric (or number-prone) field of one endpoint: how to put a value there, and the
    request paths a 422 may name for it (a whole ``metadata`` object is checked as one)."""

    name: str
    send: Callable[[SyncAsgiClient, Any], httpx.Response]
    fields: tuple[str, ...]

    def __repr__(self) -> str:
        return f"Target({self.name!r})"


def _list(param: str) -> Callable[[SyncAsgiClient, Any], httpx.Response]:
    return lambda c, v: c.send(SYSTEM_ACTOR, "GET", "/api/orders/", params={param: query_text(v)})


def _checkout(**where: str) -> Callable[[SyncAsgiClient, Any], httpx.Response]:
    ((part, key),) = where.items()
    return lambda c, v: c.send(CUSTOMER, "POST", "/api/orders/", order_body(**{part: {key: v}}))


def _on_order(
    actor: Actor, path: str, body: Callable[[Any], Any], method: str = "cod"
) -> Callable[[SyncAsgiClient, Any], httpx.Response]:
    def send(c: SyncAsgiClient, v: Any) -> httpx.Response:
        oid = c.place(method)
        return c.send(actor, "POST", path.format(oid=oid), body(v))

    return send


def _rider(path: str, key: str, **rest: Any) -> Callable[[SyncAsgiClient, Any], httpx.Response]:
    other = "longitude" if key == "latitude" else "latitude"
    return lambda c, v: c.send(RIDER, "POST", path, {**rest, other: 1.0, key: v})


STATUS = "/api/orders/{oid}/status/"
TARGETS = [
    Target("list page", _list("page"), ("query.page",)),
    Target("list page_size", _list("page_size"), ("query.page_size",)),
    Target("quantity", _checkout(item="quantity"), ("body.items[0].quantity",)),
    Target("unit_price", _checkout(item="unit_price"), ("body.items[0].unit_price",)),
    Target("address latitude", _checkout(address="latitude"), ("body.delivery_address.latitude",)),
    Target(
        "address longitude", _checkout(address="longitude"), ("body.delivery_address.longitude",)
    ),
    Target(
        "confirm estimated_prep_time",
        _on_order(
            RESTAURANT,
            "/api/restaurants/orders/{oid}/confirm/",
            lambda v: {"estimated_prep_time": v},
        ),
        ("body.estimated_prep_time",),
    ),
    Target(
        "status metadata.estimated_prep_time",
        _on_order(
            RESTAURANT,
            STATUS,
            lambda v: {"status_code": "ORDER_CONFIRMED", "metadata": {"estimated_prep_time": v}},
        ),
        ("body.metadata.estimated_prep_time", "body.metadata"),
    ),
    Target(
        "status metadata (free-form)",
        _on_order(
            SYSTEM_ACTOR,
            STATUS,
            lambda v: {"status_code": "CANCELLED", "metadata": {"n": v, "deep": [{"n": v}]}},
        ),
        ("body.metadata",),
    ),
    Target(
        "status metadata.transaction_id",
        _on_order(
            SYSTEM_ACTOR,
            STATUS,
            lambda v: {"status_code": "PAYMENT_SUCCESS", "metadata": {"transaction_id": v}},
            method="online",
        ),
        ("body.metadata.transaction_id", "body.metadata"),
    ),
    Target(
        "status metadata.otp",
        _on_order(
            SYSTEM_ACTOR,
            STATUS,
            lambda v: {"status_code": "ORDER_PICKED_UP", "metadata": {"otp": v}},
        ),
        ("body.metadata.otp", "body.metadata"),
    ),
    Target(
        "status_code",
        _on_order(SYSTEM_ACTOR, STATUS, lambda v: {"status_code": v}),
        ("body.status_code",),
    ),
    Target(
        "payment transaction_id",
        _on_order(
            SYSTEM_ACTOR,
            "/api/orders/{oid}/payment/",
            lambda v: {"status": "success", "transaction_id": v},
            method="online",
        ),
        ("body.transaction_id",),
    ),
    Target(
        "pickup otp",
        _on_order(SYSTEM_ACTOR, "/api/orders/{oid}/pickup/", lambda v: {"otp": v}),
        ("body.otp",),
    ),
    Target(
        "verify otp",
        _on_order(SYSTEM_ACTOR, "/api/orders/{oid}/otp/verify/", lambda v: {"otp": v}),
        ("body.otp",),
    ),
    Target(
        "cancel reason",
        _on_order(SYSTEM_ACTOR, "/api/orders/{oid}/cancel/", lambda v: {"reason": v}),
        ("body.reason",),
    ),
    Target(
        "rider location latitude",
        _rider("/api/riders/me/location/", "latitude"),
        ("body.latitude",),
    ),
    Target(
        "rider location longitude",
        _rider("/api/riders/me/location/", "longitude"),
        ("body.longitude",),
    ),
    Target(
        "availability latitude",
        _rider("/api/riders/me/availability/", "latitude", available=False),
        ("body.latitude",),
    ),
    Target(
        "availability longitude",
        _rider("/api/riders/me/availability/", "longitude", available=False),
        ("body.longitude",),
    ),
]


def check(response: httpx.Response, fields: tuple[str, ...]) -> None:
    assert response.status_code in EXPECTED, (response.status_code, response.text)
    if response.status_code < 400:
        return
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"], body
    assert isinstance(body["code"], str) and body["code"], body
    # FastAPI's generic "error parsing the body" names nothing: every number must parse
    assert body["code"] != "bad_request", body
    if response.status_code == 422:
        assert body["field"] in fields, (fields, body)


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(target=st.sampled_from(TARGETS), value=numbers)
def test_no_number_of_any_size_gets_a_5xx(
    client: SyncAsgiClient, target: Target, value: Any
) -> None:
    response = target.send(client, value)
    event(f"{target.name}: {response.status_code}")  # --hypothesis-show-statistics
    check(response, target.fields)


# ------------------------------------------------------------------------------ each 500 found
def _refused(response: httpx.Response, field: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == "validation_error" and body["field"] == field, body
    return body


@pytest.mark.parametrize("page", ["1874441701592131584", str(2**63), str(MAX_PAGE + 1)])
def test_a_page_beyond_the_bound_is_a_422_not_an_sqlite_overflow(
    client: SyncAsgiClient, page: str
) -> None:
    """Was a 500: ``(page - 1) * page_size`` went to SQLite as an OFFSET beyond 64 bits."""
    response = client.send(SYSTEM_ACTOR, "GET", "/api/orders/", params={"page": page})
    assert str(MAX_PAGE) in _refused(response, "query.page")["detail"]


def test_the_last_page_allowed_is_an_empty_page(client: SyncAsgiClient) -> None:
    params = {"page": str(MAX_PAGE), "page_size": "100"}
    response = client.send(SYSTEM_ACTOR, "GET", "/api/orders/", params=params)
    assert response.status_code == 200 and response.json()["results"] == []


@pytest.mark.parametrize(
    "price",
    ["1e26", "1e2", "1e999999999", Raw("1E+26"), 10**30, "1000000.00", "-0", "1_000"],
)
def test_a_price_out_of_bounds_or_format_is_a_422_naming_the_line(
    client: SyncAsgiClient, price: Any
) -> None:
    """Was a 500 for ``"1e26"`` and the like: rounding a decimal of more digits than the
    context holds raised ``InvalidOperation``."""
    response = client.send(CUSTOMER, "POST", "/api/orders/", order_body(item={"unit_price": price}))
    _refused(response, "body.items[0].unit_price")


def test_the_largest_price_is_accepted_and_adds_up(client: SyncAsgiClient) -> None:
    top = f"{MAX_PRICE:.2f}"
    body = order_body(item={"unit_price": top, "quantity": 100})
    response = client.send(CUSTOMER, "POST", "/api/orders/", body)
    assert response.status_code == 201, response.text
    assert response.json()["subtotal"] == f"{MAX_PRICE * 100:.2f}"


@pytest.mark.parametrize(
    ("where", "field"),
    [
        ({"item": {"quantity": Raw("9" * 5000)}}, "body.items[0].quantity"),
        ({"item": {"unit_price": Raw("-" + "9" * 5000)}}, "body.items[0].unit_price"),
        ({"address": {"latitude": Raw("9" * 5000)}}, "body.delivery_address.latitude"),
    ],
)
def test_a_number_literal_of_any_length_is_a_422_naming_the_field(
    client: SyncAsgiClient, where: dict[str, Any], field: str
) -> None:
    """Was a 400 naming nothing: Python refuses to turn more than 4,300 digits into an ``int``,
    so the whole body failed to parse."""
    _refused(client.send(CUSTOMER, "POST", "/api/orders/", order_body(**where)), field)


def test_a_long_literal_in_metadata_is_a_422_naming_metadata(client: SyncAsgiClient) -> None:
    oid = client.place()
    body = {"status_code": "CANCELLED", "metadata": {"n": Raw("9" * 5000)}}
    _refused(client.send(SYSTEM_ACTOR, "POST", f"/api/orders/{oid}/status/", body), "body.metadata")


def test_deeply_nested_metadata_is_a_422_not_a_500(client: SyncAsgiClient) -> None:
    """Was a 500: the history entry keeps the metadata, and the store's JSON encoder stops at a
    nesting depth a client could exceed."""
    oid = client.place()
    deep: Any = 1
    for _ in range(300):
        deep = [deep]
    body = {"status_code": "CANCELLED", "metadata": {"x": deep}}
    response = client.send(SYSTEM_ACTOR, "POST", f"/api/orders/{oid}/status/", body)
    assert str(MAX_METADATA_DEPTH) in _refused(response, "body.metadata")["detail"]
    history = client.send(SYSTEM_ACTOR, "GET", f"/api/orders/{oid}/history/").json()
    assert [h["status"] for h in history["history"]] == ["ORDER_PLACED"]


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ({"estimated_prep_time": 10**10}, "body.metadata.estimated_prep_time"),
        ({"estimated_prep_time": 2**70}, "body.metadata"),
        ({"estimated_prep_time": 1e308}, "body.metadata.estimated_prep_time"),
        ({"estimated_prep_time": math.inf}, "body.metadata"),
    ],
)
def test_metadata_minutes_name_their_path(
    client: SyncAsgiClient, metadata: dict[str, Any], field: str
) -> None:
    oid = client.place()
    body = {"status_code": "ORDER_CONFIRMED", "metadata": metadata}
    _refused(client.send(RESTAURANT, "POST", f"/api/orders/{oid}/status/", body), field)
