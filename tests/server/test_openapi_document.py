"""The OpenAPI document's promises that Schemathesis leans on, checked directly: patterns read
by a JSON Schema engine mean what the server checks, checkout links to every operation on the
order, and a 405 names every method the path has."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import jsonschema_rs
import pytest
import requests
from schemathesis.python import asgi

from reference_api.endpoints import ENDPOINTS
from reference_api.http.schemas import NOT_BLANK, OTP_PATTERN
from reference_api.http.server import ServerSettings, build_app
from reference_api.otp import validate_format
from reference_api.service.parsing import require_reason
from tests.server.harness import CUSTOMERS, RIDERS, SECRET, VENDORS, auth, fixtures

FX = fixtures()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[requests.Session]:
    db: Path = tmp_path_factory.mktemp("openapi") / "openapi.db"
    settings = ServerSettings(db=str(db), vendors=VENDORS, customers=CUSTOMERS, riders=RIDERS)
    try:
        with asgi.get_client(cast(Any, build_app(settings, SECRET))) as session:
            yield session
    finally:
        asgi.shutdown_lifespans()


def _accepted(check: Any, value: str) -> bool:
    try:
        check(value)
    except Exception:
        return False
    return True


def test_not_blank_means_what_strip_means_for_every_character() -> None:
    pattern = jsonschema_rs.validator_for({"type": "string", "pattern": NOT_BLANK})
    for code in range(0x10000):
        if 0xD800 <= code <= 0xDFFF:
            continue  # surrogates are no text
        char = chr(code)
        for text in (char, f" {char}\t"):
            assert pattern.is_valid(text) is _accepted(require_reason, text), hex(code)


@pytest.mark.parametrize("otp", ["123456", "12345", "1234567", "12345a", "١٢٣٤٥٦", "123456\n", ""])
def test_the_otp_pattern_is_what_the_server_checks(otp: str) -> None:
    pattern = jsonschema_rs.validator_for({"type": "string", "pattern": OTP_PATTERN})
    assert pattern.is_valid(otp) is _accepted(validate_format, otp)


def test_checkout_links_to_every_operation_on_the_order(client: requests.Session) -> None:
    doc = client.get("/openapi.json").json()
    links = doc["paths"]["/api/orders/"]["post"]["responses"]["201"]["links"]
    on_order = {op for op, ep in ENDPOINTS.items() if "{order_id}" in ep.path and ep.method != "WS"}
    assert {link["operationId"] for link in links.values()} == on_order
    for link in links.values():
        assert link["parameters"] == {"path.order_id": "$response.body#/id"}


def test_a_405_names_every_method_of_the_path(client: requests.Session) -> None:
    response = client.options("/api/orders/", headers=auth(FX.customers[0]))
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["Allow"].split(",")} >= {"GET", "POST"}
    other = client.delete(f"/api/orders/{FX.vendors[0].id}/", headers=auth(FX.customers[0]))
    assert other.status_code == 405 and "GET" in other.headers["Allow"]
