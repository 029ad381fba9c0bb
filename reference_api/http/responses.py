"""What each operation answers, for the OpenAPI document: one model per success shape (the
spec's field names, strings for money and coordinates, RFC 3339 times), the one error shape, the
status codes each operation can give, and the links a stateful client follows from checkout.

Documentation only: routes still return the service's dicts rendered by orjson, and FastAPI
neither validates nor serialises through these models (``response_model=None``), so a request
costs what it did. What keeps the two honest is testing: Schemathesis checks every answer against
these schemas, and ``tests/server/test_documented_responses.py`` provokes every documented status
(and only those). Enums come from ``statuses``, ``states`` and ``roles``; error statuses from
``endpoints.SERVICE_ERRORS`` and the error classes themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from reference_api.endpoints import ENDPOINTS, SERVICE_ERRORS
from reference_api.errors import OrderflowError, ValidationFailed
from reference_api.http.auth import TokenExpired, TokenInvalid, Unauthorized
from reference_api.http.errors import HTTP_CODES, MALFORMED_JSON
from reference_api.http.schemas import ORDER_ID_PATTERN, OTP_PATTERN
from reference_api.permissions import TARGET_ACTION
from reference_api.roles import Role
from reference_api.service.otps import LIVE_IN
from reference_api.states import DeliveryStatus, PaymentMethod, PaymentStatus, RefundStatus
from reference_api.statuses import ALIASES, TRACKING_ONLY_NAMES, TRANSITIONS, OrderStatus


def _enum(values: Iterable[str], description: str | None = None) -> Any:
    return Field(json_schema_extra={"enum": list(values)}, description=description)


#: Canonical codes: what the detail, the list, the history and the events carry (D1).
Status = Annotated[str, _enum(OrderStatus)]
#: What an action endpoint may answer as ``status``: its section of the spec spells some states
#: with an alias (confirm answers ``RESTAURANT_CONFIRMED``), so any code or alias.
AnyStatus = Annotated[str, _enum([*OrderStatus, *ALIASES])]
#: A history entry also records assignment, which is not an order status (D2).
TrackedStatus = Annotated[str, _enum([*OrderStatus, *TRACKING_ONLY_NAMES])]
Uuid = Annotated[str, Field(pattern=ORDER_ID_PATTERN, json_schema_extra={"format": "uuid"})]
Money = Annotated[str, Field(pattern=r"^[0-9]+\.[0-9]{2}$", examples=["810.40"])]
Coordinate = Annotated[str, Field(pattern=r"^-?[0-9]+\.[0-9]{6}$", examples=["19.076000"])]
Instant = Annotated[
    str, Field(json_schema_extra={"format": "date-time"}, examples=["2024-01-15T10:30:00Z"])
]
Otp = Annotated[str, Field(pattern=OTP_PATTERN, examples=["123456"])]
OtpType = Annotated[str, _enum(LIVE_IN)]


class Shape(BaseModel):
    """Every field is always present (null where the spec allows none) and there are no others,
    so a renamed or extra field in an answer fails the schema check."""

    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------ orders
class OrderSummary(Shape):
    id: Uuid
    order_number: str = Field(examples=["ORD12345678"])
    order_status: Status
    order_status_name: str
    vendor: str
    vendor_name: str
    delivery_status: DeliveryStatus
    delivery_person: str | None
    total_amount: Money
    order_placed_at: Instant


class AvailableOrder(OrderSummary):
    restaurant_latitude: Coordinate
    restaurant_longitude: Coordinate


class DeliveryAddress(Shape):
    id: int
    title: str
    address_line_1: str
    latitude: Coordinate
    longitude: Coordinate


class OrderItem(Shape):
    menu_item: str | None
    name: str
    quantity: int = Field(ge=1)
    unit_price: Money
    total_price: Money


class Bundle(Shape):
    id: Uuid
    orders: list[Uuid] = Field(min_length=2, description="In delivery sequence.")
    position: int = Field(ge=1, description="This order's place in ``orders``, from 1.")


class OrderDetail(Shape):
    id: Uuid
    order_number: str = Field(examples=["ORD12345678"])
    user: str
    user_name: str
    vendor: str
    vendor_name: str
    order_status: Status
    order_status_name: str
    order_status_code: Status
    delivery_status: DeliveryStatus
    delivery_person: str | None
    delivery_person_name: str | None
    delivery_address: DeliveryAddress
    subtotal: Money
    delivery_fee: Money
    tax_amount: Money
    total_amount: Money
    payment_method: PaymentMethod
    payment_status: PaymentStatus
    refund_status: RefundStatus | None
    order_placed_at: Instant
    estimated_delivery_time: Instant
    estimated_ready_time: Instant | None
    actual_delivery_time: Instant | None
    cancellation_reason: str | None
    cancelled_by: Role | None
    items: list[OrderItem] = Field(min_length=1)
    customer_latitude: Coordinate
    customer_longitude: Coordinate
    restaurant_latitude: Coordinate
    restaurant_longitude: Coordinate
    bundle: Bundle | None = Field(
        description="Extension (D25): the orders one rider carries with this one, or null."
    )


class OrderPage(Shape):
    count: int = Field(ge=0)
    next: str | None = Field(json_schema_extra={"format": "uri"})
    previous: str | None = Field(json_schema_extra={"format": "uri"})
    results: list[OrderSummary]


class RestaurantQueue(Shape):
    count: int = Field(ge=0)
    orders: list[OrderSummary]


class AvailableOrders(Shape):
    count: int = Field(ge=0)
    orders: list[AvailableOrder]


class TrackingEntry(Shape):
    id: Uuid
    status: TrackedStatus
    status_name: str
    description: str
    created_at: Instant
    updated_by: str
    metadata: dict[str, Any] | None


class HistoryDocument(Shape):
    order_id: Uuid
    order_number: str
    history: list[TrackingEntry] = Field(min_length=1)


class Location(Shape):
    latitude: Coordinate
    longitude: Coordinate


class EtaDocument(Shape):
    order_id: Uuid
    estimated_delivery_time: Instant
    current_eta_minutes: int | None = Field(ge=0)
    status: Status
    delivery_person_location: Location | None
    customer_location: Location


# ------------------------------------------------------------------------------ actions
class StatusUpdate(Shape):
    success: bool
    order_id: Uuid
    order_number: str
    previous_status: Status
    new_status: AnyStatus
    status_name: str
    tracking_id: Uuid
    message: str


class ActionResult(Shape):
    """An action endpoint's answer: what it did and where the order now stands."""

    success: bool
    order_id: Uuid
    order_number: str
    status: AnyStatus
    message: str


