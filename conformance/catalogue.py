"""The rule catalogue: every rule `orderflow conform` checks, each with a stable id, its group and a
one-line description citing the spec section or decision (D-number) it comes from.

The transition and cancellation cells are generated from the reference tables
(``statuses.TRANSITIONS``, ``permissions.ACTION_ROLES``, ``permissions.CANCEL_FROM``), so a changed
rule changes the catalogue and the expected answers together; ``expect`` is the reference
server's answer to one cell, in the order it checks things (role, visibility, table).
"""

from __future__ import annotations

from dataclasses import dataclass

from reference_api.permissions import ACTION_ROLES, CANCEL_FROM
from reference_api.roles import Role
from reference_api.statuses import TRANSITIONS, OrderStatus

S = OrderStatus

#: Every role, in the order the table walks them.
ROLES: tuple[Role, ...] = (Role.CUSTOMER, Role.RESTAURANT, Role.RIDER, Role.SYSTEM)

#: The short status names rule ids use (stable: rule ids must not change with display names).
SHORT: dict[OrderStatus, str] = {
    S.ORDER_PLACED: "placed",
    S.PAYMENT_PENDING: "payment_pending",
    S.PAYMENT_SUCCESS: "payment_success",
    S.PAYMENT_FAILED: "payment_failed",
    S.ORDER_CONFIRMED: "confirmed",
    S.RESTAURANT_REJECTED: "rejected",
    S.PREPARING: "preparing",
    S.READY_FOR_PICKUP: "ready_for_pickup",
    S.ORDER_PICKED_UP: "picked_up",
    S.OUT_FOR_DELIVERY: "out_for_delivery",
    S.DELIVERED: "delivered",
    S.CANCELLED: "cancelled",
    S.REFUND_COMPLETED: "refund_completed",
}


@dataclass(frozen=True, slots=True)
class Move:
    """An action that moves an order: the permission it needs (``ACTION_ROLES``), the status it
    aims at, the endpoint that performs it (``reference_api.endpoints``) and where the rule is
    written down."""

    name: str
    permission: str
    target: OrderStatus
    operation: str
    verb: str
    ref: str


MOVES: tuple[Move, ...] = (
    Move("confirm", "confirm", S.ORDER_CONFIRMED, "confirm", "confirm", "spec 4, D4"),
    Move("reject", "reject", S.RESTAURANT_REJECTED, "reject", "reject", "D3, D17"),
    Move(
        "start_preparing", "start_preparing", S.PREPARING, "start_preparing", "start preparing",
        "spec 5, D4",
    ),
    Move("mark_ready", "mark_ready", S.READY_FOR_PICKUP, "mark_ready", "mark ready", "spec 6, D4"),
    Move("pickup", "pickup", S.ORDER_PICKED_UP, "pickup", "pick up", "spec 8, D4"),
    Move(
        "start_delivery", "start_delivery", S.OUT_FOR_DELIVERY, "start_delivery",
        "start delivery", "spec 9, D4",
    ),
    Move(
        "complete_delivery", "complete_delivery", S.DELIVERED, "complete_delivery",
        "complete delivery", "spec 10, D4",
    ),
    Move(
        "pay_success", "record_payment", S.PAYMENT_SUCCESS, "record_payment",
        "record a successful payment", "D17, D3",
    ),
    Move(
        "pay_failed", "record_payment", S.PAYMENT_FAILED, "record_payment",
        "record a failed payment", "D17, D3",
    ),
)  # fmt: skip
CANCEL = Move("cancel", "cancel", S.CANCELLED, "cancel", "cancel", "spec Order Cancellation, D5")
MOVE_BY_NAME: dict[str, Move] = {m.name: m for m in (*MOVES, CANCEL)}


def allowed(move: Move, status: OrderStatus, role: Role) -> bool:
    """Whether ``role`` acting on its own order (the assigned rider, for a rider) may do it."""
    if role not in ACTION_ROLES[move.permission]:
        return False
    if move is CANCEL:
        return status in CANCEL_FROM[role]
    return move.target in TRANSITIONS[status]


