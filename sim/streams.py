"""Independent random streams, one per component, spawned from one seed.

Replication ``r`` uses child ``r`` of ``SeedSequence(seed)``; inside it each component gets its
own named child, always in the order of ``STREAMS``. So two runs that differ only in fleet size
draw the same arrivals, the same prep times and the same customer decisions for the same order
(common random numbers), and adding a stream at the end never shifts the others.

Entities (vendors, customers, riders) are addressed the same way, one level down: entity ``i``
of a kind takes its draws from block ``i // ENTITY_BLOCK`` of that kind, and each block has a
seed of its own (``entity_block``). So entity ``i`` gets the same attributes whatever the
counts: a fleet of ``N + 1`` riders is the fleet of ``N`` plus one, and more vendors never move
a customer's home.
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

#: Entities drawn by index, each kind from its own seeds under its parent stream. Like
#: ``STREAMS``, only ever append: a kind's position is part of its seeds.
ENTITY_KINDS = ("vendors", "customers", "riders", "shifts")
#: Entities per block: block ``b`` holds entities ``b * ENTITY_BLOCK`` up to the next block's.
ENTITY_BLOCK = 4096

FloatArray = np.ndarray[tuple[int], np.dtype[np.float64]]
IntArray = np.ndarray[tuple[int], np.dtype[np.int64]]


def replication_seed(seed: int, replication: int) -> np.random.SeedSequence:
    """Child ``replication`` of ``SeedSequence(seed)`` (what ``spawn`` would hand out)."""
    return np.random.SeedSequence(seed).spawn(replication + 1)[replication]


def streams(seed: int, replication: int) -> dict[str, np.random.Generator]:
    children = replication_seed(seed, replication).spawn(len(STREAMS))
    return {name: np.random.default_rng(ss) for name, ss in zip(STREAMS, children, strict=True)}


def entity_block(parent: np.random.Generator, kind: str, block: int) -> np.random.Generator:
    """The generator of block ``block`` of entity ``kind``, seeded from ``parent``'s seed plus
    the kind and block in its spawn key. It is addressed, not spawned: it never consumes
    ``parent``'s draws nor depends on which blocks (or kinds) were asked for before."""
    ss = parent.bit_generator.seed_seq
    assert isinstance(ss, np.random.SeedSequence), "streams are seeded from a SeedSequence"
    key = (*ss.spawn_key, ENTITY_KINDS.index(kind), block)
    child = np.random.SeedSequence(ss.entropy, spawn_key=key, pool_size=ss.pool_size)
    return np.random.default_rng(child)


def entity_uniforms(parent: np.random.Generator, kind: str, n: int, per: int) -> FloatArray:
    """``per`` uniforms on [0, 1) for each of entities ``0 .. n - 1``, flattened entity-major
    (entity ``i``'s are ``[i * per, (i + 1) * per)``). Each block draws all ``ENTITY_BLOCK``
    entities' uniforms whatever ``n`` is, so entity ``i``'s values depend only on the parent's
    seed, the kind and ``i``."""
    blocks = [
        entity_block(parent, kind, b).random(ENTITY_BLOCK * per)
        for b in range(-(-n // ENTITY_BLOCK))
    ]
    drawn: FloatArray = np.concatenate(blocks) if blocks else np.zeros(0)
    return drawn[: n * per]


def by_share(u: FloatArray, shares: FloatArray) -> IntArray:
    """Index ``k`` with probability ``shares[k] / shares.sum()`` for each uniform in ``u``: the
    inverse of the cumulative shares, so an entity's pick depends only on its own uniform."""
    cdf = np.cumsum(shares, dtype=float)
    cdf /= cdf[-1]  # the last bin ends at exactly 1.0, so u < 1 always lands in a bin
    picked: IntArray = np.searchsorted(cdf, u, side="right").astype(np.int64)
    return picked


def service_rng(gen: np.random.Generator) -> random.Random:
    """The reference service draws ids, order numbers and OTP nonces from a ``random.Random``;
    seed it from its own stream so it never perturbs the model's draws."""
    return random.Random(int(gen.integers(0, 2**63 - 1)))


def refund_gateway(failure_rate: float, gen: np.random.Generator) -> RefundGateway:
    """Refund outcomes from their own stream: whether a refund fails never depends on how many
    ids or codes the service drew before it."""
    return gateway_for(failure_rate, random.Random(int(gen.integers(0, 2**63 - 1))))
