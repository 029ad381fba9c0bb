"""The spec's response shapes, built from the aggregate. Strings for money (two decimals) and
coordinates (six decimals), RFC 3339 times: formatting happens here and nowhere else."""

from __future__ import annotations

from typing import Any

from reference_api.clock import iso
from reference_api.errors import InvariantBroken
from reference_api.model import Order, OtpRecord, Rider, TrackingEntry
from reference_api.money import money_str
from reference_api.statuses import ACTION_STATUS, DISPLAY_NAMES, display_name


def coord(value: float | None) -> str | None:
    return None if value is None else f"{value:.6f}"


def _opt_iso(ts: float | None) -> str | None:
    return None if ts is None else iso(ts)


def order_summary(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "order_number": order.order_number,
        "order_status": order.status._value_,
        "order_status_name": DISPLAY_NAMES[order.status],
        "vendor": order.vendor_id,
        "vendor_name": order.vendor_name,
        "delivery_status": order.delivery_status,
        "delivery_person": order.rider_id,
        "total_amount": money_str(order.total_amount),
        "order_placed_at": iso(order.placed_at),
    }


def order_detail(order: Order) -> dict[str, Any]:
    addr = order.address
    refund = order.refund
    status = order.status._value_  # the enum's ``.value`` property is a Python call
    lat, lon = coord(addr.latitude), coord(addr.longitude)
    return {
        "id": order.id,
        "order_number": order.order_number,
        "user": order.customer_id,
        "user_name": order.customer_name,
        "vendor": order.vendor_id,
        "vendor_name": order.vendor_name,
        "order_status": status,
        "order_status_name": DISPLAY_NAMES[order.status],
        "order_status_code": status,
        "delivery_status": order.delivery_status,
        "delivery_person": order.rider_id,
        "delivery_person_name": order.rider_name,
        "delivery_address": {
            "id": addr.id,
            "title": addr.title,
            "address_line_1": addr.address_line_1,
            "latitude": lat,
            "longitude": lon,
        },
        "subtotal": money_str(order.subtotal),
        "delivery_fee": money_str(order.delivery_fee),
        "tax_amount": money_str(order.tax_amount),
        "total_amount": money_str(order.total_amount),
        "payment_method": order.payment_method,
        "payment_status": order.payment_status,
        "refund_status": None if refund is None else refund.status,
        "order_placed_at": iso(order.placed_at),
        "estimated_delivery_time": iso(order.estimated_delivery_time),
        "estimated_ready_time": _opt_iso(order.estimated_ready_time),
        "actual_delivery_time": _opt_iso(order.delivered_at),
        "cancellation_reason": order.cancel_reason,
        "cancelled_by": order.cancelled_by,
        "items": [
            {
                "menu_item": item.menu_item,
                "name": item.name,
                "quantity": item.quantity,
                "unit_price": money_str(item.unit_price),
                "total_price": money_str(item.unit_price * item.quantity),
            }
            for item in order.items
        ],
        "customer_latitude": lat,
        "customer_longitude": lon,
        "restaurant_latitude": coord(order.restaurant_lat),
        "restaurant_longitude": coord(order.restaurant_lon),
        "bundle": None if order.bundle is None else bundle_view(order),
    }


def bundle_view(order: Order) -> dict[str, Any]:
    """The extension field of D25: the orders the rider took together with this one, in
    delivery sequence, and this order's place in it (null, not this, for an order alone)."""
    bundle = order.bundle or []
    return {"id": order.bundle_id, "orders": list(bundle), "position": bundle.index(order.id) + 1}


def tracking_entry(entry: TrackingEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "status": entry.status,
        "status_name": display_name(entry.status),
        "description": entry.description,
        "created_at": iso(entry.created_at),
        "updated_by": entry.updated_by,
        "metadata": entry.metadata,
    }


def history_document(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.id,
        "order_number": order.order_number,
        "history": [tracking_entry(e) for e in order.history],
    }


