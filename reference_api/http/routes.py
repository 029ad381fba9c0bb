"""The HTTP routes: one thin function per operation of ``reference_api.endpoints``.

Each parses its input (FastAPI/pydantic), takes the caller that ``authenticate`` verified, runs
the service method on the service runner and returns the service's answer as JSON. Methods and
paths come from the endpoint catalogue, so the server, the simulation and the load test name
operations alike.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import FastAPI, Path, Query, Request, Response
from fastapi.dependencies.utils import get_dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from reference_api.clock import from_iso
from reference_api.endpoints import ENDPOINTS
from reference_api.errors import OrderflowError, ValidationFailed, shown
from reference_api.http import schemas as s
from reference_api.http.authenticate import caller
from reference_api.http.detail import DetailReader
from reference_api.http.errors import located
from reference_api.http.json_body import BoundedJsonRoute
from reference_api.http.responses import responses_for
from reference_api.http.runner import ServiceRunner
from reference_api.service import OrderService
from reference_api.service.parsing import MAX_INSTANT, MAX_PAGE, MAX_PAGE_SIZE

F = TypeVar("F", bound=Callable[..., Any])


#: A path order id: declared as a string and parsed here, not by pydantic's UUID type, which
#: costs a tenth of a cheap read; malformed ids still answer 422 naming ``path.order_id``.
OrderId = Annotated[
    str,
    Path(
        description="order id (UUID)",
        json_schema_extra={"format": "uuid", "pattern": s.ORDER_ID_PATTERN},
    ),
]


#: The form every id is issued in: such a path id is its own canonical form.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def order_key(order_id: str) -> str:
    """The canonical (lower-case, hyphenated) form of a path order id."""
    if _CANONICAL_UUID.fullmatch(order_id):
        return order_id  # what str(uuid.UUID(order_id)) gives, without building the UUID
    try:
        return str(uuid.UUID(order_id))
    except ValueError:
        raise ValidationFailed(
            f"path.order_id: expected a UUID, got {order_id!r}", field="path.order_id"
        ) from None


#: Documented on every operation (the scheme is added in ``app.create_app``; the check is
#: ``authenticate.BearerAuthMiddleware``).
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def _tag(path: str) -> str:
    if path.startswith("/api/restaurants/"):
        return "restaurant"
    if path.startswith("/api/riders/"):
        return "rider"
    return "orders"


def json_response(content: Any, status_code: int = 200) -> Response:
    """orjson rather than the standard library: rendering is a large share of a cheap read."""
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json")


_OPERATIONS: list[tuple[Callable[..., Any], dict[str, Any]]] = []


def operation(op: str, *, status_code: int = 200, summary: str | None = None) -> Callable[[F], F]:
    """Declare the route for catalogue operation ``op``; extensions are tagged and marked."""
    ep = ENDPOINTS[op]
    tags: list[str | Any] = [_tag(ep.path)]
    extra: dict[str, Any] = {"security": SECURITY}
    if ep.extension:
        tags.append("extension")
        extra["x-extension"] = True
    options = {
        "path": ep.path,
        "methods": [ep.method],
        "name": op,
        "operation_id": op,
        "status_code": status_code,
        "tags": tags,
        "summary": summary,
        "openapi_extra": extra,
        "response_class": JSONResponse,
        # documented, never applied: the route answers a ready Response (orjson)
        "response_model": None,
    }

    def register(fn: F) -> F:
        """Document what the route can answer: what it reads decides whether FastAPI's request
        validation can refuse it (422) and whether it parses a JSON body (400)."""
        dependant = get_dependant(path=ep.path, call=fn)
        options["responses"] = responses_for(
            op,
            status_code=status_code,
            has_parameters=bool(
                dependant.path_params or dependant.query_params or dependant.body_params
            ),
            has_body=bool(dependant.body_params),
        )
        _OPERATIONS.append((fn, options))
        return fn

    return register


def install(app: FastAPI) -> None:
    """Add every operation straight to the app's router (not through an included router: each
    level of routers is another match per request). Routes are tried in order: the hottest read
    first, right after ``/api/orders/available/``, which must win over ``{order_id}``; then the
    catalogue's order."""
    first = ("available_orders", "get_order")
    rank = {op: i for i, op in enumerate((*first, *(op for op in ENDPOINTS if op not in first)))}
    for fn, options in sorted(_OPERATIONS, key=lambda item: rank[item[1]["name"]]):
        # a number literal of any length in a body reaches validation (json_body); reads have
        # no body, so they keep the plain route and its request object
        route = APIRoute if options["methods"] == ["GET"] else BoundedJsonRoute
        app.router.add_api_route(endpoint=fn, route_class_override=route, **options)


