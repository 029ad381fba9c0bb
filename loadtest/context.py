"""Everything one load-generating process shares between its users: its part of the schedule,
the schedule's start on the wall clock, who to act as, where rows go, and the run's bounds.
Users pull journeys from here in planned order, which is what makes arrivals open-model: a
journey is due at its time whether or not earlier ones have finished."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from loadtest.identities import Identities
from loadtest.plan import Plan, PlannedOrder
from loadtest.recorder import RowWriter
from loadtest.tables import UNFINISHED

#: Scenario seconds a bundled order's rider step may wait for the orders before it in the
#: bundle to make the same step: their food is ready within the strategy's bundle window (5
#: minutes by default) and their rides differ by at most a city's crossing, so half an hour.
SEQUENCE_WAIT_SCENARIO_S = 1800.0


class BoundReached(Exception):
    """The run's request or time bound ended this journey."""


@dataclass
class Bounds:
    max_requests: int  # for this process; 0 = no bound
    deadline: float  # wall clock; journeys stop issuing requests after it
    sent: int = 0

    def take(self) -> None:
        if self.exhausted:
            raise BoundReached(self.reason)
        self.sent += 1

    @property
    def reason(self) -> str:
        """The words ``take`` raises with, for journeys the bounds ended before they began."""
        if self.max_requests and self.sent >= self.max_requests:
            return f"request bound ({self.max_requests}) reached"
        return "time bound reached"

    @property
    def exhausted(self) -> bool:
        return bool(self.max_requests and self.sent >= self.max_requests) or (
            time.time() >= self.deadline
        )


@dataclass
class RunContext:
    plan: Plan
    orders: tuple[PlannedOrder, ...]
    share: int
    shares: int
    t0: float
    identities: Identities
    writer: RowWriter
    bounds: Bounds
    rider_wait_s: float = 30.0
    pending: deque[PlannedOrder] = field(default_factory=deque)
    running: int = 0

    def __post_init__(self) -> None:
        self.pending.extend(sorted(self.orders, key=lambda o: (o.arrival_s, o.index)))

    @property
    def sequence_wait_s(self) -> float:
        """Wall seconds a bundled order's rider step waits for the orders before it in the
        bundle (``Journey._await_turn``): ``rider_wait_s``, or half an hour of scenario time
        when that is longer (at a low ``--speedup`` the others' steps are minutes apart)."""
        return max(self.rider_wait_s, SEQUENCE_WAIT_SCENARIO_S / self.plan.speedup)

    def due(self, order: PlannedOrder, offset_s: float = 0.0) -> float:
        return self.t0 + (order.arrival_s + offset_s) / self.plan.speedup

    def next_order(self) -> PlannedOrder | None:
        """None once the bounds are reached: the orders left are recorded by
        ``drain_unstarted``, not each by a user sleeping until its due time."""
        if self.bounds.exhausted:
            return None
        return self.pending.popleft() if self.pending else None

    def drain_unstarted(self) -> int:
        """Record every journey still pending as unfinished (the bounds ended the run before
        its time), so each planned journey has its row before the share reports done."""
        reason = self.bounds.reason
        now = time.time()
        n = 0
        while self.pending:
            o = self.pending.popleft()
            self.writer.add(
                "journeys",
                {"journey_id": o.key, "kind": o.kind, "planned_ts": self.due(o),
                 "start_ts": now, "end_ts": now, "outcome": UNFINISHED, "final_status": None,
                 "order_id": None, "failure_reason": reason, "worker": self.share},
            )  # fmt: skip
            n += 1
        return n

    @property
    def complete(self) -> bool:
        """Every journey of this share has run (or the bounds stopped the run)."""
        return (not self.pending and self.running == 0) or (
            self.bounds.exhausted and self.running == 0
        )
