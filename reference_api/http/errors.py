"""One error shape for every failure: ``{"detail": ..., "code": ..., "field": ...}``.

``field`` is a path into the request (``body.items[0].quantity``, ``query.page``,
``path.order_id``) so a client can point at what to fix. Typed service errors carry their own
status and code; FastAPI's request validation is rewritten to the same shape; anything else is
a bug, answered with a JSON 500 and logged with its traceback.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from reference_api.errors import OrderflowError, Throttled

log = logging.getLogger("orderflow.server")

HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    415: "unsupported_media_type",
    422: "validation_error",
    423: "locked",
    429: "throttled",
}
#: The code of a body that is not JSON (a 400; every other request problem is a 422).
MALFORMED_JSON = "malformed_json"


def error_response(
    status: int,
    detail: str,
    code: str,
    field: str | None = None,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail, "code": code, "field": field}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def located(exc: OrderflowError, where: str) -> OrderflowError:
    """Prefix a service error's field with where it came from in the request (body/query)."""
    if exc.field and not exc.field.startswith(("body", "query", "path")):
        old = exc.field
        exc.field = f"{where}.{old}"
        if exc.detail.startswith(old):
            exc.detail = f"{where}.{exc.detail}"
    return exc


def json_path(loc: Sequence[Any]) -> str:
    """``('body', 'items', 0, 'quantity')`` -> ``body.items[0].quantity``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _validation_items(exc: RequestValidationError) -> list[dict[str, Any]]:
    items = []
    for err in exc.errors():
        loc = err.get("loc", ())
        kind = err.get("type", "")
        if kind == "json_invalid":
            loc = tuple(p for p in loc if not isinstance(p, int)) or ("body",)
        path = json_path(loc) or "request"
        msg = str(err.get("msg", "invalid"))
        if kind == "value_error":
            msg = msg.removeprefix("Value error, ")
        item: dict[str, Any] = {"field": path, "message": msg, "type": kind}
        raw = err.get("input")
        if isinstance(raw, bytes) and path == "body":
            item["message"] = "expected a JSON object (send Content-Type: application/json)"
        elif kind not in ("missing", "json_invalid", "value_error") and "input" in err:
            item["message"] = f"{msg} (got {_short(raw)})"
        if kind == "json_invalid":
            ctx = err.get("ctx") or {}
            position = err.get("loc", ())[-1] if err.get("loc") else None
            where = f" at position {position}" if isinstance(position, int) else ""
            item["message"] = f"malformed JSON{where}: {ctx.get('error', msg)}"
        items.append(item)
    return items


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    items = _validation_items(exc)
    if not items:
        return error_response(422, "invalid request", "validation_error")
    first = items[0]
    malformed = first["type"] == "json_invalid"
    detail = "; ".join(f"{i['field']}: {i['message']}" for i in items[:5])
    if len(items) > 5:
        detail += f"; and {len(items) - 5} more"
    return error_response(
        400 if malformed else 422,
        detail,
        MALFORMED_JSON if malformed else "validation_error",
        first["field"],
        errors=[{"field": i["field"], "message": i["message"]} for i in items],
    )


async def _domain_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OrderflowError)
    headers = {}
    if isinstance(exc, Throttled):
        headers["Retry-After"] = str(max(0, math.ceil(exc.retry_after)))
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return error_response(exc.status_code, exc.detail, exc.code, exc.field, headers=headers)


async def _http_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    headers = getattr(exc, "headers", None)
    if status == 404:
        detail = f"no such endpoint: {request.method} {request.url.path}"
    elif status == 405:
        detail = f"method {request.method} not allowed on {request.url.path}"
        headers = {**(headers or {}), "Allow": allowed_methods(request)}
    return error_response(status, detail, HTTP_CODES.get(status, "error"), headers=headers)


def allowed_methods(request: Request) -> str:
    """Every method some route serves at the request's path (RFC 9110's ``Allow``). Starlette's
    405 names the methods of the first route that matched the path only, and one path may have
    several routes (``GET`` and ``POST /api/orders/`` are two operations)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        route_methods = getattr(route, "methods", None)
        if route_methods and route.matches(request.scope)[0] is not Match.NONE:
            methods.update(route_methods)
    return ", ".join(sorted(methods))


async def _bug_handler(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal server error (logged)", "internal_error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(OrderflowError, _domain_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(Exception, _bug_handler)
