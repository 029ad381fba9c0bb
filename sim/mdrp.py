"""A replication of an MDRP instance as the Grubhub evaluator reads solutions, and its KPIs as
the MDRP reports them (Reyes et al. 2018; ``docs/real-data.md``).

The solution is built from the run's own records: each assignment (a rider and the orders they
took at one moment, in the sequence delivered), each order's pickup and drop-off, and each
rider's moves. ``write`` puts it in ``solution_info_assignments.txt``,
``solution_info_orders.txt`` and ``solution_info_couriers.txt`` (space-separated, a header line,
whole minutes), the three files ``compute_performance_summary.py`` checks and scores; the KPIs
here are computed from the same tables by the evaluator's definitions, so the two agree.

An order delivered later than the instance's maximum click-to-door counts as undelivered, as in
the MDRP: it is left out of the orders file and its assignment (the rider still made the trip,
so the moves keep it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from reference_api.geo import Geometry
from scenarios.schema import Scenario

FILES = (
    "solution_info_assignments.txt",
    "solution_info_orders.txt",
    "solution_info_couriers.txt",
)
#: Simulated times must lie this close to a whole minute to be written as one (they do when
#: every input is in whole minutes; rule-timer wake-ups add a microsecond).
WHOLE_MINUTE_TOLERANCE = 1e-3


class MdrpSolutionError(ValueError):
    """The run cannot be written as an MDRP solution (e.g. a time off the minute grid)."""


@dataclass(frozen=True)
class Assignment:
    at_min: int
    pickup_min: int
    courier: str
    orders: tuple[str, ...]


@dataclass(frozen=True)
class Delivery:
    order: str
    placed_min: int
    ready_min: int
    pickup_min: int
    dropoff_min: int
    courier: str


@dataclass(frozen=True)
class Move:
    courier: str
    depart_min: int
    origin: str  # "0": where the shift started
    destination: str


@dataclass(frozen=True)
class Solution:
    assignments: list[Assignment]
    deliveries: list[Delivery]
    moves: list[Move]
    kpis: dict[str, float]


def _minutes(seconds: float, what: str) -> int:
    m = seconds / 60.0
    whole = round(m)
    if abs(m - whole) > WHOLE_MINUTE_TOLERANCE:
        raise MdrpSolutionError(
            f"{what} at {m:.4f} min is not a whole minute: an MDRP solution needs whole-minute "
            "inputs (constant whole-minute service times, a planar city)"
        )
    return int(whole)


def solution(
    s: Scenario, rows: np.ndarray[tuple[int], np.dtype[np.int64]], orders: pa.Table, moves: pa.Table
) -> Solution:
    """The replication's solution. ``rows[i]`` is the order-log row of order ``i``."""
    mdrp, inputs = s.mdrp, s.inputs
    assert mdrp is not None and inputs is not None
    trace, places, roster = inputs.orders, inputs.restaurants, inputs.roster
    assert trace is not None and places is not None and roster is not None
    col = {
        name: orders.column(name).to_numpy(zero_copy_only=False)
        for name in ("order_idx", "placed", "ready", "assigned", "picked_up", "delivered")
    }
    rider = orders.column("rider_idx").to_numpy(zero_copy_only=False)
    limit = mdrp.max_click_to_door_min * 60.0
    groups: dict[tuple[int, float], list[int]] = {}
    deliveries: list[Delivery] = []
    for k in range(orders.num_rows):
        done = col["delivered"][k]
        if done != done or done - col["placed"][k] > limit + 1e-6:
            continue  # undelivered, or delivered too late: undelivered for the MDRP
        i = int(col["order_idx"][k])
        oid = trace.ids[int(rows[i])]
        courier = roster.ids[int(rider[k])]
        deliveries.append(
            Delivery(
                oid,
                _minutes(col["placed"][k], f"order {oid} placement"),
                _minutes(col["ready"][k], f"order {oid} ready"),
                _minutes(col["picked_up"][k], f"order {oid} pickup"),
                _minutes(done, f"order {oid} drop-off"),
                courier,
            )
        )
        groups.setdefault((int(rider[k]), float(col["assigned"][k])), []).append(
            len(deliveries) - 1
        )
    assignments = []
    for (r, at), members in sorted(groups.items(), key=lambda g: (g[0][1], g[0][0])):
        members.sort(key=lambda d: (deliveries[d].dropoff_min, d))
        picked = max(deliveries[d].pickup_min for d in members)
        assignments.append(
            Assignment(
                _minutes(at, f"assignment to {roster.ids[r]}"),
                picked,
                roster.ids[r],
                tuple(deliveries[d].order for d in members),
            )
        )
    out_moves = _moves(moves, rows, trace.ids, places.ids, roster.ids)
    return Solution(
        assignments, deliveries, out_moves, _kpis(s, assignments, deliveries, out_moves)
    )


