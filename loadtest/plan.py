"""The schedule a load run replays: per order, when it arrives and which role calls which endpoint
at which offset. Both sources (a scenario's demand curve, a simulation timeline) are turned into
this one shape, so the runner, the distributed split and the planned-vs-observed report do not
care where the schedule came from. Times here are scenario seconds; ``speedup`` maps them onto
the wall clock at run time."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from reference_api.endpoints import ENDPOINTS

#: Journey kinds (the ``journey`` column of requests.parquet), by what the order's calls do.
DELIVERED_COD = "delivered_cod"
DELIVERED_ONLINE = "delivered_online"
CUSTOMER_CANCEL = "customer_cancel"
RESTAURANT_CANCEL = "restaurant_cancel"
REJECTED = "rejected"
PAYMENT_FAILED = "payment_failed"
ABANDONED = "abandoned"  # placed, then nobody acted (server timers decide; not replayable)
BACKGROUND = "background"

#: The order status a journey of each kind must end in.
FINAL_STATUS: dict[str, str | None] = {
    DELIVERED_COD: "DELIVERED",
    DELIVERED_ONLINE: "DELIVERED",
    CUSTOMER_CANCEL: "CANCELLED",
    RESTAURANT_CANCEL: "CANCELLED",
    REJECTED: "RESTAURANT_REJECTED",
    PAYMENT_FAILED: "PAYMENT_FAILED",
    ABANDONED: None,
}

OPERATION_BY_NAME: dict[str, str] = {e.name: op for op, e in ENDPOINTS.items()}


class PlanError(ValueError):
    """A schedule source that cannot be turned into a plan; the message says where."""


@dataclass(frozen=True, slots=True)
class PlannedCall:
    offset_s: float  # from the order's placement, scenario seconds
    role: str  # customer | restaurant | rider | system
    operation: str  # reference_api.endpoints operation name
    params: dict[str, Any] = field(default_factory=dict)
    expected: str = "ok"  # "ok" or the error the source expected (e.g. "otp_invalid")

    @property
    def endpoint(self) -> str:
        return ENDPOINTS[self.operation].name

    @property
    def succeeds(self) -> bool:
        """Whether the source expects this call to be accepted."""
        return self.expected in ("ok", "", "success") and not self.params.get("wrong_otp")


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    key: str
    index: int  # position in arrival order; the distributed split uses it
    arrival_s: float
    kind: str
    payment_method: str
    vendor_index: int
    customer_index: int
    calls: tuple[PlannedCall, ...]
    ws: bool = False  # the customer subscribes to /ws/orders/{id}/ for this order

    @property
    def length_s(self) -> float:
        return self.calls[-1].offset_s if self.calls else 0.0


@dataclass(frozen=True)
class Plan:
    orders: tuple[PlannedOrder, ...]
    speedup: float
    source: str  # "scenario:PATH" or "trace:RUN_DIR"
    background: float = 1.0  # multiplier on the spec's polling rates; 0 = none

    def share(self, index: int, of: int) -> tuple[PlannedOrder, ...]:
        """This worker's part of the schedule: every ``of``-th order, so each worker sees the
        same arrival curve and no order is run twice."""
        if of < 1 or not 0 <= index < of:
            raise ValueError(f"share {index} of {of}: need 0 <= index < of")
        return tuple(o for o in self.orders if o.index % of == index)

    def wall_window(self) -> float:
        """Wall seconds from the first arrival to the end of the longest journey."""
        if not self.orders:
            return 0.0
        return max((o.arrival_s + o.length_s) for o in self.orders) / self.speedup

    def peak_concurrency(self, orders: Iterable[PlannedOrder] | None = None) -> int:
        """Most journeys in flight at once if every step ran exactly on schedule."""
        marks: list[tuple[float, int]] = []
        for o in self.orders if orders is None else orders:
            marks.append((o.arrival_s, 1))
            marks.append((o.arrival_s + o.length_s, -1))
        marks.sort(key=lambda m: (m[0], m[1]))
        peak = level = 0
        for _, step in marks:
            level += step
            peak = max(peak, level)
        return peak

    def pool_size(self, orders: Iterable[PlannedOrder] | None = None) -> int:
        """Users needed so that no order waits for a free user: the planned peak, plus head room
        for journeys running late (a slow target stretches every journey)."""
        peak = self.peak_concurrency(orders)
        return max(2, int(peak * 1.5) + 4)

    def planned_rows(self, t0: float, shares: int = 1) -> Iterator[dict[str, Any]]:
        for o in self.orders:
            for c in o.calls:
                yield {
                    "intended_ts": t0 + (o.arrival_s + c.offset_s) / self.speedup,
                    "endpoint": c.endpoint,
                    "method": ENDPOINTS[c.operation].method,
                    "role": c.role,
                    "journey": o.kind,
                    "journey_id": o.key,
                    "share": o.index % shares,
                    "params": json.dumps(c.params, sort_keys=True) if c.params else None,
                }


def classify(calls: Iterable[PlannedCall], payment_method: str) -> str:
    """The journey kind an order's calls amount to."""
    ops: dict[str, PlannedCall] = {}
    for c in calls:
        if not c.succeeds:
            continue  # a refused call (wrong OTP, a cancel too late) does not decide the path
        ops.setdefault(c.operation, c)
        if c.operation == "cancel":
            ops["cancel"] = c
    if "complete_delivery" in ops:
        return DELIVERED_ONLINE if payment_method == "online" else DELIVERED_COD
    if "reject" in ops:
        return REJECTED
    if "cancel" in ops:
        return CUSTOMER_CANCEL if ops["cancel"].role == "customer" else RESTAURANT_CANCEL
    pay = ops.get("record_payment")
    if pay is not None and not pay.params.get("success", True):
        return PAYMENT_FAILED
    return ABANDONED
