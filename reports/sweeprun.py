"""Aggregate a sweep run directory: KPIs (mean and 95% interval) per grid point of the varied
parameter(s), and for each threshold the smallest setting that meets it.

A sweep table (``orderflow sweep``) has one row per grid point: the varied parameter columns
(the paths of the manifest's ``vary``), and per KPI ``<kpi>`` (mean over replications),
``<kpi>.ci_low`` and ``<kpi>.ci_high``. A threshold applies to the KPI that carries its
aggregation: ``click_to_door`` with ``p95`` reads ``click_to_door_p95_min``, ``avg`` reads
``click_to_door_mean_min``; a threshold named after a KPI (``sla_breach_click_to_door =
"avg < 10%"``) reads that KPI. A setting meets a threshold when the KPI's mean satisfies it, and
meets it with confidence when the unfavourable end of its 95% interval does too.
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
from sim.kpis import HEADLINE_KPIS

CI_SUFFIXES = (".ci_low", ".ci_high")
#: KPI column suffix → factor from the KPI's unit to the threshold's normalised unit (ms).
UNIT_SUFFIXES: dict[str, float] = {"_min": 60_000.0, "_s": 1000.0, "_ms": 1.0}


@dataclass
class SweepAnalysis:
    parameters: list[str]
    table: pd.DataFrame  # one row per grid point
    kpis: list[str]
    choices: pd.DataFrame  # one row per threshold condition: smallest settings that meet it
    panels: list[str]  # KPIs to chart: the thresholds' first, then the headline ones
    targets: dict[str, list[tuple[str, float]]]  # KPI → (condition, limit in the KPI's unit)
    metrics: dict[str, MetricData] = field(default_factory=dict)


def _parameters(run: RunDir, table: pd.DataFrame) -> list[str]:
    vary = run.manifest.get("vary")
    if not isinstance(vary, list) or not vary:
        raise RunDirError(f"{run.file('manifest.json')}: a sweep manifest needs 'vary' (a list)")
    params = [str(v).partition("=")[0].strip() for v in vary]
    missing = [p for p in params if p not in table.columns]
    if missing:
        raise RunDirError(
            f"{run.file('sweep.parquet')}: the varied parameter(s) {', '.join(missing)} named "
            f"in manifest.json are not columns; it has {', '.join(map(str, table.columns))}"
        )
    return params


def kpi_for(condition: Condition, name: str, kpis: Sequence[str]) -> tuple[str, float] | None:
    """The KPI column a threshold condition reads, and the factor to the condition's unit."""
    if name in kpis:
        candidates = [name]
    elif condition.aggregation in ("rate", "count"):
        return None
    else:
        agg = "mean" if condition.aggregation == "avg" else condition.aggregation
        candidates = [f"{name}_{agg}{suffix}" for suffix in UNIT_SUFFIXES] + [f"{name}_{agg}"]
    for kpi in candidates:
        if kpi in kpis:
            factor = 1.0
            if condition.unit is Unit.DURATION:
                factor = next((f for suf, f in UNIT_SUFFIXES.items() if kpi.endswith(suf)), 1.0)
            return kpi, factor
    return None


def analyse(run: RunDir, thresholds: Sequence[Threshold]) -> SweepAnalysis:
    if not run.has("sweep.parquet"):
        raise RunDirError(f"run directory {run.path} has no sweep.parquet (a sweep run writes it)")
    table = run.table("sweep.parquet")
    if table.empty:
        raise RunDirError(f"{run.file('sweep.parquet')}: has no grid point")
    params = _parameters(run, table)
    kpis = [
        str(c)
        for c in table.columns
        if c not in params and c != "replications" and not str(c).endswith(CI_SUFFIXES)
    ]
    table = table.sort_values(params, kind="stable").reset_index(drop=True)
    rows: list[dict[str, Any]] = []
    targets: dict[str, list[tuple[str, float]]] = {}
    for t in thresholds:
        for c in t.conditions:
            found = kpi_for(c, t.name, kpis)
            if found is None:
                rows.append(
                    {
                        "metric": t.name,
                        "condition": c.text,
                        "kpi": "(no such KPI in the sweep table)",
                        "smallest_by_mean": None,
                        "smallest_with_95pct_confidence": None,
                    }
                )
                continue
            kpi, factor = found
            targets.setdefault(kpi, []).append((f"{t.name} {c.text}", c.limit / factor))
            worst = f"{kpi}.ci_high" if c.op in ("<", "<=") else f"{kpi}.ci_low"
            by_mean = _first_meeting(table, params, table[kpi], factor, c)
            by_ci = (
                _first_meeting(table, params, table[worst], factor, c)
                if worst in table.columns
                else None
            )
            rows.append(
                {
                    "metric": t.name,
                    "condition": c.text,
                    "kpi": kpi,
                    "smallest_by_mean": by_mean,
                    "smallest_with_95pct_confidence": by_ci,
                }
            )
    choices = pd.DataFrame(
        rows,
        columns=[
            "metric",
            "condition",
            "kpi",
            "smallest_by_mean",
            "smallest_with_95pct_confidence",
        ],
    )
    panels = list(targets) + [k for k in HEADLINE_KPIS if k in kpis and k not in targets]
    return SweepAnalysis(params, table, kpis, choices, panels, targets)


def _first_meeting(
    table: pd.DataFrame, params: list[str], values: pd.Series, factor: float, c: Condition
) -> str | None:
    """The first grid point (in ascending parameter order) whose value meets ``c``."""
    for i, v in enumerate(values.to_numpy(np.float64) * factor):
        if np.isfinite(v) and c.holds(float(v)):
            return ", ".join(f"{p}={table[p].iloc[i]}" for p in params)
    return None
