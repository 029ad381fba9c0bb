"""Status codes, display names and the spec's aliases (D1)."""

from __future__ import annotations

import pytest

from reference_api.errors import ValidationFailed
from reference_api.roles import SYSTEM_ACTOR
from reference_api.statuses import (
    ALIASES,
    DISPLAY_NAMES,
    TRANSITIONS,
    OrderStatus,
    display_name,
    parse_status,
)
from tests.core.conftest import make_world

S = OrderStatus


def test_aliases_map_to_canonical() -> None:
    assert parse_status("RESTAURANT_CONFIRMED") is S.ORDER_CONFIRMED
    assert parse_status("FOOD_BEING_PREPARED") is S.PREPARING
    assert parse_status("ORDER_READY_FOR_PICKUP") is S.READY_FOR_PICKUP
    for alias, canonical in ALIASES.items():
        assert parse_status(alias) is canonical
        assert alias not in OrderStatus.__members__, "an alias must not be a canonical code"
    for status in OrderStatus:
        assert parse_status(status.value) is status


def test_unknown_code_names_the_code_and_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"'TELEPORTED'.*ORDER_CONFIRMED"):
        parse_status("TELEPORTED")


def test_every_status_has_a_display_name_and_a_row() -> None:
    assert set(DISPLAY_NAMES) == set(OrderStatus) == set(TRANSITIONS)
    assert display_name("ORDER_CONFIRMED") == "Order Confirmed"
    assert display_name("DELIVERY_PARTNER_ASSIGNED") == "Delivery Partner Assigned"
    assert display_name("SOMETHING_ELSE") == "SOMETHING_ELSE"
    for targets in TRANSITIONS.values():
        assert targets <= set(OrderStatus)


@pytest.mark.parametrize(
    ("alias", "setup", "canonical"),
    [
        ("RESTAURANT_CONFIRMED", S.ORDER_PLACED, "ORDER_CONFIRMED"),
        ("FOOD_BEING_PREPARED", S.ORDER_CONFIRMED, "PREPARING"),
        ("ORDER_READY_FOR_PICKUP", S.PREPARING, "READY_FOR_PICKUP"),
        ("ORDER_CANCELLED", S.PREPARING, "CANCELLED"),
    ],
)
def test_generic_update_accepts_alias_and_answers_canonical(
    alias: str, setup: OrderStatus, canonical: str
) -> None:
    w = make_world()
    oid = w.at(setup)
    out = w.svc.update_status(SYSTEM_ACTOR, oid, status_code=alias, reason="ops")
    assert out["new_status"] == canonical
    assert w.svc.get_order(SYSTEM_ACTOR, oid)["order_status"] == canonical
    assert w.svc.history(SYSTEM_ACTOR, oid)["history"][-1]["status"] in {
        canonical,
        "DELIVERY_PARTNER_ASSIGNED",
    }


def test_confirm_endpoint_answers_canonical_code() -> None:
    w = make_world()
    oid = w.place()
    assert w.svc.confirm(w.restaurant(0), oid)["status"] == "ORDER_CONFIRMED"


def test_list_filter_accepts_alias() -> None:
    w = make_world()
    oid = w.at(S.PREPARING)
    w.at(S.ORDER_CONFIRMED, customer=1)
    out = w.svc.list_orders(SYSTEM_ACTOR, status="FOOD_BEING_PREPARED")
    assert [r["id"] for r in out["results"]] == [oid]
    with pytest.raises(ValidationFailed, match="status"):
        w.svc.list_orders(SYSTEM_ACTOR, status="COOKING")
