"""Typed service errors. Each carries the HTTP status it maps to and a stable machine code,
so the HTTP adapter, the simulation and the load test classify failures the same way."""

from __future__ import annotations

import math


def shown(value: object) -> str:
    """A refused value as an error message quotes it, cut short: a client may send a string or
    an integer of any length (and Python will not write out an integer of many thousand digits,
    so quoting one whole would fail the very error that refuses it)."""
    if isinstance(value, int) and value.bit_length() > 200:
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class OrderflowError(Exception):
    status_code = 400
    code = "error"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class ValidationFailed(OrderflowError):
    status_code = 422
    code = "validation_error"


class NotFound(OrderflowError):
    """Missing, or not visible to the caller: the spec answers both with 404."""

    status_code = 404
    code = "not_found"


class Forbidden(OrderflowError):
    status_code = 403
    code = "forbidden"


class InvalidTransition(OrderflowError):
    status_code = 400
    code = "invalid_transition"


class Conflict(OrderflowError):
    status_code = 409
    code = "conflict"


class OtpInvalid(OrderflowError):
    status_code = 400
    code = "otp_invalid"


class OtpExpired(OrderflowError):
    status_code = 400
    code = "otp_expired"


class OtpLocked(OrderflowError):
    status_code = 423
    code = "otp_locked"


class OtpNotIssued(OrderflowError):
    status_code = 400
    code = "otp_not_issued"


class Throttled(OrderflowError):
    status_code = 429
    code = "throttled"

    def __init__(self, detail: str, *, retry_after: float) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class InvariantBroken(RuntimeError):
    """The service's own state contradicts itself (e.g. the dispatch index names a rider the
    store does not hold). A bug, never the caller's fault: not an ``OrderflowError``, so the HTTP
    layer answers 500 and the simulation stops, instead of vanishing under ``python -O`` as an
    ``assert`` would."""
