"""Request arguments checked and converted before any rule runs: each parser raises
``ValidationFailed`` naming the field (its JSON path), so no malformed value reaches the
aggregate."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from reference_api import otp as otp_rules
from reference_api.errors import ValidationFailed, shown
from reference_api.geo import PLANAR_BOUND_M
from reference_api.model import Address, OrderItem
from reference_api.money import to_money
from reference_api.states import PaymentMethod
from reference_api.statuses import OrderStatus, parse_status

MAX_PAGE_SIZE = 100
#: The largest page number: the largest 32-bit integer, which every client's integer type holds.
#: Bounded because the page becomes a store offset, ``(page - 1) * page_size``, and SQLite
#: refuses an integer beyond 64 bits (a 500 before this bound).
MAX_PAGE = 2**31 - 1
MAX_ITEMS = 100
MAX_QUANTITY = 100
PREP_MINUTES = (1, 240)
#: How deep ``metadata`` may nest. The history keeps it inside the order's stored document, and
#: the JSON encoder refuses nesting past a fixed depth: unbounded, a client could make a move
#: fail after the rules had run.
MAX_METADATA_DEPTH = 16
#: Integers in ``metadata`` are kept and sent back as JSON: within +-(2**53 - 1), the ones every
#: JSON parser reads exactly (I-JSON, RFC 7493).
MAX_EXACT_INT = 2**53 - 1
#: The latest moment taken as input, in epoch seconds: 9999-12-31T23:59:59Z, the last second an
#: RFC 3339 date can write (and ``datetime``, which formats the responses, can hold).
MAX_INSTANT = 253_402_300_799


def require_reason(reason: object) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationFailed("reason: required (a non-empty string)", field="reason")
    return reason.strip()


def optional_reason(reason: object) -> str | None:
    """A reason where none is required: blank counts as none; anything but a string is refused."""
    if reason is not None and not isinstance(reason, str):
        raise ValidationFailed(f"reason: expected a string, got {shown(reason)}", field="reason")
    return reason if reason is not None and reason.strip() else None


def optional_text(value: object, field: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValidationFailed(f"{field}: expected a string, got {shown(value)}", field=field)
    return value


def prep_minutes(value: object, default: int, field: str = "estimated_prep_time") -> int:
    if value is None:
        return default
    lo, hi = PREP_MINUTES
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValidationFailed(
            f"{field}: expected whole minutes between {lo} and {hi}, got {shown(value)}",
            field=field,
        )
    return value


def number(value: object, field: str, lo: float, hi: float) -> float:
    # The common case, checked cheaply; NaN fails the range test and +-inf are out of range.
    if (type(value) is float or type(value) is int) and lo <= value <= hi:
        return float(value)
    if isinstance(value, bool):
        raise ValidationFailed(f"{field}: expected a number, got {shown(value)}", field=field)
    try:
        parsed = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise ValidationFailed(
            f"{field}: expected a number, got {shown(value)}", field=field
        ) from None
    if not (math.isfinite(parsed) and lo <= parsed <= hi):
        raise ValidationFailed(
            f"{field}: must be between {lo} and {hi}, got {shown(value)}", field=field
        )
    return parsed


def point(
    lat: object, lon: object, prefix: str = "", *, planar: bool = False
) -> tuple[float, float]:
    """A position in degrees, or with ``planar`` in metres (northing, easting; D27)."""
    if planar:
        bound = PLANAR_BOUND_M
        return (
            number(lat, f"{prefix}latitude", -bound, bound),
            number(lon, f"{prefix}longitude", -bound, bound),
        )
    return (
        number(lat, f"{prefix}latitude", -90, 90),
        number(lon, f"{prefix}longitude", -180, 180),
    )


def instant(value: object, field: str) -> float:
    """A moment as epoch seconds, one the responses can write as a date (``clock.iso``); one
    already past is not refused: what it means is the rule's to say."""
    return number(value, field, 0, MAX_INSTANT)


def address(raw: Mapping[str, Any], *, planar: bool = False) -> Address:
    if type(raw) is not dict and not isinstance(raw, Mapping):  # ABC check only off the fast path
        raise ValidationFailed("delivery_address: expected an object", field="delivery_address")
    lat, lon = point(raw.get("latitude"), raw.get("longitude"), "delivery_address.", planar=planar)
    line = raw.get("address_line_1", "")
    title = raw.get("title", "Home")
    for name, text in (("address_line_1", line), ("title", title)):
        if not isinstance(text, str):
            where = f"delivery_address.{name}"
            raise ValidationFailed(f"{where}: expected a string, got {shown(text)}", field=where)
    return Address(title, line, lat, lon)