def cell_id(move: Move, status: OrderStatus, role: Role) -> str:
    verdict = "allowed" if allowed(move, status, role) else "refused"
    if move is CANCEL:
        return f"cancel.{SHORT[status]}.by_{role.value}.{verdict}"
    return f"transition.{SHORT[status]}->{SHORT[move.target]}.by_{role.value}.{verdict}"


@dataclass(frozen=True, slots=True)
class Expected:
    """The reference server's answer to one call: the HTTP status, the error ``code`` of the body
    (None for a success) and why, for the report."""

    status: int
    code: str | None
    why: str

    @property
    def ok(self) -> bool:
        return self.status == 200


def expect(
    move: Move,
    status: OrderStatus,
    role: Role,
    *,
    visible: bool = True,
    rider_assigned: bool = True,
    generic: bool = False,
) -> Expected:
    """The answer to ``role`` doing ``move`` on an order in ``status``. ``visible``: the caller
    owns the order (for a rider: is assigned to it). The dedicated endpoints check the role
    first (403), then the order (404), then the table (400); the generic ``POST /status/`` finds
    the order first (404), then routes to the same action (D11)."""
    role_ok = role in ACTION_ROLES[move.permission]
    forbidden = Expected(403, "forbidden", f"a {role.value} may not {move.verb} (D4)")
    hidden = Expected(404, "not_found", "not the caller's order (D4)")
    if generic and not visible:
        return hidden
    if not role_ok:
        return forbidden
    if not visible:
        return hidden
    if move is CANCEL:
        if status not in CANCEL_FROM[role]:
            return Expected(
                400, "invalid_transition", f"a {role.value} cannot cancel in {status.value} (D5)"
            )
        return Expected(200, None, f"a {role.value} may cancel in {status.value} (D5)")
    if move.target not in TRANSITIONS[status]:
        return Expected(
            400,
            "invalid_transition",
            f"{status.value} cannot move to {move.target.value} (spec Status Transitions)",
        )
    if move.target is S.ORDER_PICKED_UP and not rider_assigned:
        return Expected(409, "conflict", "no delivery partner assigned yet (D24)")
    return Expected(200, None, f"a {role.value} may {move.verb} in {status.value} ({move.ref})")


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    group: str
    description: str


def _cell_description(move: Move, status: OrderStatus, role: Role) -> str:
    who = f"a {role.value}" if role is not Role.RIDER else "the assigned rider"
    if allowed(move, status, role):
        return (
            f"{who} may {move.verb} an order in {status.value}: 200 with the action's answer, "
            f"then the detail, history and events show {move.target.value} ({move.ref})"
        )
    if role not in ACTION_ROLES[move.permission]:
        return f"{who} may not {move.verb}: 403 forbidden (D4)"
    if move is CANCEL:
        return f"{who} may not cancel an order in {status.value}: 400 invalid_transition (D5)"
    note = " (404 while no rider is assigned to the caller, D4)" if role is Role.RIDER else ""
    return (
        f"{who} may not {move.verb} an order in {status.value}: 400 invalid_transition, the "
        f"table has no {status.value} -> {move.target.value} (spec Status Transitions){note}"
    )


def _cells() -> list[Rule]:
    rules = []
    for status in OrderStatus:
        for role in ROLES:
            for move in MOVES:
                rules.append(
                    Rule(
                        cell_id(move, status, role),
                        "transition",
                        _cell_description(move, status, role),
                    )
                )
    for status in OrderStatus:
        for role in ROLES:
            rules.append(
                Rule(
                    cell_id(CANCEL, status, role), "cancel", _cell_description(CANCEL, status, role)
                )
            )
    return rules


