"""The documented response shapes (the spec's examples as ``reference_api.presenters`` builds
them), as checks that say what is wrong: each returns None when the body fits, else one
sentence naming the field. Status fields are compared after mapping the spec's aliases (D1, D21),
so a target spelling an action's status canonically passes as well."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from loadtest.checks import canonical
from reference_api.statuses import ACTION_STATUS, OrderStatus

MONEY = re.compile(r"^-?\d+\.\d{2}$")
COORD = re.compile(r"^-?\d+\.\d{6}$")
ORDER_NUMBER = re.compile(r"^ORD\d{8}$")
OTP_CODE = re.compile(r"^\d{6}$")

#: The spec's event payload (Real-Time Updates).
EVENT_KEYS = (
    "event_type",
    "order_id",
    "order_number",
    "previous_status",
    "new_status",
    "status_name",
    "timestamp",
    "updated_by",
)


def instant(value: object) -> datetime | None:
    """An RFC 3339 date-time with a zone, or None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _need(body: Any, what: str) -> str | None:
    return None if isinstance(body, dict) else f"{what} is not a JSON object"


def _fields(body: dict[str, Any], checks: dict[str, str], where: str) -> str | None:
    """``checks``: field -> kind (str, str?, int, int?, bool, money, coord, coord?, time,
    time?, list, dict, dict?)."""
    for name, kind in checks.items():
        if name not in body:
            return f"{where}: no field {name!r}"
        value = body[name]
        optional = kind.endswith("?")
        base = kind.rstrip("?")
        if optional and value is None:
            continue
        ok = {
            "str": isinstance(value, str),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "bool": isinstance(value, bool),
            "money": isinstance(value, str) and bool(MONEY.match(value)),
            "coord": isinstance(value, str) and bool(COORD.match(value)),
            "time": instant(value) is not None,
            "list": isinstance(value, list),
            "dict": isinstance(value, dict),
        }[base]
        if not ok:
            return f"{where}: {name} should be {kind}, is {value!r}"
    return None


def error_body(body: Any, code: str | None) -> str | None:
    """``{"detail", "code", "field"}`` (D14), with the expected ``code`` when one is given."""
    problem = _need(body, "error body")
    if problem:
        return problem
    if not isinstance(body.get("detail"), str) or not body["detail"]:
        return "error body: detail should be a non-empty string"
    if "field" not in body:
        return "error body: no field 'field'"
    if code is not None and body.get("code") != code:
        return f"error body: code should be {code!r}, is {body.get('code')!r}"
    return None


def action_result(
    body: Any, action: str, target: str, order_id: str, order_number: str
) -> str | None:
    """An action endpoint's answer (spec 4-6, 8-11): success, the order, the status it moved to
    (spelled as its section shows it, ``statuses.ACTION_STATUS``, or canonically: D1, D21), a
    message and the action's extras."""
    problem = _need(body, "action answer")
    if problem:
        return problem
    if body.get("success") is not True:
        return f"success should be true, is {body.get('success')!r}"
    if body.get("order_id") != order_id:
        return f"order_id should be {order_id}, is {body.get('order_id')!r}"
    if body.get("order_number") != order_number:
        return f"order_number should be {order_number}, is {body.get('order_number')!r}"
    if canonical(body.get("status")) != target:
        spelled = ACTION_STATUS[action].get(OrderStatus(target), target)
        return f"status should be {spelled}, is {body.get('status')!r}"
    if not isinstance(body.get("message"), str):
        return "message should be a string"
    extras = {
        "confirm": {"estimated_ready_time": "time"},
        "mark_ready": {"ready_time": "time"},
        "complete_delivery": {"actual_delivery_time": "time"},
        "cancel": {"refund_status": "str?"},
    }.get(action)
    return _fields(body, extras, action) if extras else None


def status_update(body: Any, order_id: str, previous: str, target: str) -> str | None:
    """The generic endpoint's answer (spec 3)."""
    problem = _need(body, "status answer") or _fields(
        body,
        {
            "success": "bool",
            "order_id": "str",
            "order_number": "str",
            "previous_status": "str",
            "new_status": "str",
            "status_name": "str",
            "tracking_id": "str",
            "message": "str",
        },
        "status answer",
    )
    if problem:
        return problem
    if body["order_id"] != order_id:
        return f"order_id should be {order_id}, is {body['order_id']!r}"
    if canonical(body["previous_status"]) != previous:
        return f"previous_status should be {previous}, is {body['previous_status']!r}"
    if canonical(body["new_status"]) != target:
        return f"new_status should be {target}, is {body['new_status']!r}"
    return None


