"""Where a refund's outcome comes from. The reference service has no payment provider, so the
settlement is a strategy injected at construction: the server's default never fails; a scenario
that models failed refunds injects ``RandomFailures`` with a stream of its own, so refund
outcomes never share (or shift) the service's stream of ids and codes."""

from __future__ import annotations

import random
from typing import Protocol

from reference_api.model import Order, Refund


class RefundGateway(Protocol):
    def settles(self, order: Order, refund: Refund) -> bool:
        """True when the payment provider completes ``refund``; False when it fails."""
        ...


class AlwaysSettles:
    def settles(self, order: Order, refund: Refund) -> bool:
        return True


class RandomFailures:
    """Each refund fails with probability ``rate``, drawn from ``rng`` (one draw a refund)."""

    def __init__(self, rate: float, rng: random.Random) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"refund failure rate: expected 0..1, got {rate!r}")
        self.rate = rate
        self.rng = rng

    def settles(self, order: Order, refund: Refund) -> bool:
        return self.rng.random() >= self.rate


def gateway_for(failure_rate: float, rng: random.Random) -> RefundGateway:
    """The gateway a policy's ``refund_failure_rate`` asks for; ``rng`` is used only if it can
    fail, so a policy without failures draws nothing."""
    return AlwaysSettles() if failure_rate == 0 else RandomFailures(failure_rate, rng)