#: Rules beyond the table cells, as (id, description); the group is the id's first part.
_OTHERS: tuple[tuple[str, str], ...] = (
    # authentication (D15)
    ("auth.missing_token_401", "no token: 401 not_authenticated with WWW-Authenticate (D15)"),
    ("auth.malformed_token_401", "a token that is not a JWT: 401 token_invalid (D15)"),
    ("auth.forged_token_401", "a token signed with another secret: 401 token_invalid (D15)"),
    ("auth.alg_none_401", "an unsigned (alg=none) token: 401 token_invalid (D15)"),
    ("auth.expired_token_401", "an expired token: 401 token_expired (D15)"),
    ("auth.error_body", "every 401 is the error shape {detail, code, field} (D14)"),
    # checkout (D3, D12, D17)
    ("checkout.cod_starts_placed", "a COD checkout answers 201 in ORDER_PLACED (D3, D17)"),
    (
        "checkout.online_starts_payment_pending",
        "an online checkout answers 201 in PAYMENT_PENDING, history ORDER_PLACED first (D3)",
    ),
    (
        "checkout.totals",
        "subtotal is the items' sum, tax 5 % of it, total = subtotal + fee + tax (D12)",
    ),
    ("checkout.order_number_format", "order numbers are ORD and 8 digits (D12)"),
    ("checkout.restaurant_refused", "only a customer may check out: 403 for a restaurant (D17)"),
    (
        "checkout.invalid_quantity_422",
        "a quantity of 0 is a 422 naming body.items[0].quantity (D14)",
    ),
    # access to someone else's order (D4)
    ("access.owners_can_read", "the customer, restaurant, assigned rider and system read it (D4)"),
    ("access.other_customer.detail_404", "another customer's order: 404 not_found (D4)"),
    ("access.other_customer.history_404", "another customer's order history: 404 (D4)"),
    ("access.other_customer.eta_404", "another customer's order ETA: 404 (D4)"),
    ("access.other_customer.cancel_404", "cancelling another customer's order: 404 (D4)"),
    ("access.other_restaurant.detail_404", "another restaurant's order: 404 not_found (D4)"),
    ("access.other_restaurant.confirm_404", "confirming another restaurant's order: 404 (D4)"),
    ("access.unassigned_rider.detail_404", "a rider not assigned to the order: 404 (D4)"),
    ("access.unassigned_rider.pickup_404", "a pickup by a rider not assigned: 404 (D4)"),
    ("access.unknown_order_404", "an order id that does not exist: 404 not_found (spec errors)"),
    ("access.malformed_id_422", "an order id that is not a UUID: 422 naming path.order_id (D14)"),
    # detail, ETA, history (spec 1, 14, 15)
    ("detail.shape", "GET /api/orders/{id}/ has the spec's fields, money and times typed (spec 1)"),
    (
        "detail.status_after_change",
        "after every change the detail shows the new status, canonical code (spec 1, D1)",
    ),
    (
        "detail.delivery_status_follows",
        "delivery_status follows assignment, pickup, delivery and cancellation (D2)",
    ),
    ("eta.shape", "GET /eta/ has the spec's fields (spec 15, D10)"),
    ("eta.finished_is_null", "a finished order's current_eta_minutes is null (D10)"),
    ("history.shape", "GET /history/ has the spec's fields per entry (spec 14)"),
    (
        "history.complete_and_ordered",
        "after every change the history lists every status in order, times not decreasing "
        "(spec Order Tracking, Status Transition Rules 4)",
    ),
    (
        "history.assignment_recorded",
        "an assigned order's history has a DELIVERY_PARTNER_ASSIGNED entry (D2)",
    ),
    # the generic status endpoint (D11)
    (
        "status_endpoint.answer_shape",
        "POST /status/ answers previous/new status and the history entry's id (spec 3)",
    ),
    ("status_endpoint.alias_accepted", "a spec alias as status_code moves to the canonical (D1)"),
    ("status_endpoint.same_guards", "POST /status/ refuses a role the action refuses: 403 (D11)"),
    (
        "status_endpoint.refund_completed_refused",
        "REFUND_COMPLETED cannot be set through POST /status/: 400 (D11)",
    ),
    ("status_endpoint.pickup_needs_otp", "a rider's pickup there needs metadata.otp: 422 (D11)"),
    (
        "status_endpoint.wrong_otp_refused",
        "a rider's pickup there with a wrong metadata.otp: 400 otp_invalid (D7, D11)",
    ),
    (
        "status_endpoint.system_override_unverified",
        "the system may deliver there without an OTP, recorded otp_verified false (D11)",
    ),
    ("status_endpoint.unknown_code_422", "an unknown status_code is a 422 (D14)"),
    (
        "status_endpoint.follows_table",
        "every generic move the state machine tried answered as its action would (D11)",
    ),
    # lists (spec 2, D9, D18), queues (spec 7, D13)
    ("list.shape", "GET /api/orders/ pages as {count, next, previous, results} (spec 2)"),
    ("list.page_size_respected", "a page holds page_size results, the last the rest (spec 2)"),
    (
        "list.links",
        "next/previous are absolute URLs of the same query with page replaced (D18)",
    ),
    ("list.pages_partition", "walking next visits count orders, none twice (spec 2, D18)"),
    ("list.status_filter", "status= lists only that status (spec 2)"),
    ("list.status_filter_alias", "status= takes the spec's aliases (D1)"),
    (
        "list.include_cancelled",
        "by default CANCELLED and REFUND_COMPLETED are hidden, nothing else (D9)",
    ),
    ("list.scoped_to_caller", "each role lists only its own orders (spec 2, D4)"),
    ("list.bad_parameters_422", "page 0, page_size 101, an unknown status: 422 naming it (D14)"),
    ("queue.shape_and_scope", "the restaurant queue lists the restaurant's own orders (spec 7)"),
    ("queue.customer_refused", "a customer may not read a restaurant queue: 403 (D4)"),
    ("available.shape", "GET /api/orders/available/ is {count, orders} for a rider (D13)"),
    ("available.customer_refused", "a customer may not list available orders: 403 (D4)"),
    # OTPs (spec OTP Verification, D7, D14)
    ("otp.pickup.not_issued_before_ready", "no pickup OTP before ready: 400 otp_not_issued (D7)"),
    ("otp.pickup.issued_at_ready", "the restaurant reads a 6-digit pickup OTP once ready (D7)"),
    ("otp.pickup.readers", "customer and rider may not read the pickup OTP: 403 (D7)"),
    (
        "otp.pickup.valid_for_spec_window",
        "the pickup OTP expires in the future, at most 15 min after issue (spec Pickup OTP)",
    ),
    (
        "otp.pickup.wrong_code_refused",
        "pickup with a wrong code: 400 otp_invalid, the order stays READY_FOR_PICKUP (D7, D14)",
    ),
    (
        "otp.pickup.expired_refused",
        "a pickup OTP past its expires_at is refused: 400 otp_expired (spec Pickup OTP, D7)",
    ),
    (
        "otp.pickup.resend_invalidates_old",
        "after a resend the old pickup code is refused and the new one works (D7)",
    ),
    (
        "otp.delivery.not_issued_before_start",
        "no delivery OTP before delivery starts: 400 otp_not_issued (D7)",
    ),
    ("otp.delivery.issued_at_start", "the customer reads a 6-digit delivery OTP once out (D7)"),
    ("otp.delivery.readers", "restaurant and rider may not read the delivery OTP: 403 (D7)"),
    (
        "otp.delivery.valid_for_spec_window",
        "the delivery OTP expires in the future, at most 30 min after issue (spec Delivery OTP)",
    ),
    (
        "otp.delivery.wrong_code_refused",
        "complete-delivery with a wrong code: 400 otp_invalid, the order stays OUT_FOR_DELIVERY "
        "(D7, D14)",
    ),
    (
        "otp.delivery.expired_refused",
        "a delivery OTP past its expires_at is refused: 400 otp_expired (spec Delivery OTP, D7)",
    ),
    (
        "otp.delivery.resend_invalidates_old",
        "after a resend the old delivery code is refused and the new one works (D7)",
    ),
    ("otp.verify.wrong_code_refused", "POST /otp/verify/ with a wrong code: 400 otp_invalid (D7)"),
    (
        "otp.verify.right_code_not_consumed",
        "verify answers verified=true and does not use the code up (D7)",
    ),
    ("otp.malformed_422_not_counted", "a code that is not 6 digits is a 422, not an attempt (D7)"),
    ("otp.lockout_after_5_wrong", "the 5th wrong code locks the OTP: 423 otp_locked (D7)"),
    ("otp.locked_refuses_right_code", "a locked OTP refuses even the right code: 423 (D7)"),
    ("otp.resend.too_soon_429", "a resend within the spacing is 429 with Retry-After (D7, D14)"),
    (
        "otp.resend.resets_attempts",
        "after a lockout a resend starts the count again: a wrong code is 400, not 423, and the "
        "new code works (D7)",
    ),
    ("otp.resend.used_code_409", "resending a used OTP is a 409 (D14)"),
    ("otp.used_code_refused", "a used pickup code no longer verifies: 400 otp_invalid (D7)"),
    # cancellation and refunds beyond the cells (D5, D8)
    ("cancel.restaurant_needs_reason", "a restaurant's cancellation without a reason: 422 (D5)"),
    ("refund.paid_cancel_pending", "cancelling a paid online order opens a refund pending (D8)"),
    ("refund.cod_cancel_none", "cancelling a COD order opens no refund (D8)"),
    (
        "refund.paid_reject_pending",
        "rejecting a paid online order opens a refund pending, as a cancellation does (D3, D8)",
    ),
    (
        "refund.completes",
        "the refund completes: REFUND_COMPLETED, payment refunded, refund completed (D8)",
    ),
    # WebSocket (spec Real-Time Updates, D16)
    (
        "ws.status_changed_after_each_change",
        "a subscriber hears order.status_changed with previous/new status for every change "
        "(spec Real-Time Updates, D16)",
    ),
    ("ws.event.assigned", "assignment is published as order.assigned (spec, D2)"),
    ("ws.event.ready_for_pickup", "mark-ready is published as order.ready_for_pickup (spec 6)"),
    ("ws.event.picked_up", "pickup is published as order.picked_up (spec Real-Time Updates)"),
    (
        "ws.event.out_for_delivery",
        "start-delivery is published as order.out_for_delivery (spec Real-Time Updates)",
    ),
    ("ws.event.delivered", "delivery is published as order.delivered (spec Real-Time Updates)"),
    ("ws.event.cancelled", "cancellation is published as order.cancelled (spec Real-Time Updates)"),
    ("ws.payload_shape", "every event has the spec's payload fields (spec Event Payload)"),
    ("ws.location_updated", "a rider's position reaches the order's watchers (D16, extension)"),
    ("ws.auth.missing_token_4401", "a subscription without a token closes with 4401 (D16)"),
    ("ws.auth.bad_token_4401", "a subscription with a bad token closes with 4401 (D16)"),
    ("ws.auth.other_customer_4404", "another customer's order closes with 4404 (D16)"),
    ("ws.auth.unknown_order_4404", "an order that does not exist closes with 4404 (D16)"),
    # sequences (the Hypothesis state machine)
    (
        "sequence.steps_match_model",
        "random sequences of actions by random roles answer as the reference model predicts "
        "(spec Status Transitions, D4, D5, D7)",
    ),
    (
        "sequence.history_matches_model",
        "after every step of a sequence the history is the model's path (spec Order Tracking)",
    ),
    (
        "sequence.ws_follows_history",
        "a subscriber hears the sequence's changes in the history's order (D16)",
    ),
)


def build() -> tuple[Rule, ...]:
    """The whole catalogue, cells first; ids are unique."""
    rules = [*_cells(), *(Rule(rid, rid.split(".", 1)[0], text) for rid, text in _OTHERS)]
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate rule ids in the catalogue")
    return tuple(rules)


CATALOGUE: tuple[Rule, ...] = build()
RULES: dict[str, Rule] = {r.id: r for r in CATALOGUE}
#: Groups in report order.
GROUPS: tuple[str, ...] = tuple(dict.fromkeys(r.group for r in CATALOGUE))