def order_detail(body: Any) -> str | None:
    """``GET /api/orders/{id}/`` (spec 1)."""
    problem = _need(body, "order detail") or _fields(
        body,
        {
            "id": "str",
            "order_number": "str",
            "user": "str",
            "user_name": "str",
            "vendor": "str",
            "vendor_name": "str",
            "order_status": "str",
            "order_status_name": "str",
            "order_status_code": "str",
            "delivery_status": "str",
            "delivery_person": "str?",
            "delivery_person_name": "str?",
            "delivery_address": "dict",
            "subtotal": "money",
            "delivery_fee": "money",
            "tax_amount": "money",
            "total_amount": "money",
            "payment_method": "str",
            "payment_status": "str",
            "order_placed_at": "time",
            "estimated_delivery_time": "time",
            "items": "list",
            "customer_latitude": "coord",
            "customer_longitude": "coord",
            "restaurant_latitude": "coord",
            "restaurant_longitude": "coord",
        },
        "order detail",
    )
    if problem:
        return problem
    if canonical(body["order_status"]) not in OrderStatus.__members__:
        return f"order detail: order_status {body['order_status']!r} is no status of the spec"
    if body["payment_method"] not in ("cod", "online"):
        return f"order detail: payment_method {body['payment_method']!r} is not cod or online"
    return _fields(
        body["delivery_address"], {"title": "str", "address_line_1": "str"}, "delivery_address"
    )


def order_summary(item: Any) -> str | None:
    """One result of the list (spec 2)."""
    return _need(item, "list result") or _fields(
        item,
        {
            "id": "str",
            "order_number": "str",
            "order_status": "str",
            "total_amount": "money",
            "order_placed_at": "time",
        },
        "list result",
    )


def order_page(body: Any) -> str | None:
    problem = _need(body, "order list") or _fields(
        body, {"count": "int", "next": "str?", "previous": "str?", "results": "list"}, "order list"
    )
    if problem:
        return problem
    for item in body["results"]:
        problem = order_summary(item)
        if problem:
            return problem
    return None


def order_queue(body: Any) -> str | None:
    """The restaurant queue (spec 7) and the available orders (D13): ``{count, orders}``."""
    problem = _need(body, "queue") or _fields(body, {"count": "int", "orders": "list"}, "queue")
    if problem:
        return problem
    if body["count"] != len(body["orders"]):
        return f"queue: count {body['count']} but {len(body['orders'])} orders"
    for item in body["orders"]:
        problem = order_summary(item)
        if problem:
            return problem
    return None


def history(body: Any, order_id: str) -> str | None:
    """``GET /history/`` (spec 14)."""
    problem = _need(body, "history") or _fields(
        body, {"order_id": "str", "order_number": "str", "history": "list"}, "history"
    )
    if problem:
        return problem
    if body["order_id"] != order_id:
        return f"history: order_id should be {order_id}, is {body['order_id']!r}"
    for i, entry in enumerate(body["history"]):
        problem = _need(entry, f"history[{i}]") or _fields(
            entry,
            {
                "id": "str",
                "status": "str",
                "status_name": "str",
                "description": "str",
                "created_at": "time",
                "updated_by": "str",
            },
            f"history[{i}]",
        )
        if problem:
            return problem
    return None


def eta(body: Any, order_id: str) -> str | None:
    """``GET /eta/`` (spec 15)."""
    problem = _need(body, "eta") or _fields(
        body,
        {
            "order_id": "str",
            "estimated_delivery_time": "time",
            "current_eta_minutes": "int?",
            "status": "str",
            "delivery_person_location": "dict?",
            "customer_location": "dict",
        },
        "eta",
    )
    if problem:
        return problem
    if body["order_id"] != order_id:
        return f"eta: order_id should be {order_id}, is {body['order_id']!r}"
    return _fields(body["customer_location"], {"latitude": "coord", "longitude": "coord"}, "eta")


def otp_document(body: Any, kind: str, order_id: str) -> str | None:
    """``GET /otp/`` (spec 12)."""
    problem = _need(body, "otp") or _fields(
        body, {"otp": "str", "type": "str", "expires_at": "time", "order_id": "str"}, "otp"
    )
    if problem:
        return problem
    if not OTP_CODE.match(body["otp"]):
        return f"otp: should be 6 digits, is {body['otp']!r}"
    if body["type"] != kind:
        return f"otp: type should be {kind}, is {body['type']!r}"
    if body["order_id"] != order_id:
        return f"otp: order_id should be {order_id}, is {body['order_id']!r}"
    return None


def event(payload: Any) -> str | None:
    """A WebSocket event payload (spec Event Payload)."""
    problem = _need(payload, "event")
    if problem:
        return problem
    for key in EVENT_KEYS:
        if key not in payload:
            return f"event {payload.get('event_type')!r}: no field {key!r}"
    if instant(payload["timestamp"]) is None:
        return f"event: timestamp {payload['timestamp']!r} is not RFC 3339 with a zone"
    return None
