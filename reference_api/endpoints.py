"""The endpoint catalogue: one row per operation, naming the service method, the HTTP method,
the path (spec paths, trailing slashes) and the template name that statistics group by
(``[id]`` for the order id, as Locust users expect). The server routes, the simulation's API-call
log, the timeline export and the load test's request names all read this table."""

from __future__ import annotations

from dataclasses import dataclass

from reference_api.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    OrderflowError,
    OtpExpired,
    OtpInvalid,
    OtpLocked,
    OtpNotIssued,
    Throttled,
    ValidationFailed,
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    operation: str  # service method name
    method: str
    path: str  # FastAPI-style path with {order_id}
    extension: bool = False  # not in the spec; needed by the flows

    @property
    def name(self) -> str:
        """Template name for statistics, e.g. ``POST /api/orders/[id]/pickup/``."""
        return f"{self.method} {self.path.replace('{order_id}', '[id]')}"

    def url(self, order_id: str | None = None) -> str:
        return self.path if order_id is None else self.path.replace("{order_id}", order_id)


_ROWS = (
    Endpoint("place_order", "POST", "/api/orders/", extension=True),
    Endpoint("list_orders", "GET", "/api/orders/"),
    Endpoint("available_orders", "GET", "/api/orders/available/"),
    Endpoint("get_order", "GET", "/api/orders/{order_id}/"),
    Endpoint("update_status", "POST", "/api/orders/{order_id}/status/"),
    Endpoint("record_payment", "POST", "/api/orders/{order_id}/payment/", extension=True),
    Endpoint("confirm", "POST", "/api/restaurants/orders/{order_id}/confirm/"),
    Endpoint("reject", "POST", "/api/restaurants/orders/{order_id}/reject/", extension=True),
    Endpoint("start_preparing", "POST", "/api/restaurants/orders/{order_id}/start-preparing/"),
    Endpoint("mark_ready", "POST", "/api/restaurants/orders/{order_id}/mark-ready/"),
    Endpoint("restaurant_queue", "GET", "/api/restaurants/orders/queue/"),
    Endpoint("pickup", "POST", "/api/orders/{order_id}/pickup/"),
    Endpoint("start_delivery", "POST", "/api/orders/{order_id}/start-delivery/"),
    Endpoint("complete_delivery", "POST", "/api/orders/{order_id}/complete-delivery/"),
    Endpoint("cancel", "POST", "/api/orders/{order_id}/cancel/"),
    Endpoint("get_otp", "GET", "/api/orders/{order_id}/otp/"),
    Endpoint("verify_otp", "POST", "/api/orders/{order_id}/otp/verify/"),
    Endpoint("resend_otp", "POST", "/api/orders/{order_id}/otp/resend/"),
    Endpoint("history", "GET", "/api/orders/{order_id}/history/"),
    Endpoint("eta", "GET", "/api/orders/{order_id}/eta/"),
    Endpoint("set_rider_availability", "POST", "/api/riders/me/availability/", extension=True),
    Endpoint("update_rider_location", "POST", "/api/riders/me/location/", extension=True),
    Endpoint("websocket", "WS", "/ws/orders/{order_id}/"),
)

ENDPOINTS: dict[str, Endpoint] = {e.operation: e for e in _ROWS}

_CHECKED_OTP = (ValidationFailed, OtpInvalid, OtpExpired, OtpLocked)
_ON_ORDER = (Forbidden, NotFound, InvalidTransition)

#: The typed errors each operation's service method can raise (``reference_api.errors``), so the
#: OpenAPI document lists every error status an operation can give and no other. The HTTP layer
#: adds its own (401 before routing, 422 for malformed parameters, 400 for malformed JSON; see
#: ``reference_api.http.responses``); ``tests/server/test_documented_responses.py`` provokes
#: each one, so a rule that gains a new refusal fails there until it is listed here.
SERVICE_ERRORS: dict[str, tuple[type[OrderflowError], ...]] = {
    "place_order": (Forbidden, ValidationFailed, NotFound),
    "list_orders": (ValidationFailed,),
    "available_orders": (Forbidden,),
    "get_order": (NotFound,),
    "update_status": (*_ON_ORDER, *_CHECKED_OTP),
    "record_payment": _ON_ORDER,
    "confirm": (*_ON_ORDER, ValidationFailed),
    "reject": (*_ON_ORDER, ValidationFailed),
    "start_preparing": _ON_ORDER,
    "mark_ready": _ON_ORDER,
    "restaurant_queue": (Forbidden,),
    "pickup": (*_ON_ORDER, *_CHECKED_OTP),
    "start_delivery": _ON_ORDER,
    "complete_delivery": (*_ON_ORDER, *_CHECKED_OTP),
    "cancel": (*_ON_ORDER, ValidationFailed),
    "get_otp": (Forbidden, NotFound, ValidationFailed, OtpNotIssued),
    "verify_otp": (*_ON_ORDER, *_CHECKED_OTP, OtpNotIssued),
    "resend_otp": (*_ON_ORDER, ValidationFailed, OtpNotIssued, Conflict, Throttled),
    "history": (NotFound,),
    "eta": (NotFound,),
    "set_rider_availability": (Forbidden, NotFound, ValidationFailed),
    "update_rider_location": (Forbidden, NotFound, ValidationFailed),
}