def order_page(count: int, page: int, page_size: int, orders: list[Order]) -> dict[str, Any]:
    """A page of the order list, with page numbers; the HTTP adapter turns them into links."""
    return {
        "count": count,
        "next": page + 1 if page * page_size < count else None,
        "previous": page - 1 if page > 1 else None,
        "results": [order_summary(o) for o in orders],
    }


def restaurant_queue(orders: list[Order]) -> dict[str, Any]:
    return {"count": len(orders), "orders": [order_summary(o) for o in orders]}


def available_orders(orders: list[Order]) -> dict[str, Any]:
    results = []
    for o in orders:
        item = order_summary(o)
        item["restaurant_latitude"] = coord(o.restaurant_lat)
        item["restaurant_longitude"] = coord(o.restaurant_lon)
        results.append(item)
    return {"count": len(results), "orders": results}


def eta_document(
    order: Order, eta_minutes: int | None, rider_location: tuple[float, float] | None
) -> dict[str, Any]:
    return {
        "order_id": order.id,
        "estimated_delivery_time": iso(order.estimated_delivery_time),
        "current_eta_minutes": eta_minutes,
        "status": order.status._value_,
        "delivery_person_location": (
            None
            if rider_location is None
            else {"latitude": coord(rider_location[0]), "longitude": coord(rider_location[1])}
        ),
        "customer_location": {
            "latitude": coord(order.address.latitude),
            "longitude": coord(order.address.longitude),
        },
    }


def action_result(order: Order, action: str, message: str, **extra: Any) -> dict[str, Any]:
    """The answer of an action endpoint: what it did and where the order now stands, the status
    spelled as the action's section of the spec shows it (``statuses.ACTION_STATUS``, D1)."""
    status = ACTION_STATUS[action].get(order.status)
    if status is None:
        raise InvariantBroken(
            f"{action} left order {order.order_number} in {order.status._value_}, "
            f"not one of {', '.join(ACTION_STATUS[action])}"
        )
    result = {
        "success": True,
        "order_id": order.id,
        "order_number": order.order_number,
        "status": status,
        "message": message,
    }
    if extra:
        result.update(extra)
    return result


def refund_status(order: Order) -> str | None:
    refund = order.refund
    return None if refund is None else refund.status


def status_update(order: Order, previous: str, entry: TrackingEntry) -> dict[str, Any]:
    """The answer of the generic status endpoint: the move and its history entry."""
    return {
        "success": True,
        "order_id": order.id,
        "order_number": order.order_number,
        "previous_status": previous,
        "new_status": order.status._value_,
        "status_name": DISPLAY_NAMES[order.status],
        "tracking_id": entry.id,
        "message": "Order status updated successfully",
    }


def rider_view(rider: Rider) -> dict[str, Any]:
    held = rider.order_ids
    return {
        "delivery_person": rider.id,
        "name": rider.name,
        "available": rider.available,
        "current_order": held[0] if held else None,
        "current_orders": list(held),
        "latitude": coord(rider.latitude),
        "longitude": coord(rider.longitude),
        "available_until": _opt_iso(rider.available_until),
    }


def rider_location(rider: Rider) -> dict[str, Any]:
    return {
        "delivery_person_location": {
            "latitude": coord(rider.latitude),
            "longitude": coord(rider.longitude),
        }
    }


def otp_document(order: Order, record: OtpRecord, code: str) -> dict[str, Any]:
    return {
        "otp": code,
        "type": record.type,
        "expires_at": iso(record.expires_at),
        "order_id": order.id,
    }


def otp_verified() -> dict[str, Any]:
    return {"success": True, "verified": True, "message": "OTP verified successfully"}


def otp_resent(order: Order, record: OtpRecord, resends_left: int) -> dict[str, Any]:
    return {
        "success": True,
        "type": record.type,
        "expires_at": iso(record.expires_at),
        "order_id": order.id,
        "resends_left": resends_left,
        "message": "OTP resent",
    }
