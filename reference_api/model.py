"""The order aggregate and the records it owns. Plain mutable slotted classes: the service
mutates them inside a store transaction; stores persist them. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from reference_api.states import (
    DeliveryStatus,
    PaymentMethod,
    PaymentStatus,
    RefundStatus,
    TimerKind,
)
from reference_api.statuses import OrderStatus


def uuid4_text(bits: int) -> str:
    """The canonical text of a version-4 UUID whose 128 bits (version and variant already set)
    are ``bits``: ``str(uuid.UUID(int=bits))``, formatted by hand (a journey draws nine ids, and
    ``uuid.UUID`` validates and converts on every construction)."""
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class TrackingEntry:
    """One line of an order's history. ``id`` may be given as the UUID's 128 bits and is then
    formatted on first read: a simulated order writes about ten entries, and the simulation
    reads none of their ids. An entry owns its ``metadata`` dict (the service builds one per
    entry and never hands it out to be changed)."""

    __slots__ = (
        "_id",
        "_metadata",
        "actor_id",
        "actor_role",
        "created_at",
        "description",
        "status",
        "updated_by",
    )

    def __init__(
        self,
        id: str | int,
        status: str,
        description: str,
        created_at: float,
        updated_by: str,
        actor_role: str,
        actor_id: str,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._id = id
        self.status = status
        self.description = description
        self.created_at = created_at
        self.updated_by = updated_by
        self.actor_role = actor_role
        self.actor_id = actor_id
        self._metadata = metadata or None  # most entries have none: no empty dict each

    @property
    def metadata(self) -> dict[str, Any]:
        found = self._metadata
        return {} if found is None else found

    @property
    def id(self) -> str:
        found = self._id
        if type(found) is int:
            found = self._id = uuid4_text(found)
        return found  # type: ignore[return-value]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TrackingEntry):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaced

    def _fields(self) -> tuple[Any, ...]:
        return (
            self.id,
            self.status,
            self.description,
            self.created_at,
            self.updated_by,
            self.actor_role,
            self.actor_id,
            self.metadata,
        )

    def __repr__(self) -> str:
        return f"TrackingEntry(id={self.id!r}, status={self.status!r}, at={self.created_at!r})"


@dataclass(slots=True)
class OtpRecord:
    """An issued OTP. The code is not kept, nor any hash of it: it is derived from the server
    secret, the order and ``nonce`` when an authorised reader asks or a rider enters one (D7)."""

    type: str
    nonce: str
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
    status: RefundStatus
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
    payment_method: PaymentMethod
    payment_status: PaymentStatus
    placed_at: float
    estimated_delivery_time: float
    delivery_status: DeliveryStatus = DeliveryStatus.UNASSIGNED
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
    #: set when the rider took this order with others from the same restaurant (D25): the
    #: bundle's id and its orders in the sequence the strategy chose
    bundle_id: str | None = None
    bundle: list[str] | None = None


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
    location_updated_at: float | None = None
    #: the orders the rider holds, in the sequence they deliver them (several: a bundle, D25)
    order_ids: tuple[str, ...] = ()
    #: when the rider's shift ends (epoch seconds; None: no end): no order is given them that
    #: they would pick up later (D28); cleared when they go off duty
    available_until: float | None = None

    @property
    def current_order_id(self) -> str | None:
        """The first order the rider holds (the one they are working on), if any."""
        held = self.order_ids
        return held[0] if held else None

    @property
    def dispatchable(self) -> bool:
        return self.available and not self.order_ids and self.latitude is not None


class Timer(NamedTuple):
    """A rule that fires at ``due`` unless the order has moved on (stale timers do nothing).
    Immutable; a named tuple so pending timers cost the garbage collector nothing."""

    due: float
    kind: TimerKind
    order_id: str