def _moves(
    moves: pa.Table,
    rows: np.ndarray[tuple[int], np.dtype[np.int64]],
    order_ids: tuple[str, ...],
    restaurant_ids: tuple[str, ...],
    courier_ids: tuple[str, ...],
) -> list[Move]:
    def place(code: int) -> str:
        if code == -1:
            return "0"
        if code >= 0:
            return restaurant_ids[code]
        return order_ids[int(rows[-2 - code])]

    rider = moves.column("rider_idx").to_numpy()
    t = moves.column("t").to_numpy()
    origin = moves.column("origin").to_numpy()
    to = moves.column("to").to_numpy()
    order = np.lexsort((np.arange(len(t)), t, rider))  # by rider, then in time
    return [
        Move(
            courier_ids[int(rider[k])],
            _minutes(float(t[k]), f"departure of {courier_ids[int(rider[k])]}"),
            place(int(origin[k])),
            place(int(to[k])),
        )
        for k in order.tolist()
    ]


def _kpis(
    s: Scenario, assignments: list[Assignment], deliveries: list[Delivery], moves: list[Move]
) -> dict[str, float]:
    """The MDRP's performance measures, as the evaluator defines them."""
    mdrp, inputs, fl = s.mdrp, s.inputs, s.fleet
    assert mdrp is not None and inputs is not None and s.city.metres_per_minute is not None
    trace, places, roster = inputs.orders, inputs.restaurants, inputs.roster
    assert trace is not None and places is not None and roster is not None
    where: dict[str, tuple[float, float]] = {}
    for ids, xs, ys in ((trace.ids, trace.lon, trace.lat), (places.ids, places.lon, places.lat)):
        where.update(zip(ids, zip(xs.tolist(), ys.tolist(), strict=True), strict=True))
    starts = {
        cid: (sh[0].lon, sh[0].lat) for cid, sh in zip(roster.ids, roster.shifts, strict=True)
    }
    pickup_min = fl.pickup_service.mean_s / 60.0
    dropoff_min = fl.dropoff_service.mean_s / 60.0
    driving = dict.fromkeys(roster.ids, 0.0)
    ride = Geometry(metres_per_minute=s.city.metres_per_minute).seconds  # the evaluator's too
    for m in moves:
        (x0, y0), (x1, y1) = (
            starts[m.courier] if m.origin == "0" else where[m.origin],
            where[m.destination],
        )
        driving[m.courier] += ride(y0, x0, y1, x1) / 60.0
    served = dict.fromkeys(roster.ids, 0)
    for d in deliveries:
        served[d.courier] += 1
    trips = dict.fromkeys(roster.ids, 0)
    for a in assignments:
        trips[a.courier] += 1
    utilisation, pay, trued_up = [], 0.0, 0
    for cid, shifts in zip(roster.ids, roster.shifts, strict=True):
        shift_min = sum(sh.off_s - sh.on_s for sh in shifts) / 60.0
        busy = driving[cid] + served[cid] * dropoff_min + trips[cid] * pickup_min
        utilisation.append(busy / shift_min)
        guaranteed = shift_min * mdrp.guaranteed_pay_per_hour / 60.0
        earned = served[cid] * mdrp.pay_per_order
        pay += max(earned, guaranteed)
        trued_up += earned < guaranteed
    c2d = np.array([d.dropoff_min - d.placed_min for d in deliveries], dtype=float)
    r2p = np.array([d.pickup_min - d.ready_min for d in deliveries], dtype=float)
    r2d = np.array([d.dropoff_min - d.ready_min for d in deliveries], dtype=float)
    sizes = np.array([len(a.orders) for a in assignments], dtype=float)
    n = len(deliveries)

    def stat(values: np.ndarray[tuple[int], np.dtype[np.float64]], how: str) -> float:
        if not values.size:
            return math.nan
        return float(values.mean() if how == "mean" else np.percentile(values, 90))

    overage = np.maximum(0.0, c2d - mdrp.target_click_to_door_min)
    return {
        "mdrp_orders": float(len(trace)),
        "mdrp_delivered": float(n),
        "mdrp_undelivered_share": 1.0 - n / len(trace),
        "mdrp_click_to_door_mean_min": stat(c2d, "mean"),
        "mdrp_click_to_door_p90_min": stat(c2d, "p90"),
        "mdrp_click_to_door_overage_mean_min": stat(overage, "mean"),
        "mdrp_ready_to_door_mean_min": stat(r2d, "mean"),
        "mdrp_ready_to_pickup_mean_min": stat(r2p, "mean"),
        "mdrp_ready_to_pickup_p90_min": stat(r2p, "p90"),
        "mdrp_courier_utilisation": float(np.mean(utilisation)),
        "mdrp_orders_per_bundle": stat(sizes, "mean"),
        "mdrp_total_pay": pay,
        "mdrp_cost_per_order": pay / n if n else math.nan,
        "mdrp_trueup_share": trued_up / len(roster),
    }


def write(sol: Solution, directory: Path) -> list[Path]:
    """The three solution files the evaluator reads; the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    lines_a = ["assignment_time pickup_time courier orders"] + [
        f"{a.at_min} {a.pickup_min} {a.courier} {' '.join(a.orders)}" for a in sol.assignments
    ]
    lines_o = ["order placement_time ready_time pickup_time dropoff_time courier"] + [
        f"{d.order} {d.placed_min} {d.ready_min} {d.pickup_min} {d.dropoff_min} {d.courier}"
        for d in sol.deliveries
    ]
    lines_c = ["courier departure_time origin destination"] + [
        f"{m.courier} {m.depart_min} {m.origin} {m.destination}" for m in sol.moves
    ]
    paths = [directory / name for name in FILES]
    for path, lines in zip(paths, (lines_a, lines_o, lines_c), strict=True):
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths
