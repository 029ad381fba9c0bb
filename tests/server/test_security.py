"""Tokens that must not work, OTPs that cannot be guessed, and orders other users cannot touch
(both backends)."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from reference_api.http.auth import claims_for
from reference_api.roles import Actor, Role
from tests.server.harness import SECRET, Api, token

pytestmark = pytest.mark.anyio


def _b64(data: dict[str, object]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _bad_tokens(actor: Actor) -> dict[str, str]:
    now = time.time()
    claims = claims_for(actor, now=now, ttl_s=600)
    no_exp = {k: v for k, v in claims.items() if k != "exp"}
    return {
        "forged": jwt.encode(claims, b"not-the-server-secret-at-all-0123", algorithm="HS256"),
        "expired": jwt.encode(claims_for(actor, now=now - 7200, ttl_s=60), SECRET, "HS256"),
        "alg_none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "alg_hs512": jwt.encode(claims, SECRET, algorithm="HS512"),
        "no_exp": jwt.encode(no_exp, SECRET, algorithm="HS256"),
        "unknown_role": jwt.encode({**claims, "role": "superuser"}, SECRET, algorithm="HS256"),
        "restaurant_without_vendor": jwt.encode(
            {**claims, "role": "restaurant"}, SECRET, algorithm="HS256"
        ),
        "garbage": "not.a.token",
    }


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_bad_tokens_are_rejected_with_401(api: Api) -> None:
    customer = api.customer()
    order = await api.place(customer)
    url = f"/api/orders/{order['id']}/"
    for name, bad in _bad_tokens(customer).items():
        response = await api.client.get(url, headers={"Authorization": f"Bearer {bad}"})
        assert response.status_code == 401, (name, response.text)
        body = response.json()
        assert body["code"] in ("token_invalid", "token_expired"), (name, body)
        assert response.headers["WWW-Authenticate"] == "Bearer"
    expired = _bad_tokens(customer)["expired"]
    response = await api.client.get(url, headers={"Authorization": f"Bearer {expired}"})
    assert response.json()["code"] == "token_expired"
    for header in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}):
        response = await api.client.get(url, headers=header)
        assert response.status_code == 401 and response.json()["code"] == "not_authenticated"
    good = await api.client.get(url, headers={"Authorization": f"Bearer {token(customer)}"})
    assert good.status_code == 200
    # authentication comes first: no token, bad body, unknown route alike answer 401
    for method, path, body in [
        ("POST", "/api/orders/", b"{not json"),
        ("GET", "/api/orders/not-a-uuid/", None),
        ("GET", "/api/nowhere/", None),
    ]:
        response = await api.client.request(method, path, content=body)
        assert response.status_code == 401, (path, response.text)


async def test_otp_brute_force_locks_the_code(api: Api) -> None:
    order = await api.place()
    oid = order["id"]
    await api.advance(order, ["confirm", "prepare", "ready"])
    rider = await api.assigned_rider(oid)
    code = await api.otp(oid, "pickup")
    guesses = [f"{n:06d}" for n in range(10) if f"{n:06d}" != code][:5]
    answers = []
    for guess in guesses:
        response = await api.call(rider, "POST", f"/api/orders/{oid}/pickup/", json={"otp": guess})
        answers.append((response.status_code, response.json()["code"]))
    assert answers[:4] == [(400, "otp_invalid")] * 4
    assert answers[4] == (423, "otp_locked")
    locked = await api.call(rider, "POST", f"/api/orders/{oid}/pickup/", json={"otp": code})
    assert locked.status_code == 423 and locked.json()["code"] == "otp_locked"
    verify = await api.call(
        rider, "POST", f"/api/orders/{oid}/otp/verify/", json={"otp": code, "type": "pickup"}
    )
    assert verify.status_code == 423
    detail = await api.ok(api.system, "GET", f"/api/orders/{oid}/")
    assert detail["order_status"] == "READY_FOR_PICKUP"


async def test_a_rider_cannot_act_on_another_riders_order(api: Api) -> None:
    order = await api.place()
    oid = order["id"]
    await api.advance(order, ["confirm", "prepare", "ready"])
    assigned = await api.assigned_rider(oid)
    intruder = api.other_rider(assigned.user_id)
    code = await api.otp(oid, "pickup")
    for method, url, body in [
        ("POST", f"/api/orders/{oid}/pickup/", {"otp": code}),
        ("POST", f"/api/orders/{oid}/start-delivery/", None),
        ("POST", f"/api/orders/{oid}/complete-delivery/", {"otp": code}),
        ("POST", f"/api/orders/{oid}/otp/verify/", {"otp": code, "type": "pickup"}),
        ("GET", f"/api/orders/{oid}/", None),
        ("GET", f"/api/orders/{oid}/history/", None),
    ]:
        response = await api.call(intruder, method, url, json=body)
        assert response.status_code == 404, (url, response.text)
    await api.ok(assigned, "POST", f"/api/orders/{oid}/pickup/", json={"otp": code})


async def test_a_customer_cannot_read_another_customers_otp(api: Api) -> None:
    owner = api.customer()
    order = await api.place(owner)
    oid = order["id"]
    await api.advance(order, ["confirm", "prepare", "ready"])
    rider = await api.assigned_rider(oid)
    await api.ok(
        rider, "POST", f"/api/orders/{oid}/pickup/", json={"otp": await api.otp(oid, "pickup")}
    )
    await api.ok(rider, "POST", f"/api/orders/{oid}/start-delivery/")
    stranger = api.customer()
    response = await api.call(stranger, "GET", f"/api/orders/{oid}/otp/?type=delivery")
    assert response.status_code == 404 and "otp" not in response.json()
    other_restaurant = await api.call(
        api.restaurant(3), "GET", f"/api/orders/{oid}/otp/?type=pickup"
    )
    assert other_restaurant.status_code == 404
    mine = await api.ok(owner, "GET", f"/api/orders/{oid}/otp/?type=delivery")
    assert len(mine["otp"]) == 6


async def test_role_aliases_in_claims_are_understood(api: Api) -> None:
    customer = api.customer()
    order = await api.place(customer)
    rest = api.restaurant()
    claims = claims_for(
        Actor(Role.RESTAURANT, rest.user_id, rest.name, rest.vendor_id), now=time.time(), ttl_s=60
    )
    claims["role"] = "restaurant_owner"
    alias_token = jwt.encode(claims, SECRET, algorithm="HS256")
    response = await api.client.get(
        "/api/restaurants/orders/queue/", headers={"Authorization": f"Bearer {alias_token}"}
    )
    assert response.status_code == 200
    assert order["id"] in [o["id"] for o in response.json()["orders"]]
