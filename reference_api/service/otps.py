"""One-time codes (D7): issued when an order is ready (pickup) or out for delivery (delivery),
checked on pickup and completion, readable by their holders, resent on request."""

from __future__ import annotations

import math
from typing import Any

from reference_api import otp as otp_rules
from reference_api.errors import Conflict, Forbidden, InvalidTransition, OtpNotIssued, Throttled
from reference_api.model import Order, OtpRecord
from reference_api.permissions import OTP_READERS, OTP_RESENDERS
from reference_api.presenters import otp_document, otp_resent, otp_verified
from reference_api.roles import Actor, Role
from reference_api.service import parsing
from reference_api.service.core import Part
from reference_api.statuses import OrderStatus

#: The status in which each kind of code means something: its handover is pending.
LIVE_IN = {"pickup": OrderStatus.READY_FOR_PICKUP, "delivery": OrderStatus.OUT_FOR_DELIVERY}


class Otps(Part):
    def issue(self, order: Order, otp_type: str, now: float) -> OtpRecord:
        nonce = f"{self.rng.getrandbits(64):016x}"
        policy = self.policy
        ttl = policy.pickup_otp_ttl_s if otp_type == "pickup" else policy.delivery_otp_ttl_s
        old = order.otps.get(otp_type)
        record = OtpRecord(otp_type, nonce, now, now + ttl)
        if old is not None:
            record.resends = old.resends + 1
        order.otps[otp_type] = record
        return record

    @staticmethod
    def record(order: Order, otp_type: str) -> OtpRecord:
        record = order.otps.get(otp_type)
        if record is None:
            when = "marked ready" if otp_type == "pickup" else "out for delivery"
            raise OtpNotIssued(
                f"no {otp_type} OTP for order {order.order_number} yet: it is issued when the "
                f"order is {when} (status now {order.status.value})"
            )
        return record

    def check(self, order: Order, otp_type: str, candidate: object) -> OtpRecord:
        code = otp_rules.validate_format(candidate)
        record = self.record(order, otp_type)
        try:
            otp_rules.check(
                self.codec, order.id, record, code, self.clock.now(), self.policy.otp_max_attempts
            )
        except Exception:
            self.store.save_order(order)  # keep the counted attempt
            raise
        return record

    def consume(self, order: Order, otp_type: str, candidate: object) -> None:
        self.check(order, otp_type, candidate).consumed = True

    @staticmethod
    def require_live(order: Order, kind: str, verb: str) -> None:
        """A code means something only while its handover is pending; on a cancelled or
        finished order it is refused rather than reported as valid."""
        live = LIVE_IN[kind]
        if order.status is not live:
            raise InvalidTransition(
                f"{kind} OTP can only be {verb} while the order is {live.value}; "
                f"it is {order.status.value}"
            )

    # ------------------------------------------------------------------ endpoints
    def get(self, actor: Actor, order_id: str, otp_type: object) -> dict[str, Any]:
        kind = parsing.otp_type(otp_type)
        if actor.role not in OTP_READERS[kind]:
            raise Forbidden(
                f"role {actor.role.value!r} may not read the {kind} OTP; "
                f"only {' or '.join(sorted(r.value for r in OTP_READERS[kind]))}"
            )
        with self.store.transaction():
            order = self.visible(actor, order_id)
            record = self.record(order, kind)
            return otp_document(order, record, self.codec.code(order.id, kind, record.nonce))

    def verify(self, actor: Actor, order_id: str, otp: object, otp_type: object) -> dict[str, Any]:
        """Checks a code without using it up (the pickup/complete endpoints consume it)."""
        self.authorize(actor, "otp_verify")
        kind = parsing.otp_type(otp_type)
        with self.store.transaction():
            order = self.rider_order(actor, order_id)
            if not self.record(order, kind).consumed:  # a used code says "already used"
                self.require_live(order, kind, "verified")
            record = self.check(order, kind, otp)
            record.verified = True
            self.store.save_order(order)
            return otp_verified()

    def resend(self, actor: Actor, order_id: str, otp_type: object) -> dict[str, Any]:
        kind = parsing.otp_type(otp_type)
        if actor.role not in OTP_RESENDERS[kind]:
            raise Forbidden(f"role {actor.role.value!r} may not resend the {kind} OTP")
        with self.store.transaction():
            order = (
                self.rider_order(actor, order_id)
                if actor.role is Role.RIDER
                else self.visible(actor, order_id)
            )
            record = self.record(order, kind)
            if record.consumed:
                raise Conflict(f"{kind} OTP has already been used")
            self.require_live(order, kind, "resent")
            p = self.policy
            now = self.clock.now()
            if record.resends >= p.otp_max_resends:
                raise Throttled(
                    f"{kind} OTP resend limit ({p.otp_max_resends}) reached", retry_after=0.0
                )
            wait = record.issued_at + p.otp_resend_interval_s - now
            if wait > 0:
                raise Throttled(
                    f"{kind} OTP was sent {now - record.issued_at:.0f}s ago; "
                    f"retry in {math.ceil(wait)}s",
                    retry_after=wait,
                )
            new = self.issue(order, kind, now)
            self.track(
                order,
                order.status._value_,
                f"{kind.capitalize()} OTP resent",
                actor,
                {"otp_type": kind, "resend": new.resends},
                now,
            )
            self.store.save_order(order)
            return otp_resent(order, new, p.otp_max_resends - new.resends)
