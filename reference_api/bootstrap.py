"""The composition root: wires clock, store, randomness, dispatch and event sinks at call time
(never at import time), so the simulation, the server and the tests each build their own."""

from __future__ import annotations

import random
from collections.abc import Iterable

from reference_api.clock import Clock, ManualClock
from reference_api.dispatch import DispatchStrategy
from reference_api.events import EventSink
from reference_api.policy import Policy
from reference_api.service import OrderService, RefundGateway
from reference_api.store.base import Store
from reference_api.store.memory import MemoryStore

#: Development default shared by every command so `serve` and `token` agree (D12).
DEFAULT_SECRET = b"orderflow-development-secret-change-me"


def bootstrap(
    *,
    clock: Clock | None = None,
    store: Store | None = None,
    seed: int | None = 0,
    rng: random.Random | None = None,
    policy: Policy | None = None,
    otp_secret: bytes = DEFAULT_SECRET,
    dispatch: DispatchStrategy | None = None,
    refunds: RefundGateway | None = None,
    sinks: Iterable[EventSink] = (),
) -> OrderService:
    return OrderService(
        store if store is not None else MemoryStore(),
        clock if clock is not None else ManualClock(),
        rng if rng is not None else random.Random(seed),
        policy=policy,
        otp_secret=otp_secret,
        dispatch=dispatch,
        refunds=refunds,
        sinks=sinks,
    )
