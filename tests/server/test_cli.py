"""`orderflow token` and `orderflow serve`: the shared secret and fixture ids, the tokens file
format the load test reads, and errors that say what is wrong."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import httpx
import jwt
import pytest

from orderflow.cli import build_parser, main
from reference_api.bootstrap import DEFAULT_SECRET
from reference_api.fixtures import build_fixtures, fixture_id
from reference_api.http.auth import JWT_SECRET_ENV
from reference_api.roles import SYSTEM_ACTOR
from tests.server.harness import SECRET, LiveServer


def _token_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["token", *args]) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


def test_token_uses_the_development_default_and_says_so(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.delenv(JWT_SECRET_ENV, raising=False)
    with caplog.at_level(logging.WARNING, "orderflow.auth"):
        out = _token_json(capsys, "--role", "restaurant", "--index", "1", "--ttl", "60")
    assert any(JWT_SECRET_ENV in r.getMessage() for r in caplog.records)
    assert out["role"] == "restaurant"
    assert out["user_id"] == fixture_id("owner", 1)
    assert out["vendor_id"] == fixture_id("vendor", 1)
    assert out["name"] == build_fixtures().vendors[1].name
    claims = jwt.decode(str(out["token"]), DEFAULT_SECRET, algorithms=["HS256"])
    assert claims["sub"] == out["user_id"] and claims["vendor_id"] == out["vendor_id"]
    assert 55 <= claims["exp"] - claims["iat"] <= 60


def test_token_with_a_configured_secret_and_each_role(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(JWT_SECRET_ENV, SECRET.decode())
    for role, expected in (
        ("customer", fixture_id("customer", 3)),
        ("rider", fixture_id("rider", 3)),
        ("system", SYSTEM_ACTOR.user_id),
    ):
        out = _token_json(capsys, "--role", role, "--index", "3")
        claims = jwt.decode(str(out["token"]), SECRET, algorithms=["HS256"])
        assert (claims["role"], claims["sub"], out["user_id"]) == (role, expected, expected)
        assert "vendor_id" not in out


def test_token_errors_name_the_problem(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(JWT_SECRET_ENV, SECRET.decode())
    assert main(["token", "--role", "rider", "--index", "10"]) == 2
    assert "--index 10 out of range: 10 rider" in capsys.readouterr().err
    assert main(["token", "--role", "rider", "--index", "10", "--riders", "11"]) == 0
    capsys.readouterr()
    assert main(["token", "--role", "rider", "--ttl", "0"]) == 2
    assert "--ttl" in capsys.readouterr().err
    assert main(["token", "--role", "rider", "--out", "x.json"]) == 2
    monkeypatch.setenv(JWT_SECRET_ENV, "short")
    assert main(["token", "--role", "rider"]) == 1  # bad input (docs/exit-codes.md)
    assert "at least 16 bytes" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["token", "--role", "chef"])


def test_tokens_file_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(JWT_SECRET_ENV, SECRET.decode())
    out = tmp_path / "nested" / "tokens.json"
    args = ["token", "--all", "--out", str(out), "--vendors", "2", "--customers", "3"]
    assert main([*args, "--riders", "4"]) == 0
    doc = json.loads(out.read_text())
    assert set(doc) == {"customers", "restaurants", "riders", "system", "vendors", "addresses"}
    assert [len(doc[k]) for k in ("customers", "restaurants", "riders", "system")] == [3, 2, 4, 1]
    assert set(doc["customers"][0]) == {"token", "user_id"}
    assert set(doc["restaurants"][1]) == {"token", "user_id", "vendor_id"}
    assert doc["restaurants"][1]["vendor_id"] == doc["vendors"][1]["id"] == fixture_id("vendor", 1)
    vendor = doc["vendors"][0]
    assert set(vendor) == {"id", "name", "latitude", "longitude", "menu"}
    assert vendor["menu"] and set(vendor["menu"][0]) == {"name", "unit_price"}
    assert len(doc["addresses"]) == 3
    assert set(doc["addresses"][0]) == {"title", "address_line_1", "latitude", "longitude"}
    for group in ("customers", "restaurants", "riders", "system"):
        for entry in doc[group]:
            claims = jwt.decode(entry["token"], SECRET, algorithms=["HS256"])
            assert claims["sub"] == entry["user_id"]
    assert main(["token", "--all"]) == 0
    assert len(json.loads(capsys.readouterr().out)["customers"]) == 20


def test_serve_and_token_share_fixture_defaults() -> None:
    parser = build_parser()
    serve = parser.parse_args(["serve"])
    token = parser.parse_args(["token", "--all"])
    fx = build_fixtures()
    expected = (len(fx.vendors), len(fx.customers), len(fx.riders))
    assert (serve.vendors, serve.customers, serve.riders) == expected
    assert (token.vendors, token.customers, token.riders) == expected


def test_tokens_from_the_command_work_on_the_server(
    live_server: LiveServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(JWT_SECRET_ENV, SECRET.decode())
    assert main(["token", "--all", "--out", str(tmp_path / "t.json"), "--vendors", "5"]) == 0
    doc = json.loads((tmp_path / "t.json").read_text())
    vendor, address = doc["vendors"][2], doc["addresses"][0]
    body = {
        "vendor": vendor["id"],
        "items": [{**vendor["menu"][0], "quantity": 1}],
        "delivery_address": address,
    }
    headers = {"Authorization": f"Bearer {doc['customers'][5]['token']}"}
    placed = httpx.post(f"{live_server.url}/api/orders/", json=body, headers=headers)
    assert placed.status_code == 201, placed.text
    assert placed.json()["user"] == doc["customers"][5]["user_id"]
    queue = httpx.get(
        f"{live_server.url}/api/restaurants/orders/queue/",
        headers={"Authorization": f"Bearer {doc['restaurants'][2]['token']}"},
    )
    assert placed.json()["id"] in [o["id"] for o in queue.json()["orders"]]


def test_serve_refuses_bad_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(JWT_SECRET_ENV, SECRET.decode())
    db = str(tmp_path / "s.db")
    assert main(["serve", "--db", db, "--policy", "confirm_timeout_s"]) == 2
    assert "expected NAME=VALUE" in capsys.readouterr().err
    assert main(["serve", "--db", db, "--policy", "coffee_s=3"]) == 2
    assert "unknown field" in capsys.readouterr().err
    assert main(["serve", "--db", db, "--policy", "otp_max_attempts=many"]) == 2
    assert "expected a whole number" in capsys.readouterr().err
    assert main(["serve", "--db", db, "--riders", "0"]) == 2
    assert "--riders 0: expected a whole number of at least 1" in capsys.readouterr().err
    assert main(["serve", "--db", db, "--dispatch-option", "cell_km=0"]) == 2
    assert "--dispatch-option cell_km: must be between 0.01 and 100" in capsys.readouterr().err
    assert main(["serve", "--db", db, "--dispatch", "cell_km=0"]) == 2  # the old form
    assert "--dispatch: unknown dispatch policy 'cell_km=0'" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--db", db, "--port", str(port)]) == 4  # the run failed
    assert "cannot listen on 127.0.0.1" in capsys.readouterr().err