class Confirmed(ActionResult):
    estimated_ready_time: Instant


class MarkedReady(ActionResult):
    ready_time: Instant


class Delivery(ActionResult):
    """The completed delivery. (Named for what it is, which also lets a client that infers
    dependencies from names, as Schemathesis does, see a delivery is something this API
    produces, and not take checkout's ``delivery_address`` for a reference to an unknown one.)"""

    actual_delivery_time: Instant


class Cancelled(ActionResult):
    """Cancellation and rejection: a refund is opened when an online payment was taken."""

    refund_status: RefundStatus | None


class OtpDocument(Shape):
    otp: Otp
    type: OtpType
    expires_at: Instant
    order_id: Uuid


class OtpVerified(Shape):
    success: bool
    verified: bool
    message: str


class OtpResent(Shape):
    success: bool
    type: OtpType
    expires_at: Instant
    order_id: Uuid
    resends_left: int = Field(ge=0)
    message: str


class RiderView(Shape):
    delivery_person: str
    name: str
    available: bool
    current_order: Uuid | None
    current_orders: list[Uuid] = Field(description="Every order held, in delivery sequence.")
    latitude: Coordinate | None
    longitude: Coordinate | None
    available_until: Instant | None = Field(description="When the shift ends (D28), if said.")


# ------------------------------------------------------------------------------ errors
class ErrorItem(Shape):
    field: str
    message: str


class ErrorBody(BaseModel):
    """What every error response carries; ``errors`` lists each problem when there are several."""

    detail: str
    code: str
    field: str | None = Field(description="path into the request, e.g. body.items[0].quantity")
    errors: list[ErrorItem] | None = Field(None, description="present when there are several")


SUCCESS: dict[str, tuple[type[BaseModel], str]] = {
    "place_order": (OrderDetail, "The new order's detail"),
    "list_orders": (OrderPage, "A page of the caller's orders"),
    "available_orders": (AvailableOrders, "Confirmed orders no rider has yet, oldest first"),
    "get_order": (OrderDetail, "The order's detail"),
    "update_status": (StatusUpdate, "The move and its history entry"),
    "record_payment": (ActionResult, "Payment recorded"),
    "confirm": (Confirmed, "Order confirmed"),
    "reject": (Cancelled, "Order rejected"),
    "start_preparing": (ActionResult, "Preparation started"),
    "mark_ready": (MarkedReady, "Order ready for pickup"),
    "restaurant_queue": (RestaurantQueue, "The restaurant's active orders"),
    "pickup": (ActionResult, "Order picked up"),
    "start_delivery": (ActionResult, "Delivery started"),
    "complete_delivery": (Delivery, "Order delivered"),
    "cancel": (Cancelled, "Order cancelled"),
    "get_otp": (OtpDocument, "The live code"),
    "verify_otp": (OtpVerified, "The code is right (it is not used up)"),
    "resend_otp": (OtpResent, "A new code was issued"),
    "history": (HistoryDocument, "Every status change and tracking event"),
    "eta": (EtaDocument, "The current estimate"),
    "set_rider_availability": (RiderView, "The rider as now recorded"),
    "update_rider_location": (RiderView, "The rider as now recorded"),
}

