"""Aggregate a simulation run directory into the tables its report shows.

KPIs and their confidence intervals are the simulation's own (``summary.json``, Student t
across replications): the report shows them, it does not re-derive them. What the summary does
not hold, the report computes from the raw tables: full phase-time distributions from the phase
timestamps of ``orders.parquet`` (orders placed in the measured window, all replications
pooled), the funnel, breach rates by hour and utilisation over time from ``resources.parquet``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reports.evaluate import FloatArray, MetricData
from reports.rundir import RunDir, RunDirError
from reports.timebuckets import pct_label
from scenarios.schema import clock_seconds
from scenarios.thresholds import Threshold, Unit
from sim.kpis import CANCEL_REASONS, HEADLINE_KPIS, PHASE_SPANS

#: Phase name → (from timestamp, to timestamp): the simulation's own phase definitions.
PHASES: dict[str, tuple[str, str]] = {name: (a, b) for name, a, b in PHASE_SPANS}
#: ``[sla]`` key (without ``_min``) → the phase its target applies to (as sim.kpis measures it).
SLA_PHASES: dict[str, str] = {
    "click_to_door": "click_to_door",
    "click_to_confirm": "click_to_confirm",
    "rider_wait": "rider_wait_at_restaurant",
}
#: Shares of the measured orders, as threshold metrics (``cancellation_rate = "rate < 8%"``).
RATE_METRICS: dict[str, str] = {
    "cancellation_rate": "orders cancelled (customer, restaurant or timeout; not rejections)",
    "rejection_rate": "orders rejected by the restaurant",
    "payment_failure_rate": "orders whose online payment failed",
    "delivered_share": "orders delivered",
    "late_share": "delivered orders that arrived after the promised time",
}
SIM_METRICS: dict[str, str] = {
    **{name: f"phase time {a} -> {b} per order" for name, (a, b) in PHASES.items()},
    **RATE_METRICS,
    "rider_utilisation": "share of on-shift riders busy, per resource sample",
    "kitchen_utilisation": "share of kitchen slots in use, per resource sample",
}
_ORDER_COLUMNS = (
    "replication",
    "placed",
    "paid",
    "confirmed",
    "prep_start",
    "ready",
    "assigned",
    "rider_arrived",
    "picked_up",
    "delivered",
    "cancelled",
    "promised_eta",
    "final_status",
    "cancel_reason",
    "cancel_actor",
    "refund_status",
    "payment_method",
    "in_window",
)


@dataclass
class SimAnalysis:
    percentiles: tuple[float, ...]
    replications: list[int]
    clock_offset_s: float  # simulated t = 0 is this many seconds after midnight
    orders: pd.DataFrame  # measured window only
    phase_minutes: dict[str, FloatArray]
    phase_table: pd.DataFrame  # one row per phase
    sla_min: dict[str, float]  # phase → target minutes
    kpis: pd.DataFrame  # the simulation's KPIs: mean, ci_low, ci_high
    kpi_by_replication: pd.DataFrame
    by_hour: pd.DataFrame
    funnel: pd.DataFrame
    cancellations: pd.DataFrame
    states: pd.DataFrame | None  # t_s and one column per status, first replication
    utilisation_curve: pd.DataFrame | None  # t_s → mean over replications
    metrics: dict[str, MetricData] = field(default_factory=dict)


def analyse(
    run: RunDir, thresholds: Sequence[Threshold], percentiles: Sequence[float]
) -> SimAnalysis:
    have = run.columns("orders.parquet")
    if not have:
        raise RunDirError(
            f"run directory {run.path} has no orders.parquet (a simulation writes it)"
        )
    missing = [c for c in _ORDER_COLUMNS if c not in have]
    if missing:
        raise RunDirError(
            f"{run.file('orders.parquet')}: missing column(s) {', '.join(missing)}; "
            f"it has {', '.join(have)}"
        )
    orders = run.table("orders.parquet", list(_ORDER_COLUMNS))
    for col in ("final_status", "cancel_reason", "cancel_actor", "refund_status", "payment_method"):
        orders[col] = orders[col].astype(str)
    # Warm-up and cool-down orders shape the load but are not measured (as in sim.kpis).
    orders = orders[orders["in_window"].astype(bool)].reset_index(drop=True)
    if orders.empty:
        raise RunDirError(
            f"{run.file('orders.parquet')}: no order was placed in the measured window"
        )
    scenario = run.scenario()
    pcts = tuple(percentiles)
    sla_min = {
        SLA_PHASES[key]: float(v)
        for k, v in scenario.get("sla", {}).items()
        if (key := k.removesuffix("_min")) in SLA_PHASES
    }
    metrics: dict[str, MetricData] = {}
    phase_minutes: dict[str, FloatArray] = {}
    rows = []
    for name, (a, b) in PHASES.items():
        secs = (orders[b] - orders[a]).to_numpy(np.float64)
        secs = secs[np.isfinite(secs)]
        phase_minutes[name] = secs / 60.0
        metrics[name] = MetricData(SIM_METRICS[name], Unit.DURATION, secs * 1000.0, None, secs.size)
        rows.append(_phase_row(name, secs / 60.0, pcts, sla_min.get(name)))
    phase_table = pd.DataFrame(rows).set_index("phase")

    for name, flags in _rate_flags(orders).items():
        metrics[name] = MetricData(RATE_METRICS[name], Unit.FRACTION, None, flags, int(flags.sum()))

    resources = run.table("resources.parquet") if run.has("resources.parquet") else None
    utilisation = _utilisation(resources, scenario)
    if utilisation is not None:
        for col in ("rider_utilisation", "kitchen_utilisation"):
            if col in utilisation.columns:
                vals = utilisation[col].to_numpy(np.float64)
                metrics[col] = MetricData(SIM_METRICS[col], Unit.FRACTION, vals, None, len(vals))
    kpis, per_rep = _sim_kpis(run)
    reps = sorted(int(r) for r in orders["replication"].unique())
    offset = _period_start_s(scenario)
    return SimAnalysis(
        percentiles=pcts,
        replications=reps,
        clock_offset_s=offset,
        orders=orders,
        phase_minutes=phase_minutes,
        phase_table=phase_table,
        sla_min=sla_min,
        kpis=kpis,
        kpi_by_replication=per_rep,
        by_hour=_by_hour(orders, sla_min, offset),
        funnel=_funnel(orders),
        cancellations=_cancellations(orders),
        states=_states(resources, reps[0]),
        utilisation_curve=None
        if utilisation is None
        else utilisation.drop(columns="replication").groupby("t_s").mean().reset_index(),
        metrics=metrics,
    )


def _phase_row(
    name: str, minutes: FloatArray, pcts: Sequence[float], target: float | None
) -> dict[str, Any]:
    row: dict[str, Any] = {"phase": name, "orders": int(minutes.size)}
    if minutes.size:
        for p, v in zip(pcts, np.percentile(minutes, pcts), strict=True):
            row[f"{pct_label(p)}_min"] = float(v)
        row["mean_min"] = float(minutes.mean())
        row["max_min"] = float(minutes.max())
    row["sla_min"] = np.nan if target is None else target
    row["breach_rate"] = (
        float(np.mean(minutes > target)) if target is not None and minutes.size else np.nan
    )
    return row


def _rate_flags(orders: pd.DataFrame) -> dict[str, np.ndarray[Any, np.dtype[np.bool_]]]:
    reason, status = orders["cancel_reason"], orders["final_status"]
    delivered = orders["delivered"].notna()
    return {
        "cancellation_rate": reason.isin(CANCEL_REASONS).to_numpy(bool),
        "rejection_rate": (reason == "restaurant_rejected").to_numpy(bool),
        "payment_failure_rate": (status == "PAYMENT_FAILED").to_numpy(bool),
        "delivered_share": (status == "DELIVERED").to_numpy(bool),
        "late_share": (orders["delivered"] > orders["promised_eta"])[delivered].to_numpy(bool),
    }


def _sim_kpis(run: RunDir) -> tuple[pd.DataFrame, pd.DataFrame]:
    path = run.file("summary.json")
    if not path.is_file():
        raise RunDirError(f"run directory {run.path} has no summary.json (a simulation writes it)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        kpis = data["kpis"]
        per_rep = data.get("per_replication", [])
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise RunDirError(f"{path}: expected JSON with a 'kpis' table ({exc})") from None
    names = [k for k in HEADLINE_KPIS if k in kpis] + sorted(
        k for k in kpis if k not in HEADLINE_KPIS
    )
    frame = pd.DataFrame(
        [
            {
                "kpi": k,
                **{c: kpis[k].get(c) for c in ("mean", "ci_low", "ci_high")},
            }
            for k in names
        ]
    ).set_index("kpi")
    frame = frame.astype("float64")
    reps = pd.DataFrame(per_rep)
    if "replication" in reps.columns:
        reps = reps.set_index("replication")
    return frame, reps


def _period_start_s(scenario: dict[str, Any]) -> float:
    """Phase timestamps count from the period's start (``[period] start = "HH:MM"``)."""
    start = str(scenario.get("period", {}).get("start", "00:00"))
    try:
        return clock_seconds(start)
    except ValueError:  # a hand-edited scenario.toml with no valid start: count from midnight
        return 0.0


