"""The spec's own example clients (Python, verbatim; JavaScript, verbatim after a harness),
against a real server: a client written from the spec alone works unchanged."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from reference_api.roles import SYSTEM_ACTOR
from tests.server.harness import LiveServer, fixtures, token
from tests.server.spec_example_client import OrderAPI, RestaurantAPI


def test_spec_python_example_runs_unchanged(live_server: LiveServer) -> None:
    base = live_server.url
    # an order to work on, placed through the checkout extension
    api_fx = fixtures()
    customer = api_fx.customers[-1]
    restaurant = api_fx.restaurants[4]
    body = {
        "vendor": restaurant.vendor_id,
        "items": [{"name": "Masala Dosa", "quantity": 2, "unit_price": "120.00"}],
        "delivery_address": {"latitude": 19.07, "longitude": 72.87},
    }
    placed = requests.post(
        f"{base}/api/orders/", json=body, headers={"Authorization": f"Bearer {token(customer)}"}
    )
    assert placed.status_code == 201
    order_id = placed.json()["id"]

    # the spec's usage section, with real ids
    order_api = OrderAPI(base, token(customer))
    order = order_api.get_order(order_id)
    assert f"Order status: {order['order_status']}" == "Order status: ORDER_PLACED"

    restaurant_api = RestaurantAPI(base, token(restaurant))
    queue = restaurant_api.get_order_queue()
    answers = {}
    for order in queue["orders"]:
        answers[order["id"]] = restaurant_api.confirm_order(order["id"], 20)

    # the confirm response as its section of the spec shows it; the detail keeps the canonical
    # code, as the detail example does (D1)
    assert answers[order_id]["status"] == "RESTAURANT_CONFIRMED"
    assert answers[order_id]["success"] is True and answers[order_id]["estimated_ready_time"]
    assert order_api.get_order(order_id)["order_status"] == "ORDER_CONFIRMED"
    assert restaurant_api.start_preparing(order_id)["status"] == "PREPARING"
    assert restaurant_api.mark_ready(order_id)["status"] == "READY_FOR_PICKUP"
    listed = order_api.list_orders(status="READY_FOR_PICKUP", page_size=5)
    assert order_id in [o["id"] for o in listed["results"]]
    history = order_api.get_order_history(order_id)["history"]
    assert [h["status"] for h in history][-1] == "READY_FOR_PICKUP"
    refused = order_api.cancel_order(order_id, "Changed my mind")  # too late for a customer
    assert refused["code"] == "invalid_transition" and re.search("cannot cancel", refused["detail"])


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_spec_javascript_example_runs_unchanged(live_server: LiveServer) -> None:
    """One ``apiClient`` drives every role in the spec's usage section: with a system token
    (the system may do what any role may, D4) it runs start to finish."""
    fx = fixtures()
    customer = fx.customers[-2]
    body = {
        "vendor": fx.vendors[3].id,
        "items": [{"name": "Fries", "quantity": 1, "unit_price": "99.00"}],
        "delivery_address": {"latitude": 19.06, "longitude": 72.86},
    }
    placed = requests.post(
        f"{live_server.url}/api/orders/",
        json=body,
        headers={"Authorization": f"Bearer {token(customer)}"},
    )
    assert placed.status_code == 201
    order_id = placed.json()["id"]
    env = {
        **os.environ,
        "ORDERFLOW_URL": live_server.url,
        "ORDERFLOW_TOKEN": token(SYSTEM_ACTOR),
        "ORDERFLOW_ORDER_ID": order_id,
    }
    script = Path(__file__).with_name("spec_example_client.mjs")
    run = subprocess.run(
        ["node", str(script)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "Order status: ORDER_PLACED"
    final = requests.get(
        f"{live_server.url}/api/orders/{order_id}/",
        headers={"Authorization": f"Bearer {token(customer)}"},
    ).json()
    assert final["order_status"] == "DELIVERED"
