"""What the spec allows each endpoint to answer, so a journey can tell a slow or failing server
(recorded, the run goes on) from one that breaks the rules (a failure with a reason). Status
fields are compared after mapping the spec's aliases to one code, since the spec itself uses two
names for some states."""

from __future__ import annotations

from typing import Any

from reference_api.statuses import ACTION_STATUS, OrderStatus, parse_status

#: The order status a successful call of each status-changing operation reports, spelled as its
#: section of the spec shows it (``statuses.ACTION_STATUS``, D1: confirm says
#: ``RESTAURANT_CONFIRMED``). Compared after mapping aliases (D21), so a target answering the
#: canonical code passes as well. The payment callback has two outcomes, checked on their own.
MOVES_TO: dict[str, str] = {
    action: code
    for action, moves in ACTION_STATUS.items()
    if len(moves) == 1
    for code in moves.values()
}
PAYMENT_OUTCOME: dict[bool, str] = {
    True: ACTION_STATUS["record_payment"][OrderStatus.PAYMENT_SUCCESS],
    False: ACTION_STATUS["record_payment"][OrderStatus.PAYMENT_FAILED],
}

#: Refusals a client must expect for a call the source planned to fail (a wrong OTP...).
REFUSALS = frozenset({400, 403, 409, 422, 423})
#: Statuses that mean "the target is struggling", not "the target broke a rule".
TRANSIENT = frozenset({0, 408, 425, 429, 500, 502, 503, 504})


_CANONICAL: dict[str, str] = {}


def canonical(code: object) -> str | None:
    """The canonical status code for a code or a spec alias; an unknown code is kept as is.
    Remembered per code (a few dozen exist), since every response of a journey asks."""
    if not isinstance(code, str):
        return None
    found = _CANONICAL.get(code)
    if found is not None:
        return found
    try:
        found = parse_status(code).value
    except ValueError:
        found = code
    if len(_CANONICAL) < 1024:  # a target inventing codes must not grow this without bound
        _CANONICAL[code] = found
    return found


def reported_status(operation: str, body: Any) -> str | None:
    """The order status a response body reports, wherever this endpoint puts it."""
    if not isinstance(body, dict):
        return None
    for key in ("order_status", "status", "new_status"):
        value = body.get(key)
        if isinstance(value, str) and value.isupper():
            return canonical(value)
    return None


def bundle_orders(value: object) -> tuple[str, ...] | None:
    """The orders of a bundle, in the sequence the server assigned them, from an order's
    ``bundle`` field or an ``order.assigned`` event's (``{"id", "orders": [...], ...}``; an
    extension, D25); None for an order travelling alone or a target without bundles."""
    if not isinstance(value, dict):
        return None
    orders = value.get("orders")
    if not isinstance(orders, list) or len(orders) < 2:
        return None
    if not all(isinstance(o, str) and o for o in orders):
        return None
    return tuple(orders)


_CREATED_OR_OK = frozenset({201, 200})
_OK = frozenset({200})


def success_codes(operation: str) -> frozenset[int]:
    return _CREATED_OR_OK if operation == "place_order" else _OK


def check_success(
    operation: str, status: int, body: Any, params: dict[str, Any], payment_method: str
) -> str | None:
    """None when a call planned to succeed got an answer the spec allows; else the reason."""
    if operation == "resend_otp" and status == 429:
        return None  # D7: at most one resend per 30 s; the old code stays valid
    if status not in success_codes(operation):
        return f"expected {'/'.join(map(str, sorted(success_codes(operation))))}, got {status}"
    if not isinstance(body, dict):
        return "response body is not a JSON object"
    if operation == "place_order":
        if not isinstance(body.get("id"), str):
            return "checkout response has no order id"
        want = "PAYMENT_PENDING" if payment_method == "online" else "ORDER_PLACED"
        got = canonical(body.get("order_status"))
        if got != want:
            return f"new {payment_method} order should be {want}, is {got}"
        return None
    if operation == "record_payment":
        want = PAYMENT_OUTCOME[bool(params.get("success", True))]
        got = reported_status(operation, body)
        return (
            None if got == canonical(want) else f"payment callback should give {want}, gave {got}"
        )
    want_move = MOVES_TO.get(operation)
    if want_move is not None:
        got = reported_status(operation, body)
        if got == canonical(want_move):
            return None
        return f"should report {want_move}, reported {body.get('status', got)}"
    if operation == "get_otp":
        code = body.get("otp")
        if not (isinstance(code, str) and len(code) == 6 and code.isdigit()):
            return f"OTP should be 6 digits, got {code!r}"
    if operation == "verify_otp" and body.get("verified") is not True:
        return "OTP verify answered 200 without verified=true"
    return None


def check_refusal(operation: str, status: int) -> str | None:
    """None when a call planned to be refused (wrong OTP) was refused as the spec allows."""
    if 200 <= status < 300:
        return f"server accepted a call it must refuse ({operation} with a wrong OTP): {status}"
    if status in REFUSALS:
        return None
    return f"expected a refusal (one of {sorted(REFUSALS)}), got {status}"
