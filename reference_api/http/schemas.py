"""Request bodies, as the spec shows them (plus the extensions' bodies).

Pydantic checks shapes and types and names the JSON path of what is wrong; range and business
checks stay in the service, the one place for each rule. The JSON Schema of each field still
states those checks (ranges, lengths, patterns, enums), read from the constants the service
checks against, so a request the schema allows is one the server accepts and a fuzzer's valid
requests reach the rules; the schema adds no work per request. Prices are decimal strings (or
whole numbers): a float cannot hold cents exactly (D12). Unknown fields are ignored, as a
tolerant reader of the spec's examples would.
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
    SkipValidation,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    WithJsonSchema,
)
from typing_extensions import TypeAliasType

from reference_api.fixtures import fixture_id
from reference_api.money import MAX_PRICE, PRICE_PATTERN
from reference_api.service.parsing import (
    MAX_EXACT_INT,
    MAX_ITEMS,
    MAX_METADATA_DEPTH,
    MAX_QUANTITY,
    PREP_MINUTES,
)
from reference_api.statuses import ALIASES, OrderStatus, parse_status

#: Every status code the server understands on input: canonical codes and the spec's aliases.
STATUS_CODES: list[Any] = [*OrderStatus, *ALIASES]
#: What ``otp.validate_format`` accepts: six ASCII digits.
OTP_PATTERN = r"^[0-9]{6}$"
#: A UUID in the form ids are issued in (``uuid.UUID`` also reads others; they are not promised).
ORDER_ID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def _not_blank() -> str:
    """A pattern for "not blank as ``str.strip`` sees it": at least one character it keeps.
    Spelled as a class of code points rather than ``\\s``, whose meaning differs between Python
    and the regex engines that read JSON Schema. Every whitespace character is in the BMP."""
    blank = [code for code in range(0x10000) if chr(code).isspace()]
    spans: list[list[int]] = []
    for code in blank:
        if spans and spans[-1][1] == code - 1:
            spans[-1][1] = code
        else:
            spans.append([code, code])
    parts = (f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in spans)
    return f"[^{''.join(parts)}]"


NOT_BLANK = _not_blank()


def _bounds(lo: int | float, hi: int | float) -> dict[str, Any]:
    return {"minimum": lo, "maximum": hi}


#: Integers a float holds exactly (JavaScript's "safe integers").
_EXACT = MAX_EXACT_INT + 1


def _whole(value: object) -> object:
    """JSON, and so JSON Schema's ``integer``, does not tell ``20.0`` from ``20``; the rules take
    whole numbers as ``int``. A float too large to be exact stays a float, refused as one."""
    if type(value) is float and value.is_integer() and -_EXACT < value < _EXACT:
        return int(value)
    return value


def _price(value: object) -> object:
    value = _whole(value)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"expected a decimal string like '12.50' or a whole number, got {value!r}")
    return str(value)


def _whole_minutes(value: object) -> object:
    """``metadata.estimated_prep_time`` is read as a confirmation's minutes (``_whole``)."""
    if isinstance(value, dict) and "estimated_prep_time" in value:
        return {**value, "estimated_prep_time": _whole(value["estimated_prep_time"])}
    return value