async def _call(
    request: Request,
    fn: Callable[..., dict[str, Any]],
    *args: Any,
    where: str = "body",
    http_status: int = 200,
    **kwargs: Any,
) -> Response:
    runner: ServiceRunner = request.app.state.runner
    try:
        result = await runner.call(fn, *args, **kwargs)
    except OrderflowError as exc:
        raise located(exc, where) from None
    return json_response(result, http_status)


def _svc(request: Request) -> OrderService:
    service: OrderService = request.app.state.runner.service
    return service


# ------------------------------------------------------------------------------ orders
@operation("place_order", status_code=201, summary="Checkout: place an order (extension)")
async def place_order(request: Request, body: s.PlaceOrderIn) -> Response:
    actor = caller(request)
    return await _call(
        request,
        _svc(request).place_order,
        actor,
        vendor_id=body.vendor,
        items=[i.model_dump() for i in body.items],
        delivery_address=body.delivery_address.model_dump(),
        payment_method=body.payment_method,
        http_status=201,
    )


@operation("list_orders", summary="List orders (role-based filtering)")
async def list_orders(
    request: Request,
    status: Annotated[
        str | None,
        Query(
            description="status code (aliases accepted)",
            json_schema_extra={"enum": s.STATUS_CODES},
        ),
    ] = None,
    include_cancelled: bool = False,
    page: Annotated[int, Query(json_schema_extra={"minimum": 1, "maximum": MAX_PAGE})] = 1,
    page_size: Annotated[
        int, Query(json_schema_extra={"minimum": 1, "maximum": MAX_PAGE_SIZE})
    ] = 20,
) -> Response:
    actor = caller(request)
    runner: ServiceRunner = request.app.state.runner
    try:
        result = await runner.call(
            runner.service.list_orders,
            actor,
            status=status,
            include_cancelled=include_cancelled,
            page=page,
            page_size=page_size,
        )
    except OrderflowError as exc:
        raise located(exc, "query") from None
    for key in ("next", "previous"):
        number = result[key]
        if number is not None:
            result[key] = str(request.url.include_query_params(page=number))
    return json_response(result)


@operation("available_orders", summary="Orders waiting for a delivery partner")
async def available_orders(request: Request) -> Response:
    actor = caller(request)
    return await _call(request, _svc(request).available_orders, actor)


@operation("get_order", summary="Get order details")
async def get_order(request: Request, order_id: OrderId) -> Response:
    actor = caller(request)
    runner: ServiceRunner = request.app.state.runner
    reader: DetailReader = request.app.state.detail_reader
    try:
        body = await runner.read(reader.detail, actor, order_key(order_id))
    except OrderflowError as exc:
        raise located(exc, "path") from None
    return Response(body, media_type="application/json")


@operation("update_status", summary="Update order status (generic)")
async def update_status(request: Request, order_id: OrderId, body: s.StatusIn) -> Response:
    actor = caller(request)
    return await _call(
        request,
        _svc(request).update_status,
        actor,
        order_key(order_id),
        status_code=body.status_code,
        reason=body.reason,
        metadata=body.metadata,
    )


@operation("record_payment", summary="Payment gateway callback (extension, role system)")
async def record_payment(request: Request, order_id: OrderId, body: s.PaymentIn) -> Response:
    actor = caller(request)
    return await _call(
        request,
        _svc(request).record_payment,
        actor,
        order_key(order_id),
        success=body.status == "success",
        reference=body.transaction_id,
    )


# ------------------------------------------------------------------------------ restaurant
@operation("confirm", summary="Restaurant: confirm order")
async def confirm(request: Request, order_id: OrderId, body: s.ConfirmIn | None = None) -> Response:
    actor = caller(request)
    prep = None if body is None else body.estimated_prep_time
    return await _call(
        request, _svc(request).confirm, actor, order_key(order_id), estimated_prep_time=prep
    )


@operation("reject", summary="Restaurant: reject order (extension)")
async def reject(request: Request, order_id: OrderId, body: s.RejectIn) -> Response:
    actor = caller(request)
    return await _call(
        request, _svc(request).reject, actor, order_key(order_id), reason=body.reason
    )


@operation("start_preparing", summary="Restaurant: start preparing")
async def start_preparing(request: Request, order_id: OrderId) -> Response:
    actor = caller(request)
    return await _call(request, _svc(request).start_preparing, actor, order_key(order_id))


@operation("mark_ready", summary="Restaurant: mark ready for pickup")
async def mark_ready(request: Request, order_id: OrderId) -> Response:
    actor = caller(request)
    return await _call(request, _svc(request).mark_ready, actor, order_key(order_id))


@operation("restaurant_queue", summary="Restaurant: active orders")
async def restaurant_queue(request: Request) -> Response:
    actor = caller(request)
    return await _call(request, _svc(request).restaurant_queue, actor)


# ------------------------------------------------------------------------------ rider
@operation("pickup", summary="Delivery partner: pick up (pickup OTP)")
async def pickup(request: Request, order_id: OrderId, body: s.PickupIn) -> Response:
    actor = caller(request)
    return await _call(request, _svc(request).pickup, actor, order_key(order_id), otp=body.otp)


@operation("start_delivery", summary="Delivery partner: start delivery")
async def start_delivery(request: Request, order_id: OrderId) -> Response:
    actor = caller(request)
    return await _call(request, _svc(request).start_delivery, actor, order_key(order_id))


@operation("complete_delivery", summary="Delivery partner: complete delivery (delivery OTP)")
async def complete_delivery(
    request: Request, order_id: OrderId, body: s.CompleteDeliveryIn
) -> Response:
    actor = caller(request)
    return await _call(
        request,
        _svc(request).complete_delivery,
        actor,
        order_key(order_id),
        otp=body.otp,
        delivery_notes=body.delivery_notes,
    )


@operation("set_rider_availability", summary="Rider goes on/off duty (extension)")
async def set_rider_availability(request: Request, body: s.AvailabilityIn) -> Response:
    actor = caller(request)
    return await _call(
        request,
        _svc(request).set_rider_availability,
        actor,
        available=body.available,
        latitude=body.latitude,
        longitude=body.longitude,
        until=None if body.available_until is None else _instant(body.available_until),
    )


def _instant(text: str, field: str = "body.available_until") -> float:
    """A body's date-time as epoch seconds. One beyond what a response can write (before 1970,
    after 9999: still valid RFC 3339) is taken as the nearest it can, which means the same to a
    shift's end, so every date-time the schema allows is accepted."""
    try:
        seconds = from_iso(text)
    except (ValueError, OverflowError):
        raise ValidationFailed(
            f"{field}: expected a date-time with a time zone, like '2024-01-15T22:00:00Z', "
            f"got {shown(text)}",
            field=field,
        ) from None
    return min(max(seconds, 0.0), float(MAX_INSTANT))


@operation("update_rider_location", summary="Rider position report (extension)")
async def update_rider_location(request: Request, body: s.LocationIn) -> Response:
    actor = caller(request)
    return await _call(
        request,
        _svc(request).update_rider_location,
        actor,
        latitude=body.latitude,
        longitude=body.longitude,
    )


# ------------------------------------------------------------------------------ everyone
@operation("cancel", summary="Cancel order")
async def cancel(request: Request, order_id: OrderId, body: s.CancelIn | None = None) -> Response:
    actor = caller(request)
    reason = None if body is None else body.reason
    return await _call(request, _svc(request).cancel, actor, order_key(order_id), reason=reason)


@operation("get_otp", summary="Get order OTP")
async def get_otp(
    request: Request,
    order_id: OrderId,
    otp_type: Annotated[s.OtpType, Query(alias="type")] = "delivery",
) -> Response:
    actor = caller(request)
    return await _call(
        request, _svc(request).get_otp, actor, order_key(order_id), otp_type=otp_type, where="query"
    )


@operation("verify_otp", summary="Verify OTP (does not use it up)")
async def verify_otp(request: Request, order_id: OrderId, body: s.VerifyOtpIn) -> Response:
    actor = caller(request)
    return await _call(
        request,
        _svc(request).verify_otp,
        actor,
        order_key(order_id),
        otp=body.otp,
        otp_type=body.type,
    )


@operation("resend_otp", summary="Resend OTP (new code; type in body or query)")
async def resend_otp(
    request: Request,
    order_id: OrderId,
    body: s.ResendOtpIn | None = None,
    otp_type: Annotated[s.OtpType | None, Query(alias="type")] = None,
) -> Response:
    actor = caller(request)
    kind = (body.type if body is not None else None) or otp_type or "delivery"
    return await _call(request, _svc(request).resend_otp, actor, order_key(order_id), otp_type=kind)


@operation("history", summary="Order status history")
async def history(request: Request, order_id: OrderId) -> Response:
    actor = caller(request)
    return await _call(request, _svc(request).history, actor, order_key(order_id))


@operation("eta", summary="Order ETA")
async def eta(request: Request, order_id: OrderId) -> Response:
    actor = caller(request)
    return await _call(request, _svc(request).eta, actor, order_key(order_id))
