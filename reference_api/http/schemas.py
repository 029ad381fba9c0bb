"""Request bodies, as the spec shows them (plus the extensions' bodies).

Pydantic checks shapes and types and names the JSON path of what is wrong; range and business
checks stay in the service, the one place for each rule. Prices are decimal strings (or whole
numbers): a float cannot hold cents exactly (D12). Unknown fields are ignored, as a tolerant
reader of the spec's examples would.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
)


def _price(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"expected a decimal string like '12.50' or a whole number, got {value!r}")
    return str(value)


INT64 = 2**63


def _finite(value: object) -> object:
    """Free-form metadata is kept in the history and sent back as JSON: no NaN or Infinity
    (JSON has none), integers within 64 bits (what JSON parsers agree on)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError("numbers must be finite (no NaN or Infinity)")
        if isinstance(item, int) and not -INT64 <= item < INT64:
            raise ValueError("integers must fit in 64 bits")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return value


Price = Annotated[str, BeforeValidator(_price), Field(examples=["374.00"])]
OtpType = Literal["pickup", "delivery"]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ItemIn(Body):
    name: str | None = Field(None, examples=["Margherita"])
    menu_item: str | None = Field(None, description="menu item id, if the client has one")
    quantity: StrictInt = Field(examples=[2])
    unit_price: Price


class AddressIn(Body):
    title: str = "Home"
    address_line_1: str = ""
    latitude: float = Field(examples=[19.076])
    longitude: float = Field(examples=[72.8777])


class PlaceOrderIn(Body):
    vendor: str = Field(description="vendor (restaurant) id")
    items: list[ItemIn]
    delivery_address: AddressIn
    payment_method: Literal["cod", "online"] = "cod"


class ConfirmIn(Body):
    estimated_prep_time: StrictInt | None = Field(None, description="minutes", examples=[20])


class StatusIn(Body):
    status_code: str = Field(examples=["ORDER_CONFIRMED"])
    reason: str | None = None
    metadata: Annotated[dict[str, Any] | None, AfterValidator(_finite)] = None


class CancelIn(Body):
    reason: str | None = Field(None, examples=["Changed my mind"])


class RejectIn(Body):
    reason: str = Field(examples=["Out of stock"])


class PickupIn(Body):
    otp: str = Field(examples=["123456"])


class CompleteDeliveryIn(Body):
    otp: str = Field(examples=["654321"])
    delivery_notes: str | None = None


class VerifyOtpIn(Body):
    otp: str
    type: OtpType = "delivery"


class ResendOtpIn(Body):
    type: OtpType | None = None


class PaymentIn(Body):
    status: Literal["success", "failed"]
    transaction_id: str | None = None


class AvailabilityIn(Body):
    available: StrictBool
    latitude: float | None = None
    longitude: float | None = None


class LocationIn(Body):
    latitude: float
    longitude: float
