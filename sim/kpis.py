"""Key performance indicators of a replication, and their confidence intervals across
replications (Student's t on the replication means: replications are independent, orders
within one are not).

KPIs are computed only from the run's tables (the orders table and the utilisation integrals),
over orders that arrived inside the observation window (after warm-up, before cool-down).
Durations are in minutes; shares are fractions of 0..1. Also here, for every layer that shows
or writes KPIs: the headline list (``HEADLINE``) and the JSON normaliser (``json_ready``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa

from scenarios.schema import Scenario
from sim.codes import REASONS, ROLES

PERCENTILES = (50, 90, 95)
#: Phases of click-to-door, as (name, from column, to column).
PHASE_SPANS = (
    ("click_to_confirm", "placed", "confirmed"),
    ("confirm_to_ready", "confirmed", "ready"),
    ("ready_to_pickup", "ready", "picked_up"),
    ("pickup_to_door", "picked_up", "delivered"),
    ("click_to_door", "placed", "delivered"),
    ("rider_wait_at_restaurant", "rider_arrived", "picked_up"),
    ("wait_for_kitchen_slot", "confirmed", "prep_start"),
    ("wait_for_rider", "confirmed", "assigned"),
)
FloatArray = np.ndarray[tuple[int], np.dtype[np.float64]]


class HeadlineKpi(NamedTuple):
    name: str  # the key in summary.json's ``kpis``
    label: str  # short, for a terminal table
    unit: str  # "%" for a share, "min" for a duration, "" for a count


#: The KPIs a reader looks at first, in this order. `orderflow simulate`'s end-of-run table, the
#: simulation report and the sweep's charts all show these, so they are listed here once.
HEADLINE = (
    HeadlineKpi("orders_in_window", "orders (in window)", ""),
    HeadlineKpi("delivered_share", "delivered", "%"),
    HeadlineKpi("click_to_confirm_p95_min", "click->confirm p95", "min"),
    HeadlineKpi("click_to_door_p50_min", "click->door p50", "min"),
    HeadlineKpi("click_to_door_p95_min", "click->door p95", "min"),
    HeadlineKpi("rider_wait_at_restaurant_mean_min", "rider wait at restaurant", "min"),
    HeadlineKpi("ready_to_pickup_mean_min", "food waits for rider", "min"),
    HeadlineKpi("wait_for_rider_mean_min", "wait for a rider", "min"),
    HeadlineKpi("lateness_mean_min", "lateness vs promise", "min"),
    HeadlineKpi("late_share", "late vs promise", "%"),
    HeadlineKpi("sla_breach_click_to_door", "SLA breach click->door", "%"),
    HeadlineKpi("sla_breach_click_to_confirm", "SLA breach click->confirm", "%"),
    HeadlineKpi("sla_breach_rider_wait", "SLA breach rider wait", "%"),
    HeadlineKpi("cancelled", "cancelled", ""),
    HeadlineKpi("rider_utilisation", "rider utilisation", "%"),
    HeadlineKpi("kitchen_utilisation", "kitchen utilisation", "%"),
    HeadlineKpi("orders_per_rider_hour", "orders per rider-hour", ""),
    HeadlineKpi("rider_busy_min_per_delivered", "rider busy per delivery", "min"),
    HeadlineKpi("orders_per_bundle", "orders per bundle", ""),
)
HEADLINE_KPIS = tuple(k.name for k in HEADLINE)
#: Endings that are cancellations (rejections and payment failures are counted apart).
CANCEL_REASONS = [
    "customer_changed_mind",
    "customer_impatient",
    "restaurant_out_of_stock",
    "confirm_timeout",
    "pickup_timeout",
]


def _col(table: pa.Table, name: str) -> FloatArray:
    out: FloatArray = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
    return out


def _labels(table: pa.Table, name: str) -> np.ndarray[Any, np.dtype[np.object_]]:
    return np.asarray(table.column(name).to_pylist(), dtype=object)


def _share(mask: np.ndarray[Any, np.dtype[np.bool_]], base: int) -> float:
    return float(mask.sum()) / base if base else math.nan


def replication_kpis(
    orders: pa.Table,
    utilisation: Mapping[str, float],
    scenario: Scenario,
    trials: dict[str, float] | None = None,
) -> dict[str, float]:
    """The replication's KPIs. ``trials``, when given, receives the denominator of each share
    of orders (``SHARES``), so summaries can pool shares over replications as proportions."""
    window = orders.column("in_window").to_numpy(zero_copy_only=False).astype(bool)
    t = orders.filter(pa.array(window))
    status = _labels(t, "final_status")
    reason = _labels(t, "cancel_reason")
    actor = _labels(t, "cancel_actor")
    refund = _labels(t, "refund_status")
    n = t.num_rows
    k: dict[str, float] = {
        "orders_placed": float(orders.num_rows),
        "orders_in_window": float(n),
        "delivered": float((status == "DELIVERED").sum()),
        "cancelled": float(np.isin(reason, CANCEL_REASONS).sum()),
        "rejected": float((reason == "restaurant_rejected").sum()),
        "payment_failed": float((status == "PAYMENT_FAILED").sum()),
    }
    k["in_flight_at_end"] = float(((status != "DELIVERED") & (reason == "")).sum())
    k["delivered_share"] = k["delivered"] / n if n else math.nan
    k["cancellation_rate"] = k["cancelled"] / n if n else math.nan
    k["rejection_rate"] = k["rejected"] / n if n else math.nan
    k["payment_failure_rate"] = k["payment_failed"] / n if n else math.nan
    for name, a, b in PHASE_SPANS:
        span = (_col(t, b) - _col(t, a)) / 60.0
        span = span[~np.isnan(span)]
        k[f"{name}_mean_min"] = float(span.mean()) if span.size else math.nan
        for p in PERCENTILES:
            k[f"{name}_p{p}_min"] = float(np.percentile(span, p)) if span.size else math.nan
    delivered = _col(t, "delivered")
    done = ~np.isnan(delivered)
    late = (delivered - _col(t, "promised_eta"))[done] / 60.0
    k["lateness_mean_min"] = float(late.mean()) if late.size else math.nan
    k["lateness_p95_min"] = float(np.percentile(late, 95)) if late.size else math.nan
    k["late_share"] = _share(late > 0, int(late.size))
    sla = scenario.sla
    c2d = ((delivered - _col(t, "placed")) / 60.0)[done]
    k["sla_breach_click_to_door"] = _share(c2d > sla.click_to_door_min, int(c2d.size))
    c2c = (_col(t, "confirmed") - _col(t, "placed")) / 60.0
    c2c = c2c[~np.isnan(c2c)]
    k["sla_breach_click_to_confirm"] = _share(c2c > sla.click_to_confirm_min, int(c2c.size))
    wait = (_col(t, "picked_up") - _col(t, "rider_arrived")) / 60.0
    wait = wait[~np.isnan(wait)]
    k["sla_breach_rider_wait"] = _share(wait > sla.rider_wait_min, int(wait.size))
    # the part of that wait spent before the food was ready (the rest is the handover)
    arrived, ready = _col(t, "rider_arrived"), _col(t, "ready")
    food = ~np.isnan(arrived) & ~np.isnan(ready) & ~np.isnan(_col(t, "picked_up"))
    for_food = np.maximum(0.0, ready[food] - arrived[food]) / 60.0
    k["rider_wait_for_food_mean_min"] = float(for_food.mean()) if for_food.size else math.nan
    for r in REASONS[1:]:
        k[f"cancellations_by_reason.{r}"] = float((reason == r).sum())
    for role in ROLES:
        k[f"cancellations_by_actor.{role}"] = float(((actor == role) & (reason != "")).sum())
    k["refunds_created"] = float((refund != "").sum())
    k["refunds_completed"] = float((refund == "completed").sum())
    k["refunds_failed"] = float((refund == "failed").sum())
    on = utilisation.get("rider_on_s", 0.0)
    k["rider_utilisation"] = utilisation.get("rider_busy_s", 0.0) / on if on else math.nan
    cap = utilisation.get("kitchen_capacity_s", 0.0)
    k["kitchen_utilisation"] = utilisation.get("kitchen_busy_s", 0.0) / cap if cap else math.nan
    k["orders_per_rider_hour"] = k["delivered"] / (on / 3600.0) if on else math.nan
    busy = utilisation.get("rider_busy_s", math.nan)
    k["rider_busy_min_per_delivered"] = busy / 60.0 / k["delivered"] if k["delivered"] else math.nan
    # what riders did with their time on shift: the rest of it they were idle
    spent = 0.0
    for kind in ("travel", "wait", "handover"):
        seconds = utilisation.get(f"rider_{kind}_s", 0.0)
        spent += seconds
        k[f"rider_{kind}_share"] = seconds / on if on else math.nan
    k["rider_idle_share"] = max(0.0, 1.0 - spent / on) if on else math.nan
    size = t.column("bundle_size").to_numpy(zero_copy_only=False).astype(np.float64)
    size = size[size > 0]
    # orders over trips: each order of a bundle of n is 1/n of a trip
    k["orders_per_bundle"] = float(size.size / (1.0 / size).sum()) if size.size else math.nan
    k["bundled_share"] = _share(size > 1, int(size.size))
    if trials is not None:
        trials.update(
            {
                "delivered_share": float(n),
                "cancellation_rate": float(n),
                "rejection_rate": float(n),
                "payment_failure_rate": float(n),
                "late_share": float(late.size),
                "sla_breach_click_to_door": float(c2d.size),
                "sla_breach_click_to_confirm": float(c2c.size),
                "sla_breach_rider_wait": float(wait.size),
                "bundled_share": float(size.size),
            }
        )
    for name in ("dispatch_decisions", "dispatch_pairs_costed"):
        k[name] = utilisation.get(name, math.nan)
    return k


#: KPIs that may fall below zero (early deliveries make lateness negative).
SIGNED_KPIS = frozenset({"lateness_mean_min", "lateness_p95_min"})


def kpi_range(name: str) -> tuple[float, float]:
    """The values a KPI can take, which its interval must not leave: shares and time shares
    0..1, signed KPIs anything, every other KPI (waits, counts, rates) 0 or more."""
    if name in SIGNED_KPIS:
        return -math.inf, math.inf
    if (
        name.endswith(("_share", "_rate", "_utilisation"))
        or name.startswith("sla_breach_")
        or name in ("mdrp_courier_utilisation",)
    ):
        return 0.0, 1.0
    return 0.0, math.inf


def confidence(values: Sequence[float], level: float = 0.95, name: str = "") -> dict[str, Any]:
    """Mean and Student-t interval of replication values, clipped to the KPI's range (NaNs,
    e.g. a percentile of nothing, are left out; the interval is null below two values)."""
    from sim.stats import mean_interval  # here: the reports import this module for HEADLINE

    lo, hi = kpi_range(name)
    return mean_interval(values, level, lo, hi).as_dict()


def aggregate(
    per_replication: Sequence[Mapping[str, float]],
    trials: Sequence[Mapping[str, float]] | None = None,
    level: float = 0.95,
) -> dict[str, dict[str, Any]]:
    """Every KPI's estimate and interval over replications: a share of orders whose
    denominators ``trials`` holds is pooled as a proportion (Wilson on an effective sample
    size, ``sim.stats.share_interval``); any other KPI gets a Student-t interval clipped to its
    range (``kpi_range``)."""
    from sim.stats import share_interval

    names = list(per_replication[0])
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        values = [k[name] for k in per_replication]
        if trials and all(name in t for t in trials):
            counts = [t[name] for t in trials]
            successes = [v * n if v == v else math.nan for v, n in zip(values, counts, strict=True)]
            # a share times its count is a whole number up to rounding: put it back on one
            successes = [round(x) if x == x else x for x in successes]
            out[name] = share_interval(successes, counts, level).as_dict()
        else:
            out[name] = confidence(values, level, name)
    return out


def json_ready(value: Any, digits: int = 6, *, significant: bool = False) -> Any:
    """Plain JSON data for the run directories and reports, whose files must read the same on
    every machine: NumPy/pandas scalars unwrapped, NaN and infinities as null, keys and paths
    as text, containers recursively, and floats rounded (to ``digits`` decimal places, or to
    ``digits`` significant digits with ``significant``) so last-bit differences do not show."""
    if isinstance(value, dict):
        return {str(k): json_ready(v, digits, significant=significant) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v, digits, significant=significant) for v in value]
    if not isinstance(value, float | str | bytes) and hasattr(value, "item"):
        value = value.item()  # np.float64 is a float already, and rounds as it always did
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return float(f"{value:.{digits}g}") if significant else round(value, digits)
    if isinstance(value, Path):
        return str(value)
    return value
