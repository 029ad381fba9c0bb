"""Independent random streams, one per component, spawned from one seed.

Replication ``r`` uses child ``r`` of ``SeedSequence(seed)``; inside it each component gets its
own named child, always in the order of ``STREAMS``. So two runs that differ only in fleet size
draw the same arrivals, the same prep times and the same customer decisions for the same order
(common random numbers), and adding a stream at the end never shifts the others.
"""

from __future__ import annotations

import random

import numpy as np

from reference_api.service.refunds import RefundGateway, gateway_for

STREAMS = (
    "city",
    "arrivals",
    "kitchen",
    "behaviour",
    "payment",
    "riders",
    "handover",
    "otp",
    "service",
    "refunds",
)


def replication_seed(seed: int, replication: int) -> np.random.SeedSequence:
    """Child ``replication`` of ``SeedSequence(seed)`` (what ``spawn`` would hand out)."""
    return np.random.SeedSequence(seed).spawn(replication + 1)[replication]


def streams(seed: int, replication: int) -> dict[str, np.random.Generator]:
    children = replication_seed(seed, replication).spawn(len(STREAMS))
    return {name: np.random.default_rng(ss) for name, ss in zip(STREAMS, children, strict=True)}


def service_rng(gen: np.random.Generator) -> random.Random:
    """The reference service draws ids, order numbers and OTP nonces from a ``random.Random``;
    seed it from its own stream so it never perturbs the model's draws."""
    return random.Random(int(gen.integers(0, 2**63 - 1)))


def refund_gateway(failure_rate: float, gen: np.random.Generator) -> RefundGateway:
    """Refund outcomes from their own stream: whether a refund fails never depends on how many
    ids or codes the service drew before it."""
    return gateway_for(failure_rate, random.Random(int(gen.integers(0, 2**63 - 1))))
