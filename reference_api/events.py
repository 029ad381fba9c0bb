"""Domain events with the spec's names and payload. Built only when someone listens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from reference_api.clock import iso
from reference_api.model import Order, Rider
from reference_api.statuses import OrderStatus

STATUS_CHANGED = "order.status_changed"
ASSIGNED = "order.assigned"
READY_FOR_PICKUP = "order.ready_for_pickup"
PICKED_UP = "order.picked_up"
OUT_FOR_DELIVERY = "order.out_for_delivery"
DELIVERED = "order.delivered"
CANCELLED = "order.cancelled"
#: Extension: a rider's position, pushed to the order's subscribers (not in the spec's list).
LOCATION_UPDATED = "order.location_updated"

EVENT_TYPES = (
    STATUS_CHANGED,
    ASSIGNED,
    READY_FOR_PICKUP,
    PICKED_UP,
    OUT_FOR_DELIVERY,
    DELIVERED,
    CANCELLED,
)

#: The specific event a status change raises beside ``order.status_changed``.
SPECIFIC_EVENT: dict[OrderStatus, str] = {
    OrderStatus.READY_FOR_PICKUP: READY_FOR_PICKUP,
    OrderStatus.ORDER_PICKED_UP: PICKED_UP,
    OrderStatus.OUT_FOR_DELIVERY: OUT_FOR_DELIVERY,
    OrderStatus.DELIVERED: DELIVERED,
    OrderStatus.CANCELLED: CANCELLED,
}


@dataclass(frozen=True, slots=True)
class DomainEvent:
    event_type: str
    order_id: str
    order_number: str
    previous_status: str
    new_status: str
    status_name: str
    timestamp: float
    updated_by: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "event_type": self.event_type,
            "order_id": self.order_id,
            "order_number": self.order_number,
            "previous_status": self.previous_status,
            "new_status": self.new_status,
            "status_name": self.status_name,
            "timestamp": iso(self.timestamp),
            "updated_by": self.updated_by,
        }
        payload.update(self.data)
        return payload


EventSink = Callable[[DomainEvent], None]


class Observer(Protocol):
    """An in-process watcher (the simulation) told of every status change and assignment with
    the aggregate itself, at the moment it happens: no event object is built and nothing is
    copied, which sinks cannot offer a remote subscriber. ``moved`` runs where sinks are called
    (after the history entry, before the side effects, such as an assignment, and before the
    save); ``assigned`` after the assignment is recorded. An observer reads, and must neither
    mutate the order nor call the service."""

    def moved(self, order: Order, previous: OrderStatus, now: float) -> None: ...
    def assigned(self, order: Order, rider: Rider, now: float) -> None: ...