#: Refused before routing, for every operation (``authenticate.BearerAuthMiddleware``).
AUTH_ERRORS: tuple[type[OrderflowError], ...] = (Unauthorized, TokenInvalid, TokenExpired)


def error_codes(operation: str, *, has_parameters: bool, has_body: bool) -> dict[int, list[str]]:
    """Status -> the error codes ``operation`` can answer with it: the service's errors, 401,
    and what request validation adds (422 for a malformed parameter, 400 for malformed JSON)."""
    found: dict[int, list[str]] = {}

    def add(status: int, code: str) -> None:
        codes = found.setdefault(status, [])
        if code not in codes:
            codes.append(code)

    for error in (*AUTH_ERRORS, *SERVICE_ERRORS[operation]):
        add(error.status_code, error.code)
    if has_parameters:
        add(ValidationFailed.status_code, ValidationFailed.code)
    if has_body:
        add(400, MALFORMED_JSON)
    return dict(sorted(found.items()))


def responses_for(
    operation: str, *, status_code: int, has_parameters: bool, has_body: bool
) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: its success model and links, then each error status with
    the codes it carries."""
    model, description = SUCCESS[operation]
    success: dict[str, Any] = {"model": model, "description": description}
    links = LINKS.get(operation)
    if links:
        success["links"] = links
    out: dict[int | str, dict[str, Any]] = {status_code: success}
    codes = error_codes(operation, has_parameters=has_parameters, has_body=has_body)
    for status, names in codes.items():
        title = HTTP_CODES.get(status, "error").replace("_", " ")
        out[status] = {"model": ErrorBody, "description": f"{title}: {', '.join(names)}"}
    return out


# ------------------------------------------------------------------------------ links
def _on_order(target: str, source: str, **extra: str) -> dict[str, Any]:
    return {
        "operationId": target,
        "parameters": {"path.order_id": f"$response.body#/{source}", **extra},
    }


#: The statuses each action moves an order to (``permissions.TARGET_ACTION`` read backwards).
MOVES_TO: dict[str, list[OrderStatus]] = {
    action: [status for status, a in TARGET_ACTION.items() if a == action]
    for action in dict.fromkeys(TARGET_ACTION.values())
}

ORDER_OPERATIONS = [op for op, ep in ENDPOINTS.items() if "{order_id}" in ep.path and op in SUCCESS]


def _next_steps(action: str) -> dict[str, dict[str, Any]]:
    """From an action's answer, the actions the transition table allows next, and the code
    that becomes live (``otps.LIVE_IN``), so a stateful client can walk an order to the end."""
    links: dict[str, dict[str, Any]] = {}
    for status in MOVES_TO[action]:
        for after in sorted(TRANSITIONS[status]):
            step = TARGET_ACTION.get(after)
            if step is not None:
                links[step] = _on_order(step, "order_id")
        for kind, live in LIVE_IN.items():
            if status is live:
                links[f"get_{kind}_otp"] = _on_order("get_otp", "order_id", **{"query.type": kind})
    return links


def _with_code(target: str, **body: str) -> dict[str, Any]:
    """A link from an OTP document that hands on its code (pickup, completion, verification)."""
    return {**_on_order(target, "order_id"), "requestBody": body}


LINKS: dict[str, dict[str, dict[str, Any]]] = {
    "place_order": {op: _on_order(op, "id") for op in ORDER_OPERATIONS},
    **{action: _next_steps(action) for action in MOVES_TO},
    "get_otp": {
        "pickup": _with_code("pickup", otp="$response.body#/otp"),
        "complete_delivery": _with_code("complete_delivery", otp="$response.body#/otp"),
        "verify_otp": _with_code(
            "verify_otp", otp="$response.body#/otp", type="$response.body#/type"
        ),
        "resend_otp": _with_code("resend_otp", type="$response.body#/type"),
    },
    "resend_otp": {
        "get_otp": _on_order("get_otp", "order_id", **{"query.type": "$response.body#/type"})
    },
}
