"""The order aggregate and the records it owns. Plain mutable slotted classes: the service
mutates them inside a store transaction; stores persist them. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from reference_api.statuses import OrderStatus


@dataclass(slots=True)
class TrackingEntry:
    id: str
    status: str
    description: str
    created_at: float
    updated_by: str
    actor_role: str
    actor_id: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class OtpRecord:
    """An issued OTP. Only ``nonce`` and ``code_hash`` are kept: the code itself is derived from
    the server secret and the nonce when an authorised reader asks (D7)."""

    type: str
    nonce: str
    code_hash: bytes
    issued_at: float
    expires_at: float
    attempts: int = 0
    resends: int = 0
    verified: bool = False
    consumed: bool = False


@dataclass(slots=True)
class Refund:
    id: str
    amount: Decimal
    status: str  # pending | processing | completed | failed
    created_at: float
    updated_at: float


@dataclass(slots=True)
class OrderItem:
    name: str
    quantity: int
    unit_price: Decimal
    menu_item: str | None = None


@dataclass(slots=True)
class Address:
    title: str
    address_line_1: str
    latitude: float
    longitude: float
    id: int = 1


@dataclass(slots=True)
class Order:
    id: str
    order_number: str
    customer_id: str
    customer_name: str
    vendor_id: str
    vendor_name: str
    status: OrderStatus
    items: list[OrderItem]
    address: Address
    restaurant_lat: float
    restaurant_lon: float
    subtotal: Decimal
    delivery_fee: Decimal
    tax_amount: Decimal
    total_amount: Decimal
    payment_method: str  # cod | online
    payment_status: str  # pending | paid | failed | refunded
    placed_at: float
    estimated_delivery_time: float
    delivery_status: str = "unassigned"
    rider_id: str | None = None
    rider_name: str | None = None
    prep_minutes: int | None = None
    confirmed_at: float | None = None
    estimated_ready_time: float | None = None
    ready_at: float | None = None
    picked_up_at: float | None = None
    delivered_at: float | None = None
    cancelled_at: float | None = None
    cancel_reason: str | None = None
    cancelled_by: str | None = None  # role value
    delivery_notes: str | None = None
    refund: Refund | None = None
    otps: dict[str, OtpRecord] = field(default_factory=dict)
    history: list[TrackingEntry] = field(default_factory=list)
    version: int = 0


@dataclass(slots=True)
class Vendor:
    id: str
    name: str
    owner_user_id: str
    latitude: float
    longitude: float


@dataclass(slots=True)
class User:
    id: str
    name: str
    role: str


@dataclass(slots=True)
class Rider:
    id: str
    name: str
    available: bool = False
    latitude: float | None = None
    longitude: float | None = None
    current_order_id: str | None = None
    location_updated_at: float | None = None

    @property
    def dispatchable(self) -> bool:
        return self.available and self.current_order_id is None and self.latitude is not None


class Timer(NamedTuple):
    """A rule that fires at ``due`` unless the order has moved on (stale timers do nothing).
    Immutable; a named tuple so pending timers cost the garbage collector nothing."""

    due: float
    kind: str  # confirm_timeout | pickup_timeout | payment_timeout | refund_step
    order_id: str