def items(raw: list[Mapping[str, Any]]) -> list[OrderItem]:
    if not isinstance(raw, list) or not raw:
        raise ValidationFailed("items: expected a non-empty list", field="items")
    if len(raw) > MAX_ITEMS:
        raise ValidationFailed(f"items: at most {MAX_ITEMS} lines per order", field="items")
    lines = []
    for i, item in enumerate(raw):
        where = f"items[{i}]"
        if type(item) is not dict and not isinstance(item, Mapping):
            raise ValidationFailed(f"{where}: expected an object", field=where)
        qty = item.get("quantity")
        if isinstance(qty, bool) or not isinstance(qty, int) or not 1 <= qty <= MAX_QUANTITY:
            raise ValidationFailed(
                f"{where}.quantity: expected an integer 1..{MAX_QUANTITY}, got {shown(qty)}",
                field=f"{where}.quantity",
            )
        try:
            price: Decimal = to_money(item.get("unit_price"), field=f"{where}.unit_price")
        except ValueError as exc:
            raise ValidationFailed(str(exc), field=f"{where}.unit_price") from None
        name = item.get("name") or item.get("menu_item") or "item"
        menu_item = item.get("menu_item")
        if not isinstance(name, str) or (menu_item is not None and not isinstance(menu_item, str)):
            raise ValidationFailed(f"{where}.name: expected a string", field=f"{where}.name")
        lines.append(OrderItem(name, qty, price, menu_item))
    return lines


_PAYMENT_METHODS = {m.value: m for m in PaymentMethod}


def payment_method(value: object) -> PaymentMethod:
    found = _PAYMENT_METHODS.get(value) if isinstance(value, str) else None
    if found is None:
        raise ValidationFailed(
            f"payment_method: expected 'cod' or 'online', got {shown(value)}",
            field="payment_method",
        )
    return found


def otp_type(value: object) -> str:
    if value not in otp_rules.OTP_TYPES:
        raise ValidationFailed(
            f"type: expected 'pickup' or 'delivery', got {shown(value)}", field="type"
        )
    return str(value)


def status_code(value: object, field: str) -> OrderStatus:
    if not isinstance(value, str):
        raise ValidationFailed(f"{field}: expected a string, got {shown(value)}", field=field)
    try:
        return parse_status(value)
    except ValueError as exc:
        raise ValidationFailed(f"{field}: {exc}", field=field) from None


def metadata(value: object) -> dict[str, Any]:
    """Free-form metadata, kept in the history as given: JSON values only, finite numbers,
    integers within ``MAX_EXACT_INT``, nested at most ``MAX_METADATA_DEPTH`` deep."""
    if value is not None and not isinstance(value, Mapping):
        raise ValidationFailed(
            f"metadata: expected an object, got {shown(value)}", field="metadata"
        )
    out = dict(value or {})
    stack: list[tuple[object, int]] = [(out, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_METADATA_DEPTH:
                raise ValidationFailed(
                    f"metadata: nested more than {MAX_METADATA_DEPTH} levels deep",
                    field="metadata",
                )
            if isinstance(item, dict):
                if not all(isinstance(key, str) for key in item):
                    raise ValidationFailed("metadata: keys must be strings", field="metadata")
                children: Iterable[object] = item.values()
            else:
                children = item
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise ValidationFailed(
                    "metadata: numbers must be finite (no NaN or Infinity)", field="metadata"
                )
        elif isinstance(item, int) and not isinstance(item, bool):
            if not -MAX_EXACT_INT <= item <= MAX_EXACT_INT:
                raise ValidationFailed(
                    f"metadata: integers must be within +-{MAX_EXACT_INT}", field="metadata"
                )
        elif item is not None and not isinstance(item, (str, bool)):
            raise ValidationFailed(
                f"metadata: expected JSON values, got {type(item).__name__}", field="metadata"
            )
    return out


def whole_number(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"{field}: expected an integer, got {shown(value)}", field=field)
    return value


def page_args(page: object, page_size: object, include_cancelled: object) -> tuple[int, int]:
    number_ = whole_number(page, "page")
    size = whole_number(page_size, "page_size")
    if not isinstance(include_cancelled, bool):
        raise ValidationFailed(
            f"include_cancelled: expected true or false, got {shown(include_cancelled)}",
            field="include_cancelled",
        )
    if not 1 <= number_ <= MAX_PAGE:
        raise ValidationFailed(
            f"page: must be between 1 and {MAX_PAGE}, got {shown(number_)}", field="page"
        )
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ValidationFailed(
            f"page_size: must be between 1 and {MAX_PAGE_SIZE}, got {shown(size)}",
            field="page_size",
        )
    return number_, size