def _by_hour(orders: pd.DataFrame, sla_min: dict[str, float], offset: float) -> pd.DataFrame:
    """Share of orders over each SLA target, by the hour of day in which they were placed."""
    hour = (np.floor((orders["placed"] + offset) / 3600.0) % 24).astype(int)
    table = pd.DataFrame({"orders": orders.groupby(hour).size()})
    for phase, target in sla_min.items():
        a, b = PHASES[phase]
        secs = orders[b] - orders[a]
        done = secs.notna()
        breached = (secs > target * 60.0) & done
        table[f"{phase}_breach_rate"] = breached.groupby(hour).sum() / done.groupby(hour).sum()
    table.index.name = "hour"
    return table


def _funnel(orders: pd.DataFrame) -> pd.DataFrame:
    """Orders reaching each stage, then how the others ended (refunds: of paid orders)."""
    reason, status, refund = (
        orders["cancel_reason"],
        orders["final_status"],
        orders["refund_status"],
    )
    stages = [
        ("placed", int(orders["placed"].notna().sum())),
        ("confirmed", int(orders["confirmed"].notna().sum())),
        ("preparing", int(orders["prep_start"].notna().sum())),
        ("ready", int(orders["ready"].notna().sum())),
        ("picked up", int(orders["picked_up"].notna().sum())),
        ("delivered", int(orders["delivered"].notna().sum())),
        ("payment failed", int((status == "PAYMENT_FAILED").sum())),
        ("rejected", int((reason == "restaurant_rejected").sum())),
        ("cancelled", int(reason.isin(CANCEL_REASONS).sum())),
        ("refund created", int((refund != "").sum())),
        ("refund completed", int((refund == "completed").sum())),
        ("refund failed", int((refund == "failed").sum())),
    ]
    frame = pd.DataFrame(stages, columns=["stage", "orders"])
    frame["share"] = frame["orders"] / len(orders)
    return frame.set_index("stage")


