"""Read endpoints: list with role filtering, pagination and filters (D9), the restaurant queue,
available orders (D13), detail and history shapes."""

from __future__ import annotations

import pytest

from reference_api.errors import Forbidden, ValidationFailed
from reference_api.roles import SYSTEM_ACTOR
from reference_api.statuses import OrderStatus
from tests.core.conftest import World, make_world

S = OrderStatus


def _ids(page: dict[str, object]) -> list[str]:
    return [r["id"] for r in page["results"]]  # type: ignore[attr-defined]


def test_list_is_filtered_by_role() -> None:
    w = make_world()
    mine = [w.at(S.ORDER_CONFIRMED, customer=0, vendor=0) for _ in range(2)]
    other = w.at(S.ORDER_PLACED, customer=1, vendor=1)
    assert set(_ids(w.svc.list_orders(w.customer(0)))) == set(mine)
    assert _ids(w.svc.list_orders(w.customer(1))) == [other]
    assert set(_ids(w.svc.list_orders(w.restaurant(0)))) == set(mine)
    assert _ids(w.svc.list_orders(w.restaurant(2))) == []
    rider = w.rider_of(mine[0])
    assert mine[0] in _ids(w.svc.list_orders(rider))
    assert other not in _ids(w.svc.list_orders(rider))
    assert len(_ids(w.svc.list_orders(SYSTEM_ACTOR))) == 3


def test_list_newest_first_with_pagination() -> None:
    w = make_world()
    placed = []
    for _ in range(5):
        placed.append(w.place())
        w.clock.advance(1)
    first = w.svc.list_orders(w.customer(0), page=1, page_size=2)
    assert first["count"] == 5 and first["next"] == 2 and first["previous"] is None
    assert _ids(first) == placed[::-1][:2]
    last = w.svc.list_orders(w.customer(0), page=3, page_size=2)
    assert _ids(last) == [placed[0]] and last["next"] is None and last["previous"] == 2
    beyond = w.svc.list_orders(w.customer(0), page=9, page_size=2)
    assert beyond["results"] == [] and beyond["count"] == 5
    summary = first["results"][0]
    assert set(summary) >= {"id", "order_number", "order_status", "total_amount"}
    assert summary["total_amount"] == "810.40"


def test_include_cancelled_hides_cancelled_and_refunded_only() -> None:
    w = make_world()
    cancelled = w.at(S.CANCELLED)
    refunded = w.at(S.REFUND_COMPLETED)
    rejected = w.at(S.RESTAURANT_REJECTED)
    failed = w.at(S.PAYMENT_FAILED)
    live = w.at(S.ORDER_PLACED)
    default = set(_ids(w.svc.list_orders(w.customer(0))))
    assert default == {rejected, failed, live}
    everything = set(_ids(w.svc.list_orders(w.customer(0), include_cancelled=True)))
    assert everything == {cancelled, refunded, rejected, failed, live}
    # A status filter overrides the default exclusion.
    only = _ids(w.svc.list_orders(w.customer(0), status="CANCELLED"))
    assert only == [cancelled]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"page": 0}, "page"),
        ({"page": "2"}, "page"),
        ({"page": 2**31}, "page"),  # bounded: it becomes a store offset (issue 17)
        ({"page": 1874441701592131584}, "page"),
        ({"page": 10**5000}, "page"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 101}, "page_size"),
        ({"page_size": True}, "page_size"),
        ({"include_cancelled": "yes"}, "include_cancelled"),
        ({"status": "NOPE"}, "status"),
        ({"status": 3}, "status"),
    ],
)
def test_list_names_bad_parameters(kwargs: dict[str, object], field: str) -> None:
    w = make_world()
    with pytest.raises(ValidationFailed) as err:
        w.svc.list_orders(w.customer(0), **kwargs)  # type: ignore[arg-type]
    assert err.value.field == field and field in err.value.detail


def test_restaurant_queue_shows_the_kitchens_active_orders() -> None:
    w = make_world(riders=8)
    queued = {
        w.at(S.ORDER_PLACED),
        w.at(S.PAYMENT_SUCCESS),
        w.at(S.ORDER_CONFIRMED),
        w.at(S.PREPARING),
        w.at(S.READY_FOR_PICKUP),
    }
    for gone in (S.PAYMENT_PENDING, S.ORDER_PICKED_UP, S.DELIVERED, S.CANCELLED):
        w.at(gone)
    w.at(S.ORDER_PLACED, vendor=1)
    out = w.svc.restaurant_queue(w.restaurant(0))
    assert out["count"] == 5 and {o["id"] for o in out["orders"]} == queued


def test_available_orders_are_confirmed_and_unassigned_oldest_first() -> None:
    w = make_world(riders_available=False)
    first = w.at(S.ORDER_CONFIRMED)
    w.clock.advance(10)
    second = w.at(S.PREPARING, customer=1, vendor=1)
    w.at(S.ORDER_PLACED, customer=2)
    out = w.svc.available_orders(w.rider(0))
    assert out["count"] == 2
    assert [o["id"] for o in out["orders"]] == [first, second]
    assert out["orders"][0]["restaurant_latitude"] == f"{w.fx.vendors[0].latitude:.6f}"
    with pytest.raises(Forbidden):
        w.svc.available_orders(w.customer(0))


def test_detail_shape_matches_the_spec(world: World) -> None:
    oid = world.at(S.ORDER_CONFIRMED)
    d = world.svc.get_order(world.customer(0), oid)
    spec_fields = {
        "id", "order_number", "user", "user_name", "vendor", "vendor_name", "order_status",
        "order_status_name", "order_status_code", "delivery_status", "delivery_person",
        "delivery_person_name", "delivery_address", "subtotal", "delivery_fee", "tax_amount",
        "total_amount", "payment_method", "payment_status", "order_placed_at",
        "estimated_delivery_time", "items", "customer_latitude", "customer_longitude",
        "restaurant_latitude", "restaurant_longitude",
    }  # fmt: skip
    assert spec_fields <= set(d)
    assert (d["order_status"], d["order_status_name"]) == ("ORDER_CONFIRMED", "Order Confirmed")
    assert d["delivery_status"] == "assigned" and d["delivery_person"] is not None
    assert d["order_number"].startswith("ORD") and len(d["order_number"]) == 11
    assert d["order_placed_at"] == "2024-01-15T10:00:00Z"
    assert d["items"][0]["total_price"] == "748.00"


def test_history_records_actor_time_and_metadata(world: World) -> None:
    oid = world.at(S.ORDER_CONFIRMED)
    h = world.svc.history(world.customer(0), oid)
    assert h["order_id"] == oid
    statuses = [e["status"] for e in h["history"]]
    assert statuses == ["ORDER_PLACED", "ORDER_CONFIRMED", "DELIVERY_PARTNER_ASSIGNED"]
    confirmed = h["history"][1]
    assert confirmed["updated_by"] == "Pizza Palace"
    assert confirmed["status_name"] == "Order Confirmed"
    assert confirmed["metadata"] == {"estimated_prep_time": 20}
    assert confirmed["created_at"] == "2024-01-15T10:00:00Z"
    assert h["history"][2]["metadata"]["delivery_person"] == world.rider_of(oid).user_id
