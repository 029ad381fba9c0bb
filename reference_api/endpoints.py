"""The endpoint catalogue: one row per operation, naming the service method, the HTTP method,
the path (spec paths, trailing slashes) and the template name that statistics group by
(``[id]`` for the order id, as Locust users expect). The server routes, the simulation's API-call
log, the timeline export and the load test's request names all read this table."""

from __future__ import annotations

from dataclasses import dataclass


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
