"""Aggregate a sweep run directory: KPIs (mean and 95% interval) per grid point of the varied
parameter(s), and for each threshold the smallest setting that meets it.

A sweep table has one row per grid point: the varied parameter columns (named in the manifest's
``parameters``) and, per KPI, ``<kpi>_mean``, ``<kpi>_ci_low`` and ``<kpi>_ci_high``. A threshold
on a simulation metric applies to the KPI that carries its aggregation: ``click_to_door`` with
``p95`` reads ``click_to_door_p95_min``, ``cancellation_rate`` with ``rate`` reads
``cancellation_rate``; the setting "meets" it when the KPI's mean satisfies the condition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reports.evaluate import MetricData
from reports.rundir import RunDir, RunDirError
from reports.thresholds import Condition, Threshold, Unit

STAT_SUFFIXES = ("_mean", "_ci_low", "_ci_high")
#: KPI column suffix → factor from the KPI's unit to the threshold's normalised unit (ms).
UNIT_SUFFIXES: dict[str, float] = {"_min": 60_000.0, "_s": 1000.0, "_ms": 1.0}


@dataclass
class SweepAnalysis:
    parameters: list[str]
    table: pd.DataFrame  # one row per grid point
    kpis: list[str]
    choices: pd.DataFrame  # one row per threshold condition: kpi, smallest setting that meets it
    metrics: dict[str, MetricData] = field(default_factory=dict)


def _parameters(run: RunDir, table: pd.DataFrame, kpis: list[str]) -> list[str]:
    named = run.manifest.get("parameters")
    if isinstance(named, list) and named:
        missing = [p for p in named if p not in table.columns]
        if missing:
            raise RunDirError(
                f"{run.file('sweep.parquet')}: manifest names parameter(s) {', '.join(missing)} "
                f"that the table lacks; it has {', '.join(map(str, table.columns))}"
            )
        return [str(p) for p in named]
    stats = {f"{k}{s}" for k in kpis for s in STAT_SUFFIXES}
    return [str(c) for c in table.columns if c not in stats and c != "point"]


def kpi_for(condition: Condition, name: str, kpis: Sequence[str]) -> tuple[str, float] | None:
    """The KPI column a threshold condition reads, and the factor to the condition's unit."""
    if condition.aggregation == "rate":
        return (name, 1.0) if name in kpis else None
    agg = "mean" if condition.aggregation == "avg" else condition.aggregation
    base = f"{name}_{agg}"
    for suffix, factor in UNIT_SUFFIXES.items():
        if condition.unit is Unit.DURATION and f"{base}{suffix}" in kpis:
            return f"{base}{suffix}", factor
    return (base, 1.0) if base in kpis else None


def analyse(run: RunDir, thresholds: Sequence[Threshold]) -> SweepAnalysis:
    if not run.has("sweep.parquet"):
        raise RunDirError(f"run directory {run.path} has no sweep.parquet (a sweep run writes it)")
    table = run.table("sweep.parquet")
    if table.empty:
        raise RunDirError(f"{run.file('sweep.parquet')}: has no grid point")
    kpis = sorted(str(c).removesuffix("_mean") for c in table.columns if str(c).endswith("_mean"))
    params = _parameters(run, table, kpis)
    if not params:
        raise RunDirError(f"{run.file('sweep.parquet')}: no varied parameter column found")
    table = table.sort_values(params, kind="stable").reset_index(drop=True)
    rows: list[dict[str, Any]] = []
    for t in thresholds:
        for c in t.conditions:
            found = kpi_for(c, t.name, kpis)
            if found is None:
                continue
            kpi, factor = found
            means = table[f"{kpi}_mean"].to_numpy(np.float64) * factor
            meets = np.array([np.isfinite(v) and c.holds(float(v)) for v in means])
            first = int(np.argmax(meets)) if meets.any() else None
            rows.append(
                {
                    "metric": t.name,
                    "condition": c.text,
                    "kpi": kpi,
                    **{p: (None if first is None else table[p].iloc[first].item()) for p in params},
                    "met": first is not None,
                }
            )
    choices = pd.DataFrame(rows, columns=["metric", "condition", "kpi", *params, "met"])
    return SweepAnalysis(params, table, kpis, choices)
