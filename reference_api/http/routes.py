"""The HTTP routes: one thin function per operation of ``reference_api.endpoints``.

Each parses its input (FastAPI/pydantic), authenticates, runs the service method on the
service runner and returns the service's answer as JSON. Methods and paths come from the
endpoint catalogue, so the server, the simulation and the load test name operations alike.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from reference_api.endpoints import ENDPOINTS
from reference_api.errors import OrderflowError
from reference_api.http import schemas as s
from reference_api.http.auth import Unauthorized, actor_from_token
from reference_api.http.errors import ERROR_RESPONSES, located
from reference_api.http.runner import ServiceRunner
from reference_api.roles import Actor
from reference_api.service import OrderService

F = TypeVar("F", bound=Callable[..., Any])

_bearer = HTTPBearer(auto_error=False, description="JWT (HS256) from `orderflow token`")


def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    if credentials is None:
        header = request.headers.get("authorization")
        if header:
            raise Unauthorized("Authorization header must be 'Bearer <token>'")
        raise Unauthorized("authentication required: send 'Authorization: Bearer <token>'")
    return actor_from_token(credentials.credentials, request.app.state.secret)


Caller = Annotated[Actor, Depends(authenticate)]

router = APIRouter()


def _tag(path: str) -> str:
    if path.startswith("/api/restaurants/"):
        return "restaurant"
    if path.startswith("/api/riders/"):
        return "rider"
    return "orders"


def operation(op: str, *, status_code: int = 200, summary: str | None = None) -> Callable[[F], F]:
    """Register a route for catalogue operation ``op``; extensions are tagged and marked."""
    ep = ENDPOINTS[op]
    tags: list[str | Any] = [_tag(ep.path)]
    extra = None
    if ep.extension:
        tags.append("extension")
        extra = {"x-extension": True}
    return router.api_route(
        ep.path,
        methods=[ep.method],
        name=op,
        operation_id=op,
        status_code=status_code,
        tags=tags,
        summary=summary,
        openapi_extra=extra,
        response_class=JSONResponse,
        responses=ERROR_RESPONSES,
    )


async def _call(
    request: Request,
    fn: Callable[..., dict[str, Any]],
    *args: Any,
    where: str = "body",
    http_status: int = 200,
    **kwargs: Any,
) -> JSONResponse:
    runner: ServiceRunner = request.app.state.runner
    try:
        result = await runner.call(fn, *args, **kwargs)
    except OrderflowError as exc:
        raise located(exc, where) from None
    return JSONResponse(result, status_code=http_status)


def _svc(request: Request) -> OrderService:
    service: OrderService = request.app.state.runner.service
    return service


# ------------------------------------------------------------------------------ orders
@operation("place_order", status_code=201, summary="Checkout: place an order (extension)")
async def place_order(request: Request, actor: Caller, body: s.PlaceOrderIn) -> JSONResponse:
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
    actor: Caller,
    status: Annotated[str | None, Query(description="status code (aliases accepted)")] = None,
    include_cancelled: bool = False,
    page: int = 1,
    page_size: int = 20,
) -> JSONResponse:
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
    return JSONResponse(result)


@operation("available_orders", summary="Orders waiting for a delivery partner")
async def available_orders(request: Request, actor: Caller) -> JSONResponse:
    return await _call(request, _svc(request).available_orders, actor)


@operation("get_order", summary="Get order details")
async def get_order(request: Request, actor: Caller, order_id: uuid.UUID) -> JSONResponse:
    return await _call(request, _svc(request).get_order, actor, str(order_id))


@operation("update_status", summary="Update order status (generic)")
async def update_status(
    request: Request, actor: Caller, order_id: uuid.UUID, body: s.StatusIn
) -> JSONResponse:
    return await _call(
        request,
        _svc(request).update_status,
        actor,
        str(order_id),
        status_code=body.status_code,
        reason=body.reason,
        metadata=body.metadata,
    )


@operation("record_payment", summary="Payment gateway callback (extension, role system)")
async def record_payment(
    request: Request, actor: Caller, order_id: uuid.UUID, body: s.PaymentIn
) -> JSONResponse:
    return await _call(
        request,
        _svc(request).record_payment,
        actor,
        str(order_id),
        success=body.status == "success",
        reference=body.transaction_id,
    )


# ------------------------------------------------------------------------------ restaurant
@operation("confirm", summary="Restaurant: confirm order")
async def confirm(
    request: Request, actor: Caller, order_id: uuid.UUID, body: s.ConfirmIn | None = None
) -> JSONResponse:
    prep = None if body is None else body.estimated_prep_time
    return await _call(
        request, _svc(request).confirm, actor, str(order_id), estimated_prep_time=prep
    )


@operation("reject", summary="Restaurant: reject order (extension)")
async def reject(
    request: Request, actor: Caller, order_id: uuid.UUID, body: s.RejectIn
) -> JSONResponse:
    return await _call(request, _svc(request).reject, actor, str(order_id), reason=body.reason)


@operation("start_preparing", summary="Restaurant: start preparing")
async def start_preparing(request: Request, actor: Caller, order_id: uuid.UUID) -> JSONResponse:
    return await _call(request, _svc(request).start_preparing, actor, str(order_id))


@operation("mark_ready", summary="Restaurant: mark ready for pickup")
async def mark_ready(request: Request, actor: Caller, order_id: uuid.UUID) -> JSONResponse:
    return await _call(request, _svc(request).mark_ready, actor, str(order_id))


@operation("restaurant_queue", summary="Restaurant: active orders")
async def restaurant_queue(request: Request, actor: Caller) -> JSONResponse:
    return await _call(request, _svc(request).restaurant_queue, actor)


# ------------------------------------------------------------------------------ rider
@operation("pickup", summary="Delivery partner: pick up (pickup OTP)")
async def pickup(
    request: Request, actor: Caller, order_id: uuid.UUID, body: s.PickupIn
) -> JSONResponse:
    return await _call(request, _svc(request).pickup, actor, str(order_id), otp=body.otp)


@operation("start_delivery", summary="Delivery partner: start delivery")
async def start_delivery(request: Request, actor: Caller, order_id: uuid.UUID) -> JSONResponse:
    return await _call(request, _svc(request).start_delivery, actor, str(order_id))


@operation("complete_delivery", summary="Delivery partner: complete delivery (delivery OTP)")
async def complete_delivery(
    request: Request, actor: Caller, order_id: uuid.UUID, body: s.CompleteDeliveryIn
) -> JSONResponse:
    return await _call(
        request,
        _svc(request).complete_delivery,
        actor,
        str(order_id),
        otp=body.otp,
        delivery_notes=body.delivery_notes,
    )


@operation("set_rider_availability", summary="Rider goes on/off duty (extension)")
async def set_rider_availability(
    request: Request, actor: Caller, body: s.AvailabilityIn
) -> JSONResponse:
    return await _call(
        request,
        _svc(request).set_rider_availability,
        actor,
        available=body.available,
        latitude=body.latitude,
        longitude=body.longitude,
    )


@operation("update_rider_location", summary="Rider position report (extension)")
async def update_rider_location(
    request: Request, actor: Caller, body: s.LocationIn
) -> JSONResponse:
    return await _call(
        request,
        _svc(request).update_rider_location,
        actor,
        latitude=body.latitude,
        longitude=body.longitude,
    )


# ------------------------------------------------------------------------------ everyone
@operation("cancel", summary="Cancel order")
async def cancel(
    request: Request, actor: Caller, order_id: uuid.UUID, body: s.CancelIn | None = None
) -> JSONResponse:
    reason = None if body is None else body.reason
    return await _call(request, _svc(request).cancel, actor, str(order_id), reason=reason)


@operation("get_otp", summary="Get order OTP")
async def get_otp(
    request: Request,
    actor: Caller,
    order_id: uuid.UUID,
    otp_type: Annotated[s.OtpType, Query(alias="type")] = "delivery",
) -> JSONResponse:
    return await _call(
        request, _svc(request).get_otp, actor, str(order_id), otp_type=otp_type, where="query"
    )


@operation("verify_otp", summary="Verify OTP (does not use it up)")
async def verify_otp(
    request: Request, actor: Caller, order_id: uuid.UUID, body: s.VerifyOtpIn
) -> JSONResponse:
    return await _call(
        request,
        _svc(request).verify_otp,
        actor,
        str(order_id),
        otp=body.otp,
        otp_type=body.type,
    )


@operation("resend_otp", summary="Resend OTP (new code; type in body or query)")
async def resend_otp(
    request: Request,
    actor: Caller,
    order_id: uuid.UUID,
    body: s.ResendOtpIn | None = None,
    otp_type: Annotated[s.OtpType | None, Query(alias="type")] = None,
) -> JSONResponse:
    kind = (body.type if body is not None else None) or otp_type or "delivery"
    return await _call(request, _svc(request).resend_otp, actor, str(order_id), otp_type=kind)


@operation("history", summary="Order status history")
async def history(request: Request, actor: Caller, order_id: uuid.UUID) -> JSONResponse:
    return await _call(request, _svc(request).history, actor, str(order_id))


@operation("eta", summary="Order ETA")
async def eta(request: Request, actor: Caller, order_id: uuid.UUID) -> JSONResponse:
    return await _call(request, _svc(request).eta, actor, str(order_id))