def _finite(value: object) -> object:
    """Free-form metadata is kept in the history and sent back as JSON: no NaN or Infinity
    (JSON has none), and integers within +-(2**53 - 1), the ones every JSON parser reads
    exactly (I-JSON, RFC 7493): a client reading a larger one back may get another number (a
    fuzzer's 64-bit boundary, written through a float, arrived as 2**63)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError("numbers must be finite (no NaN or Infinity)")
        if type(item) is int and not -_EXACT < item < _EXACT:
            raise ValueError(f"integers must be within +-{_EXACT - 1}")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return value


#: What ``metadata`` may hold (``_finite``, ``parsing.metadata``): JSON values, integers within
#: +-(2**53 - 1), no NaN or infinities.
#: Documented only (``SkipValidation``): the checks above run.
MetadataValue = TypeAliasType(
    "MetadataValue",
    "bool | Annotated[int, Field(ge=-_EXACT + 1, le=_EXACT - 1)] | "
    "Annotated[float, WithJsonSchema({'type': 'number', 'not': {'type': 'integer'}})] | str | "
    "list[MetadataValue] | dict[str, MetadataValue] | None",
)

Price = Annotated[
    str,
    BeforeValidator(_price),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": PRICE_PATTERN},
                {"type": "integer", **_bounds(0, int(MAX_PRICE))},
            ],
            "examples": ["374.00"],
        }
    ),
]
OtpType = Literal["pickup", "delivery"]
Otp = Annotated[str, Field(json_schema_extra={"pattern": OTP_PATTERN}, examples=["123456"])]
Instant = Annotated[
    StrictStr, Field(json_schema_extra={"format": "date-time"}, examples=["2024-01-15T22:00:00Z"])
]
#: Coordinates are documented in degrees; a server in planar geometry (D27) takes metres within
#: +-``geo.PLANAR_BOUND_M`` under the same names (the bounds are the service's to check).
Latitude = Annotated[StrictFloat, Field(json_schema_extra=_bounds(-90, 90), examples=[19.076])]
Longitude = Annotated[StrictFloat, Field(json_schema_extra=_bounds(-180, 180), examples=[72.8777])]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ItemIn(Body):
    name: str | None = Field(None, examples=["Margherita"])
    menu_item: str | None = Field(None, description="menu item id, if the client has one")
    quantity: Annotated[StrictInt, BeforeValidator(_whole)] = Field(
        json_schema_extra=_bounds(1, MAX_QUANTITY), examples=[2]
    )
    unit_price: Price


class AddressIn(Body):
    title: str = "Home"
    address_line_1: str = ""
    latitude: Latitude
    longitude: Longitude


class PlaceOrderIn(Body):
    vendor: str = Field(
        description="vendor (restaurant) id",
        examples=[fixture_id("vendor", 0)],  # the first vendor every reference server seeds
    )
    items: list[ItemIn] = Field(json_schema_extra={"minItems": 1, "maxItems": MAX_ITEMS})
    delivery_address: AddressIn
    payment_method: Literal["cod", "online"] = "cod"


PrepMinutes = Annotated[
    StrictInt | None,
    BeforeValidator(_whole),
    Field(description="minutes", json_schema_extra=_bounds(*PREP_MINUTES), examples=[20]),
]


class ConfirmIn(Body):
    estimated_prep_time: PrepMinutes = None


def _codes_for(status: OrderStatus) -> list[str]:
    return [code for code in STATUS_CODES if parse_status(code) is status]


def _when_target(statuses: tuple[OrderStatus, ...], then: dict[str, Any]) -> dict[str, Any]:
    codes = [code for status in statuses for code in _codes_for(status)]
    return {
        "if": {"properties": {"status_code": {"enum": codes}}, "required": ["status_code"]},
        "then": then,
    }


def _metadata(**properties: dict[str, Any]) -> dict[str, Any]:
    return {"properties": {"metadata": {"properties": properties}}}


S = OrderStatus
#: What the action a target status routes to checks (``service.status_route``): the prep time
#: of a confirmation, the reason of a rejection, the code of a pickup or a delivery.
_STATUS_RULES: list[Any] = [
    _when_target(
        (S.ORDER_CONFIRMED,),
        _metadata(estimated_prep_time={"type": ["integer", "null"], **_bounds(*PREP_MINUTES)}),
    ),
    _when_target(
        (S.RESTAURANT_REJECTED,),
        {
            "properties": {"reason": {"type": "string", "pattern": NOT_BLANK}},
            "required": ["reason"],
        },
    ),
    _when_target((S.ORDER_PICKED_UP,), _metadata(otp={"type": "string", "pattern": OTP_PATTERN})),
    _when_target(
        (S.DELIVERED,),
        _metadata(
            otp={"type": "string", "pattern": OTP_PATTERN},
            delivery_notes={"type": ["string", "null"]},
        ),
    ),
]


class StatusIn(Body):
    """A rider moving an order to ``ORDER_PICKED_UP`` or ``DELIVERED`` must send the code as
    ``metadata.otp`` (the system may record it without one); a restaurant cancelling must give a
    reason. The rules below are what every caller must meet."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"allOf": _STATUS_RULES})

    status_code: str = Field(json_schema_extra={"enum": STATUS_CODES}, examples=["ORDER_CONFIRMED"])
    reason: str | None = None
    metadata: Annotated[
        SkipValidation[dict[str, MetadataValue] | None],
        AfterValidator(_finite),
        AfterValidator(_whole_minutes),
    ] = Field(None, description=f"free-form JSON, nested at most {MAX_METADATA_DEPTH} deep")


class CancelIn(Body):
    reason: str | None = Field(
        None,
        description="required (not blank) when a restaurant cancels",
        examples=["Changed my mind"],
    )


class RejectIn(Body):
    reason: str = Field(json_schema_extra={"pattern": NOT_BLANK}, examples=["Out of stock"])


class PickupIn(Body):
    otp: Otp


class CompleteDeliveryIn(Body):
    otp: Otp
    delivery_notes: str | None = None


class VerifyOtpIn(Body):
    otp: Otp
    type: OtpType = "delivery"


class ResendOtpIn(Body):
    type: OtpType | None = None


class PaymentIn(Body):
    status: Literal["success", "failed"]
    transaction_id: str | None = None


class AvailabilityIn(Body):
    """A position is optional, but it is both coordinates or neither (``parsing.point``); so is
    the shift's end (D28), a date-time with a time zone, read by the route (``clock.from_iso``)."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "anyOf": [
                {
                    "properties": {"latitude": {"type": "number"}, "longitude": {"type": "number"}},
                    "required": ["latitude", "longitude"],
                },
                {"properties": {"latitude": {"type": "null"}, "longitude": {"type": "null"}}},
            ]
        },
    )

    available: StrictBool
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    available_until: Instant | None = Field(
        None,
        description="when the rider's shift ends: no order is given them that they would pick "
        "up later (extension, D28); cleared when they go off duty",
    )


class LocationIn(Body):
    latitude: Latitude
    longitude: Longitude
