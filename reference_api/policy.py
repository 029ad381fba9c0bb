"""Configurable limits of the rules (timeouts, OTP limits, fees, ETA model). One frozen object,
so the simulation's scenario file and the server's configuration set the same knobs."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from reference_api.geo import Geometry


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
    #: > 0: planar geometry, coordinates in metres ridden at this pace in whole minutes (D27)
    metres_per_minute: float = 0.0
    # Riders' shifts (D28): how long a rider needs at the restaurant before taking the food
    pickup_lead_s: float = 0.0

    def __post_init__(self) -> None:
        """Refuse nonsense at construction (a scenario file or ``--policy`` flag is input), naming
        the field, rather than let a negative timeout or a rate of 3 quietly bend the rules."""
        for name in _DURATIONS:
            _require_number(name, getattr(self, name), lo=0.0)
        _require_number("refund_failure_rate", self.refund_failure_rate, lo=0.0, hi=1.0)
        _require_number("rider_speed_kmh", self.rider_speed_kmh, lo=0.0, open_lo=True)
        _require_number("detour_factor", self.detour_factor, lo=0.0, open_lo=True)
        _require_number("metres_per_minute", self.metres_per_minute, lo=0.0)
        _require_int("otp_max_attempts", self.otp_max_attempts, lo=1)
        _require_int("otp_max_resends", self.otp_max_resends, lo=0)
        _require_int("default_prep_minutes", self.default_prep_minutes, lo=1, hi=240)
        for name, hi in (("delivery_fee", None), ("tax_rate", Decimal(1))):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise ValueError(f"policy {name}: expected a non-negative Decimal, got {value!r}")
            if hi is not None and value > hi:
                raise ValueError(f"policy {name}: must be at most {hi}, got {value!r}")

    @property
    def geometry(self) -> Geometry:
        """The travel model of the ETA and of dispatch: speed and detour, or planar pace (one
        shared object per setting: the ETA asks for it on every order)."""
        return _geometry(self.rider_speed_kmh, self.detour_factor, self.metres_per_minute)

    def with_overrides(self, **changes: Any) -> Policy:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown policy field(s): {', '.join(unknown)}")
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Policy(**values)


@functools.lru_cache(maxsize=16)
def _geometry(speed_kmh: float, detour_factor: float, metres_per_minute: float) -> Geometry:
    return Geometry(speed_kmh, detour_factor, metres_per_minute)


_DURATIONS = (
    "confirm_timeout_s",
    "pickup_timeout_s",
    "payment_timeout_s",
    "pickup_otp_ttl_s",
    "delivery_otp_ttl_s",
    "otp_resend_interval_s",
    "refund_processing_delay_s",
    "refund_settle_delay_s",
    "confirm_allowance_s",
    "handover_s",
    "pickup_lead_s",
)


def _require_number(
    name: str, value: object, *, lo: float, hi: float = math.inf, open_lo: bool = False
) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"policy {name}: expected a finite number, got {value!r}")
    if value < lo or value > hi or (open_lo and value == lo):
        bound = f"> {lo:g}" if open_lo else f">= {lo:g}"
        if hi != math.inf:
            bound += f" and <= {hi:g}"
        raise ValueError(f"policy {name}: must be {bound}, got {value!r}")


def _require_int(name: str, value: object, *, lo: int, hi: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"policy {name}: expected a whole number, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        span = f">= {lo}" if hi is None else f"between {lo} and {hi}"
        raise ValueError(f"policy {name}: must be {span}, got {value!r}")
