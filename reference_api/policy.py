"""Configurable limits of the rules (timeouts, OTP limits, fees, ETA model). One frozen object,
so the simulation's scenario file and the server's configuration set the same knobs."""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class Policy:
    # Auto-cancellation (D6)
    confirm_timeout_s: float = 600.0
    pickup_timeout_s: float = 1800.0
    payment_timeout_s: float = 900.0
    # OTPs (D7)
    pickup_otp_ttl_s: float = 900.0
    delivery_otp_ttl_s: float = 1800.0
    otp_max_attempts: int = 5
    otp_resend_interval_s: float = 30.0
    otp_max_resends: int = 3
    # Refunds (D8)
    refund_processing_delay_s: float = 60.0
    refund_settle_delay_s: float = 300.0
    refund_failure_rate: float = 0.0
    # Money
    delivery_fee: Decimal = Decimal("25.00")
    tax_rate: Decimal = Decimal("0.05")
    # ETA model (D10)
    rider_speed_kmh: float = 20.0
    detour_factor: float = 1.3
    default_prep_minutes: int = 20
    confirm_allowance_s: float = 300.0
    handover_s: float = 300.0
    # Dispatch
    dispatch_radius_km: float = 0.0  # 0 = unlimited

    def with_overrides(self, **changes: Any) -> Policy:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown policy field(s): {', '.join(unknown)}")
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Policy(**values)