#: Funnel rows that are the main path (the rest are exits).
FUNNEL_PATH = 6


def _cancellations(orders: pd.DataFrame) -> pd.DataFrame:
    ended = orders[orders["cancel_reason"] != ""]
    if ended.empty:
        return pd.DataFrame(columns=["cancel_actor", "cancel_reason", "orders"])
    return ended.groupby(["cancel_actor", "cancel_reason"]).size().rename("orders").reset_index()


_NOT_STATES = frozenset({"orders_in_system", "orders_waiting_for_rider"})


def _states(resources: pd.DataFrame | None, replication: int) -> pd.DataFrame | None:
    """Orders in each status over time, from the sampler's ``orders_<status>`` columns."""
    if resources is None:
        return None
    res = resources[resources["replication"] == replication]
    cols = [c for c in res.columns if c.startswith("orders_") and c not in _NOT_STATES]
    out = pd.DataFrame({"t_s": res["t"].to_numpy(np.float64)})
    for c in cols:
        out[c.removeprefix("orders_").upper()] = res[c].to_numpy(np.float64)
    return out


def _utilisation(res: pd.DataFrame | None, scenario: dict[str, Any]) -> pd.DataFrame | None:
    """Busy share of riders on shift and of kitchen slots, per resource sample."""
    if res is None:
        return None
    out = pd.DataFrame({"replication": res["replication"], "t_s": res["t"]})
    if {"riders_busy", "riders_idle"} <= set(res.columns):
        on_shift = res["riders_busy"] + res["riders_idle"]
        out["rider_utilisation"] = (res["riders_busy"] / on_shift.where(on_shift > 0)).fillna(0.0)
    vendors = scenario.get("vendors", {})
    capacity = int(vendors.get("count", 0)) * int(vendors.get("kitchen_slots", 0))
    if "kitchen_slots_busy" in res.columns and capacity > 0:
        out["kitchen_utilisation"] = res["kitchen_slots_busy"] / capacity
    return out
