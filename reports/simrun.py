"""Aggregate a simulation run directory into the tables its report shows.

Phase times are differences of the per-order phase timestamps in ``orders.parquet`` (simulated
seconds); SLA targets come from the resolved scenario's ``[sla]`` table (``<phase>_min``). KPIs
are computed per replication and summarised as the mean with a 95% Student-t interval across
replications, the usual way to report a stochastic simulation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reports.evaluate import FloatArray, MetricData
from reports.rundir import RunDir, RunDirError
from reports.stats import mean_ci
from reports.thresholds import Threshold, Unit
from reports.timebuckets import pct_label

#: Phase name → (from timestamp, to timestamp, what it measures).
PHASES: dict[str, tuple[str, str, str]] = {
    "click_to_door": ("placed", "delivered", "placement to delivery"),
    "click_to_confirm": ("placed", "confirmed", "placement to the restaurant's confirmation"),
    "assignment": ("confirmed", "assigned", "confirmation to rider assignment"),
    "prep": ("prep_start", "ready", "kitchen preparation"),
    "rider_to_restaurant": ("assigned", "rider_arrived", "rider's ride to the restaurant"),
    "rider_wait": ("rider_arrived", "picked_up", "rider waiting at the restaurant"),
    "food_wait": ("ready", "picked_up", "ready food waiting for its rider"),
    "last_mile": ("picked_up", "delivered", "pickup to delivery"),
}
TIMESTAMPS = (
    "placed",
    "paid",
    "confirmed",
    "prep_start",
    "ready",
    "assigned",
    "rider_arrived",
    "picked_up",
    "out_for_delivery",
    "delivered",
    "cancelled",
)
#: Rate metrics over all orders: name → (description, final statuses that count).
RATES: dict[str, tuple[str, frozenset[str]]] = {
    "cancellation_rate": (
        "orders cancelled (by anyone)",
        frozenset({"CANCELLED", "REFUND_COMPLETED"}),
    ),
    "rejection_rate": ("orders rejected by the restaurant", frozenset({"RESTAURANT_REJECTED"})),
    "payment_failure_rate": ("online payments that failed", frozenset({"PAYMENT_FAILED"})),
    "delivery_rate": ("orders delivered", frozenset({"DELIVERED"})),
}
SIM_METRICS: dict[str, str] = {
    **{name: f"{desc} (per order)" for name, (_, _, desc) in PHASES.items()},
    **{name: desc for name, (desc, _) in RATES.items()},
    "late_rate": "delivered orders that arrived after the promised time",
    "rider_utilisation": "share of on-shift riders busy, per resource sample",
    "kitchen_utilisation": "share of kitchen slots in use, per resource sample",
}


@dataclass
class SimAnalysis:
    percentiles: tuple[float, ...]
    replications: list[int]
    clock_offset_s: float  # simulated t = 0 is this many seconds after midnight
    orders: pd.DataFrame
    phase_minutes: dict[str, FloatArray]
    phase_table: pd.DataFrame  # one row per phase
    sla_min: dict[str, float]
    kpis: pd.DataFrame  # one row per KPI: mean, ci_low, ci_high
    kpi_by_replication: pd.DataFrame
    by_hour: pd.DataFrame
    funnel: pd.DataFrame
    cancellations: pd.DataFrame
    states: pd.DataFrame | None  # t_s and one column per status, first replication
    utilisation: pd.DataFrame | None  # replication, t_s, rider_/kitchen_utilisation
    utilisation_curve: pd.DataFrame | None  # t_s → mean over replications
    sim_summary: dict[str, object]
    metrics: dict[str, MetricData] = field(default_factory=dict)


def _required(run: RunDir, name: str, wanted: Sequence[str]) -> list[str]:
    have = run.columns(name)
    if not have:
        raise RunDirError(f"run directory {run.path} has no {name} (a simulation run writes it)")
    missing = [c for c in wanted if c not in have]
    if missing:
        raise RunDirError(
            f"{run.file(name)}: missing column(s) {', '.join(missing)}; it has {', '.join(have)}"
        )
    return have


def analyse(
    run: RunDir, thresholds: Sequence[Threshold], percentiles: Sequence[float]
) -> SimAnalysis:
    have = _required(run, "orders.parquet", ["placed", "final_status", "replication"])
    cols = [c for c in have if c in TIMESTAMPS or c in _EXTRA]
    orders = run.table("orders.parquet", cols)
    if "in_window" in orders.columns:
        # Warm-up and cool-down orders shape the load but are not measured.
        orders = orders[orders["in_window"].astype(bool)].reset_index(drop=True)
    if orders.empty:
        raise RunDirError(
            f"{run.file('orders.parquet')}: has no order placed in the measured window"
        )
    for ts in TIMESTAMPS:
        if ts not in orders.columns:
            orders[ts] = np.nan
    pcts = tuple(percentiles)
    scenario = run.scenario()
    sla_min = {
        k.removesuffix("_min"): float(v)
        for k, v in scenario.get("sla", {}).items()
        if k.endswith("_min") and k.removesuffix("_min") in PHASES
    }
    reps = sorted(int(r) for r in orders["replication"].unique())
    offset = _period_start_s(scenario)
    status = orders["final_status"].astype(str)

    phase_minutes: dict[str, FloatArray] = {}
    rows = []
    metrics: dict[str, MetricData] = {}
    for name, (a, b, desc) in PHASES.items():
        secs = (orders[b] - orders[a]).to_numpy(np.float64)
        ok = np.isfinite(secs)
        phase_minutes[name] = secs[ok] / 60.0
        metrics[name] = MetricData(
            SIM_METRICS[name], Unit.DURATION, secs[ok] * 1000.0, None, int(ok.sum())
        )
        row: dict[str, object] = {"phase": name, "what": desc, "orders": int(ok.sum())}
        vals = phase_minutes[name]
        if vals.size:
            for p, v in zip(pcts, np.percentile(vals, pcts), strict=True):
                row[f"{pct_label(p)}_min"] = float(v)
            row["mean_min"] = float(vals.mean())
        target = sla_min.get(name)
        row["sla_min"] = target if target is not None else np.nan
        row["breach_rate"] = (
            float(np.mean(vals > target)) if target is not None and vals.size else np.nan
        )
        rows.append(row)
    phase_table = pd.DataFrame(rows).set_index("phase")

    for name, (desc, finals) in RATES.items():
        flags = status.isin(finals).to_numpy(bool)
        metrics[name] = MetricData(desc, Unit.FRACTION, None, flags, int(flags.sum()))
    late = _late_flags(orders)
    if late is not None:
        metrics["late_rate"] = MetricData(
            SIM_METRICS["late_rate"], Unit.FRACTION, None, late, int(late.sum())
        )

    resources = run.table("resources.parquet") if run.has("resources.parquet") else None
    utilisation = _utilisation(resources, scenario)
    if utilisation is not None:
        for col in ("rider_utilisation", "kitchen_utilisation"):
            if col in utilisation.columns:
                vals = utilisation[col].to_numpy(np.float64)
                metrics[col] = MetricData(SIM_METRICS[col], Unit.FRACTION, vals, None, len(vals))

    kpi_rep = _kpis_by_replication(orders, reps, sla_min, utilisation)
    kpi_rows = []
    for kpi in kpi_rep.columns:
        mean, lo, hi = mean_ci(kpi_rep[kpi].to_list())
        kpi_rows.append({"kpi": kpi, "mean": mean, "ci_low": lo, "ci_high": hi})
    kpis = pd.DataFrame(kpi_rows).set_index("kpi")

    sim_summary: dict[str, object] = {}
    if run.has("summary.json"):
        import json

        try:
            sim_summary = json.loads(run.file("summary.json").read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise RunDirError(f"{run.file('summary.json')}: not valid JSON ({exc})") from None

    return SimAnalysis(
        percentiles=pcts,
        replications=reps,
        clock_offset_s=offset,
        orders=orders,
        phase_minutes=phase_minutes,
        phase_table=phase_table,
        sla_min=sla_min,
        kpis=kpis,
        kpi_by_replication=kpi_rep,
        by_hour=_by_hour(orders, sla_min, offset),
        funnel=_funnel(orders),
        cancellations=_cancellations(orders),
        states=_states(resources, reps[0]),
        utilisation=utilisation,
        utilisation_curve=None
        if utilisation is None
        else utilisation.drop(columns="replication").groupby("t_s").mean().reset_index(),
        sim_summary=sim_summary,
        metrics=metrics,
    )


_EXTRA = (
    "final_status",
    "replication",
    "payment_method",
    "promised_eta",
    "cancel_reason",
    "cancel_actor",
    "refund_status",
    "in_window",
)


def _late_flags(orders: pd.DataFrame) -> np.ndarray | None:
    if "promised_eta" not in orders.columns:
        return None
    delivered = orders["delivered"].notna()
    return (orders["delivered"][delivered] > orders["promised_eta"][delivered]).to_numpy(bool)


def _kpis_by_replication(
    orders: pd.DataFrame, reps: list[int], sla_min: dict[str, float], util: pd.DataFrame | None
) -> pd.DataFrame:
    out = []
    for r in reps:
        o = orders[orders["replication"] == r]
        status = o["final_status"].astype(str)
        c2d = ((o["delivered"] - o["placed"]) / 60.0).dropna().to_numpy(np.float64)
        row: dict[str, float] = {
            "orders": float(len(o)),
            "delivered": float((status == "DELIVERED").sum()),
            "click_to_door_mean_min": float(c2d.mean()) if c2d.size else np.nan,
            "click_to_door_p95_min": float(np.percentile(c2d, 95)) if c2d.size else np.nan,
            "cancellation_rate": float(status.isin(RATES["cancellation_rate"][1]).mean()),
        }
        target = sla_min.get("click_to_door")
        if target is not None:
            row["click_to_door_breach_rate"] = float((c2d > target).mean()) if c2d.size else np.nan
        if util is not None and "replication" in util.columns:
            u = util[util["replication"] == r]
            for col in ("rider_utilisation", "kitchen_utilisation"):
                if col in u.columns:
                    row[col] = float(u[col].mean())
        out.append(row)
    return pd.DataFrame(out, index=pd.Index(reps, name="replication"))


def _period_start_s(scenario: dict[str, Any]) -> float:
    """Phase timestamps count from the period's start (``[period] start = "HH:MM"``)."""
    start = str(scenario.get("period", {}).get("start", "00:00"))
    hours, _, minutes = start.partition(":")
    try:
        return int(hours) * 3600.0 + int(minutes or 0) * 60.0
    except ValueError:
        return 0.0


