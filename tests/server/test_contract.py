"""The contract: every endpoint, every role, every documented error, run against the app
in-process, against a real `orderflow serve`, and against a real `uvicorn --factory
reference_api.http.app:create_app` configured by ``ORDERFLOW_*`` variables (the ``api`` fixture
is parametrised over all three here: both entry points must serve the same contract)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from reference_api.endpoints import ENDPOINTS
from tests.server.conftest import open_api
from tests.server.harness import Api

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["inprocess", "live", "factory"])
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    async with open_api(request, tmp_path, request.param) as backend:
        yield backend


ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


async def test_cod_journey_through_every_role(api: Api) -> None:
    customer = api.customer()
    order = await api.place(customer)
    oid = order["id"]
    assert order["order_status"] == "ORDER_PLACED"
    assert order["payment_method"] == "cod" and order["payment_status"] == "pending"
    assert (order["subtotal"], order["tax_amount"], order["total_amount"]) == (
        "748.00",
        "37.40",
        "810.40",
    )
    assert ISO.match(order["order_placed_at"]) and ISO.match(order["estimated_delivery_time"])
    for key in ("customer_latitude", "restaurant_longitude", "items", "delivery_address"):
        assert key in order

    rest = api.restaurant()
    queue = await api.ok(rest, "GET", "/api/restaurants/orders/queue/")
    assert oid in [o["id"] for o in queue["orders"]] and queue["count"] == len(queue["orders"])

    confirmed = await api.ok(
        rest, "POST", f"/api/restaurants/orders/{oid}/confirm/", json={"estimated_prep_time": 15}
    )
    # the confirm section's own spelling (D1); the detail and history keep ORDER_CONFIRMED
    assert confirmed["status"] == "RESTAURANT_CONFIRMED" and confirmed["success"] is True
    assert ISO.match(confirmed["estimated_ready_time"])
    rider = await api.assigned_rider(oid)

    prep = await api.ok(rest, "POST", f"/api/restaurants/orders/{oid}/start-preparing/")
    assert prep["status"] == "PREPARING"
    ready = await api.ok(rest, "POST", f"/api/restaurants/orders/{oid}/mark-ready/")
    assert ready["status"] == "READY_FOR_PICKUP" and ISO.match(ready["ready_time"])

    pickup_otp = await api.ok(rest, "GET", f"/api/orders/{oid}/otp/", params={"type": "pickup"})
    assert pickup_otp["type"] == "pickup" and re.fullmatch(r"\d{6}", pickup_otp["otp"])
    picked = await api.ok(
        rider, "POST", f"/api/orders/{oid}/pickup/", json={"otp": pickup_otp["otp"]}
    )
    assert picked["status"] == "ORDER_PICKED_UP"
    started = await api.ok(rider, "POST", f"/api/orders/{oid}/start-delivery/")
    assert started["status"] == "OUT_FOR_DELIVERY"

    eta = await api.ok(customer, "GET", f"/api/orders/{oid}/eta/")
    assert eta["status"] == "OUT_FOR_DELIVERY" and eta["current_eta_minutes"] >= 0
    assert eta["delivery_person_location"]["latitude"]
    assert eta["customer_location"]["latitude"] == order["customer_latitude"]

    delivery_otp = await api.ok(customer, "GET", f"/api/orders/{oid}/otp/")  # type defaults
    assert delivery_otp["type"] == "delivery" and delivery_otp["order_id"] == oid
    verified = await api.ok(
        rider, "POST", f"/api/orders/{oid}/otp/verify/", json={"otp": delivery_otp["otp"]}
    )
    assert verified == {"success": True, "verified": True, "message": "OTP verified successfully"}
    done = await api.ok(
        rider,
        "POST",
        f"/api/orders/{oid}/complete-delivery/",
        json={"otp": delivery_otp["otp"], "delivery_notes": "Delivered to customer"},
    )
    assert done["status"] == "DELIVERED" and ISO.match(done["actual_delivery_time"])

    history = await api.ok(customer, "GET", f"/api/orders/{oid}/history/")
    assert [h["status"] for h in history["history"]] == [
        "ORDER_PLACED",
        "ORDER_CONFIRMED",
        "DELIVERY_PARTNER_ASSIGNED",
        "PREPARING",
        "READY_FOR_PICKUP",
        "ORDER_PICKED_UP",
        "OUT_FOR_DELIVERY",
        "DELIVERED",
    ]
    assert len({h["id"] for h in history["history"]}) == 8
    assert history["history"][1]["updated_by"] == rest.name
    final = await api.ok(customer, "GET", f"/api/orders/{oid}/")
    assert final["order_status"] == "DELIVERED" and final["payment_status"] == "paid"
    assert (await api.ok(customer, "GET", f"/api/orders/{oid}/eta/"))["current_eta_minutes"] is None
    listed = await api.ok(rider, "GET", "/api/orders/")
    assert oid in [o["id"] for o in listed["results"]]


async def test_online_payment_then_cancel_starts_a_refund(api: Api) -> None:
    customer = api.customer()
    order = await api.place(customer, method="online")
    oid = order["id"]
    assert order["order_status"] == "PAYMENT_PENDING"
    paid_by_customer = await api.call(
        customer, "POST", f"/api/orders/{oid}/payment/", json={"status": "success"}
    )
    assert paid_by_customer.status_code == 403
    assert paid_by_customer.json()["code"] == "forbidden"
    paid = await api.ok(
        api.system,
        "POST",
        f"/api/orders/{oid}/payment/",
        json={"status": "success", "transaction_id": "txn-1"},
    )
    assert paid["status"] == "PAYMENT_SUCCESS"
    cancelled = await api.ok(
        customer, "POST", f"/api/orders/{oid}/cancel/", json={"reason": "Changed my mind"}
    )
    assert cancelled["status"] == "CANCELLED" and cancelled["refund_status"] == "pending"
    detail = await api.ok(customer, "GET", f"/api/orders/{oid}/")
    assert (
        detail["refund_status"] == "pending" and detail["cancellation_reason"] == "Changed my mind"
    )


async def test_payment_failure_and_bad_payment_body(api: Api) -> None:
    order = await api.place(method="online")
    url = f"/api/orders/{order['id']}/payment/"
    bad = await api.call(api.system, "POST", url, json={"status": "maybe"})
    assert bad.status_code == 422 and bad.json()["field"] == "body.status"
    failed = await api.ok(api.system, "POST", url, json={"status": "failed"})
    assert failed["status"] == "PAYMENT_FAILED"


async def test_restaurant_rejects_with_a_reason(api: Api) -> None:
    order = await api.place()
    url = f"/api/restaurants/orders/{order['id']}/reject/"
    missing = await api.call(api.restaurant(), "POST", url, json={})
    assert missing.status_code == 422 and missing.json()["field"] == "body.reason"
    blank = await api.call(api.restaurant(), "POST", url, json={"reason": "  "})
    assert blank.status_code == 422 and blank.json()["field"] == "body.reason"
    other_vendor = await api.call(api.restaurant(1), "POST", url, json={"reason": "x"})
    assert other_vendor.status_code == 404
    rejected = await api.ok(api.restaurant(), "POST", url, json={"reason": "Out of stock"})
    assert rejected["status"] == "RESTAURANT_REJECTED" and rejected["refund_status"] is None


async def test_generic_status_endpoint_accepts_aliases_and_names_bad_codes(api: Api) -> None:
    order = await api.place()
    url = f"/api/orders/{order['id']}/status/"
    rest = api.restaurant()
    unknown = await api.call(rest, "POST", url, json={"status_code": "TELEPORTED"})
    assert unknown.status_code == 422
    assert unknown.json()["field"] == "body.status_code"
    assert "TELEPORTED" in unknown.json()["detail"]
    nan = await api.call(
        rest,
        "POST",
        url,
        content=b'{"status_code": "ORDER_CONFIRMED", "metadata": {"x": [NaN]}}',
        headers={"Content-Type": "application/json"},
    )
    assert nan.status_code == 422 and nan.json()["field"] == "body.metadata"
    wrong_type = await api.call(rest, "POST", url, json={"status_code": 7})
    assert wrong_type.status_code == 422 and wrong_type.json()["field"] == "body.status_code"
    moved = await api.ok(
        rest,
        "POST",
        url,
        json={
            "status_code": "RESTAURANT_CONFIRMED",
            "reason": "Restaurant confirmed order",
            "metadata": {"estimated_prep_time": 20},
        },
    )
    assert moved["previous_status"] == "ORDER_PLACED" and moved["new_status"] == "ORDER_CONFIRMED"
    assert moved["status_name"] == "Order Confirmed" and moved["tracking_id"]
    refund = await api.call(api.system, "POST", url, json={"status_code": "REFUND_COMPLETED"})
    assert refund.status_code == 400 and refund.json()["code"] == "invalid_transition"
    back = await api.call(rest, "POST", url, json={"status_code": "ORDER_PLACED"})
    assert back.status_code in (400, 403) and back.json()["detail"]


async def test_pagination_links_keep_other_parameters(api: Api) -> None:
    customer = api.customer()
    ids = [(await api.place(customer))["id"] for _ in range(5)]
    await api.ok(customer, "POST", f"/api/orders/{ids[0]}/cancel/", json={"reason": "x"})
    first = await api.ok(customer, "GET", "/api/orders/", params={"page_size": 2})
    assert first["count"] == 4 and first["previous"] is None
    assert first["next"].startswith("http") and "page=2" in first["next"]
    assert "page_size=2" in first["next"]
    seen = [o["id"] for o in first["results"]]
    page = first
    while page["next"]:
        page = await api.ok(customer, "GET", page["next"])
        seen += [o["id"] for o in page["results"]]
    assert sorted(seen) == sorted(ids[1:])
    assert page["previous"] and "page=1" in page["previous"]
    everything = await api.ok(
        customer, "GET", "/api/orders/", params={"include_cancelled": "true", "page_size": 10}
    )
    assert everything["count"] == 5 and everything["next"] is None
    cancelled = await api.ok(customer, "GET", "/api/orders/", params={"status": "ORDER_CANCELLED"})
    assert [o["id"] for o in cancelled["results"]] == [ids[0]]
    placed = await api.ok(
        customer, "GET", "/api/orders/", params={"status": "ORDER_PLACED", "page_size": 3}
    )
    assert placed["count"] == 4 and "status=ORDER_PLACED" in placed["next"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": 0}, "query.page"),
        ({"page": "two"}, "query.page"),
        ({"page_size": 1000}, "query.page_size"),
        ({"include_cancelled": "perhaps"}, "query.include_cancelled"),
        ({"status": "NOPE"}, "query.status"),
    ],
)
async def test_list_query_errors_name_the_parameter(
    api: Api, params: dict[str, object], field: str
) -> None:
    response = await api.call(api.customer(), "GET", "/api/orders/", params=params)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "validation_error" and body["field"] == field


async def test_request_errors_are_json_and_name_the_path(api: Api) -> None:
    customer = api.customer()
    vendor = api.fx.vendors[0].id
    good_address = {"latitude": 19.07, "longitude": 72.87}
    cases: list[tuple[dict[str, object], int, str]] = [
        ({"vendor": vendor, "items": [{"quantity": "2", "unit_price": "1.00"}],
          "delivery_address": good_address}, 422, "body.items[0].quantity"),
        ({"vendor": vendor, "items": [{"quantity": 0, "unit_price": "1.00"}],
          "delivery_address": good_address}, 422, "body.items[0].quantity"),
        ({"vendor": vendor, "items": [{"quantity": 1, "unit_price": 1.5}],
          "delivery_address": good_address}, 422, "body.items[0].unit_price"),
        ({"vendor": vendor, "items": [{"quantity": 1, "unit_price": "1.234"}],
          "delivery_address": good_address}, 422, "body.items[0].unit_price"),
        ({"vendor": vendor, "items": [], "delivery_address": good_address}, 422, "body.items"),
        ({"vendor": vendor, "items": [{"quantity": 1, "unit_price": "1"}],
          "delivery_address": {"latitude": 91, "longitude": 0}}, 422,
         "body.delivery_address.latitude"),
        ({"vendor": vendor, "items": [{"quantity": 1, "unit_price": "1"}]}, 422,
         "body.delivery_address"),
        ({"vendor": vendor, "items": [{"quantity": 1, "unit_price": "1"}],
          "delivery_address": good_address, "payment_method": "card"}, 422,
         "body.payment_method"),
        ({"vendor": str(uuid.uuid4()), "items": [{"quantity": 1, "unit_price": "1"}],
          "delivery_address": good_address}, 404, "body.vendor"),
    ]  # fmt: skip
    for body, status, field in cases:
        response = await api.call(customer, "POST", "/api/orders/", json=body)
        assert response.status_code == status, (body, response.text)
        answer = response.json()
        assert answer["field"] == field, (body, answer)
        assert answer["detail"] and answer["code"]

    malformed = await api.call(
        customer,
        "POST",
        "/api/orders/",
        content=b'{"vendor": ',
        headers={"Content-Type": "application/json"},
    )
    assert malformed.status_code == 400 and malformed.json()["code"] == "malformed_json"
    not_json = await api.call(customer, "POST", "/api/orders/", content=b"vendor=x")
    assert not_json.status_code == 422 and "JSON" in not_json.json()["detail"]
    array = await api.call(customer, "POST", "/api/orders/", json=[1, 2])
    assert array.status_code == 422 and array.json()["field"] == "body"


async def test_ids_routes_and_methods(api: Api) -> None:
    customer = api.customer()
    bad = await api.call(customer, "GET", "/api/orders/not-a-uuid/")
    assert bad.status_code == 422 and bad.json()["field"] == "path.order_id"
    missing = await api.call(customer, "GET", f"/api/orders/{uuid.uuid4()}/")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    nowhere = await api.call(customer, "GET", "/api/nowhere/")
    assert nowhere.status_code == 404 and nowhere.json()["code"] == "not_found"
    wrong_method = await api.call(customer, "DELETE", "/api/orders/")
    assert wrong_method.status_code == 405 and wrong_method.json()["code"] == "method_not_allowed"
    order = await api.place(customer)
    upper = await api.call(customer, "GET", f"/api/orders/{order['id'].upper()}/")
    assert upper.status_code == 200 and upper.json()["id"] == order["id"]


async def test_available_route_wins_over_order_id(api: Api) -> None:
    rider = api.fx.riders[0]
    available = await api.ok(rider, "GET", "/api/orders/available/")
    assert set(available) == {"count", "orders"}
    assert (await api.ok(api.system, "GET", "/api/orders/available/"))["count"] >= 0
    customer = await api.call(api.customer(), "GET", "/api/orders/available/")
    assert customer.status_code == 403 and customer.json()["code"] == "forbidden"


async def test_roles_are_enforced_per_action(api: Api) -> None:
    customer = api.customer()
    order = await api.place(customer)
    oid = order["id"]
    rider = api.fx.riders[0]
    forbidden = [
        (customer, "POST", f"/api/restaurants/orders/{oid}/confirm/", None),
        (rider, "POST", f"/api/restaurants/orders/{oid}/start-preparing/", None),
        (api.restaurant(), "POST", f"/api/orders/{oid}/pickup/", {"otp": "123456"}),
        (customer, "POST", f"/api/orders/{oid}/start-delivery/", None),
        (customer, "GET", "/api/restaurants/orders/queue/", None),
        (rider, "POST", f"/api/orders/{oid}/cancel/", {"reason": "no"}),
        (customer, "GET", f"/api/orders/{oid}/otp/?type=pickup", None),
        (api.restaurant(), "GET", f"/api/orders/{oid}/otp/?type=delivery", None),
        (customer, "POST", "/api/riders/me/location/", {"latitude": 19.0, "longitude": 72.8}),
        (
            api.restaurant(),
            "POST",
            "/api/orders/",
            {
                "vendor": api.fx.vendors[0].id,
                "items": [{"quantity": 1, "unit_price": "1.00"}],
                "delivery_address": {"latitude": 19.0, "longitude": 72.8},
            },
        ),
    ]
    for actor, method, url, body in forbidden:
        response = await api.call(actor, method, url, json=body)
        assert response.status_code == 403, (actor.role, url, response.text)
        assert response.json()["code"] == "forbidden"
    not_visible = [
        (api.customer(), "GET", f"/api/orders/{oid}/"),
        (api.restaurant(2), "GET", f"/api/orders/{oid}/history/"),
        (rider, "GET", f"/api/orders/{oid}/eta/"),
    ]
    for actor, method, url in not_visible:
        response = await api.call(actor, method, url)
        assert response.status_code == 404, (actor.role, url, response.text)


async def test_invalid_transitions_and_otp_errors(api: Api) -> None:
    customer = api.customer()
    order = await api.place(customer)
    oid = order["id"]
    rest = api.restaurant()
    early = await api.call(rest, "POST", f"/api/restaurants/orders/{oid}/mark-ready/")
    assert early.status_code == 400 and early.json()["code"] == "invalid_transition"
    assert "ORDER_PLACED" in early.json()["detail"]
    no_otp = await api.call(rest, "GET", f"/api/orders/{oid}/otp/", params={"type": "pickup"})
    assert no_otp.status_code == 400 and no_otp.json()["code"] == "otp_not_issued"
    bad_type = await api.call(rest, "GET", f"/api/orders/{oid}/otp/", params={"type": "magic"})
    assert bad_type.status_code == 422 and bad_type.json()["field"] == "query.type"

    await api.advance(order, ["confirm", "prepare", "ready"])
    rider = await api.assigned_rider(oid)
    late_cancel = await api.call(customer, "POST", f"/api/orders/{oid}/cancel/", json={})
    assert late_cancel.status_code == 400 and late_cancel.json()["code"] == "invalid_transition"
    short = await api.call(rider, "POST", f"/api/orders/{oid}/pickup/", json={"otp": "12"})
    assert short.status_code == 422 and short.json()["field"] == "body.otp"
    code = await api.otp(oid, "pickup")
    wrong = "000000" if code != "000000" else "111111"
    miss = await api.call(rider, "POST", f"/api/orders/{oid}/pickup/", json={"otp": wrong})
    assert miss.status_code == 400 and miss.json()["code"] == "otp_invalid"
    assert "4 attempt(s) left" in miss.json()["detail"]
    too_soon = await api.call(
        rest, "POST", f"/api/orders/{oid}/otp/resend/", json={"type": "pickup"}
    )
    assert too_soon.status_code == 429 and too_soon.json()["code"] == "throttled"
    assert int(too_soon.headers["Retry-After"]) >= 1
    await api.ok(rider, "POST", f"/api/orders/{oid}/pickup/", json={"otp": code})
    used = await api.call(rest, "POST", f"/api/orders/{oid}/otp/resend/?type=pickup")
    assert used.status_code == 409 and used.json()["code"] == "conflict", used.text
    again = await api.call(rider, "POST", f"/api/orders/{oid}/pickup/", json={"otp": code})
    assert again.status_code == 400 and again.json()["code"] == "invalid_transition"


async def test_rider_availability_and_location(api: Api) -> None:
    rider = api.fx.riders[-1]
    off = await api.ok(rider, "POST", "/api/riders/me/availability/", json={"available": False})
    assert off["available"] is False and off["delivery_person"] == rider.user_id
    on = await api.ok(
        rider,
        "POST",
        "/api/riders/me/availability/",
        json={"available": True, "latitude": 19.08, "longitude": 72.88},
    )
    assert on["available"] is True and on["latitude"] == "19.080000"
    moved = await api.ok(
        rider, "POST", "/api/riders/me/location/", json={"latitude": 19.081, "longitude": 72.881}
    )
    assert moved["longitude"] == "72.881000"
    out_of_range = await api.call(
        rider, "POST", "/api/riders/me/location/", json={"latitude": 19.0, "longitude": 181}
    )
    assert out_of_range.status_code == 422 and out_of_range.json()["field"] == "body.longitude"
    not_bool = await api.call(
        rider, "POST", "/api/riders/me/availability/", json={"available": "yes"}
    )
    assert not_bool.status_code == 422 and not_bool.json()["field"] == "body.available"


async def test_openapi_describes_every_endpoint_and_marks_extensions(api: Api) -> None:
    doc = (await api.client.get("/openapi.json")).json()
    for ep in ENDPOINTS.values():
        if ep.method == "WS":
            continue
        op = doc["paths"][ep.path][ep.method.lower()]
        assert op["operationId"] == ep.operation
        assert ("extension" in op["tags"]) is ep.extension, ep.operation
        assert op.get("x-extension", False) is ep.extension, ep.operation
        assert "401" in op["responses"]
        # 422 where there is something to validate (test_documented_responses checks each)
        assert ("422" in op["responses"]) is bool(op.get("parameters") or op.get("requestBody"))
        assert op["security"] == [{"bearerAuth": []}]
    assert "/ws/orders/{order_id}/" in doc["info"]["description"]
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