def _by_hour(orders: pd.DataFrame, sla_min: dict[str, float], offset: float) -> pd.DataFrame:
    """Share of orders breaching each SLA target, by the hour of day in which they were placed."""
    hour = (np.floor((orders["placed"] + offset) / 3600.0) % 24).astype(int)
    table = pd.DataFrame({"orders": orders.groupby(hour).size()})
    for phase, target in sla_min.items():
        a, b, _ = PHASES[phase]
        secs = orders[b] - orders[a]
        done = secs.notna()
        breached = (secs > target * 60.0) & done
        table[f"{phase}_breach_rate"] = breached.groupby(hour).sum() / done.groupby(hour).sum()
    table.index.name = "hour"
    return table


def _funnel(orders: pd.DataFrame) -> pd.DataFrame:
    status = orders["final_status"].astype(str)
    stages = [
        ("placed", int(orders["placed"].notna().sum())),
        ("confirmed", int(orders["confirmed"].notna().sum())),
        ("preparing", int(orders["prep_start"].notna().sum())),
        ("ready", int(orders["ready"].notna().sum())),
        ("picked up", int(orders["picked_up"].notna().sum())),
        ("delivered", int(orders["delivered"].notna().sum())),
    ]
    ends = [
        ("payment failed", int((status == "PAYMENT_FAILED").sum())),
        ("rejected", int((status == "RESTAURANT_REJECTED").sum())),
        ("cancelled", int(status.isin(["CANCELLED", "REFUND_COMPLETED"]).sum())),
        ("refunded", int((status == "REFUND_COMPLETED").sum())),
    ]
    frame = pd.DataFrame(stages + ends, columns=["stage", "orders"])
    frame["share"] = frame["orders"] / max(1, len(orders))
    return frame.set_index("stage")


def _cancellations(orders: pd.DataFrame) -> pd.DataFrame:
    cancelled = orders[orders["cancelled"].notna()]
    keys = [c for c in ("cancel_actor", "cancel_reason") if c in orders.columns]
    if cancelled.empty or not keys:
        return pd.DataFrame(columns=[*keys, "orders"])
    return cancelled.groupby(keys, dropna=False).size().rename("orders").reset_index()


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


_NOT_STATES = frozenset({"orders_in_system", "orders_waiting_for_rider"})


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
