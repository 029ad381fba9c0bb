"""Aggregate a sweep run directory: KPIs (mean and 95% interval) per grid point of the varied
parameter(s), the paired differences between neighbouring points, and for each threshold the
smallest setting that meets it.

A sweep's ``sweep.parquet`` (``orderflow sweep``) is long: one row per grid point and KPI, the
setting columns (named without dots; manifest.json's ``columns`` maps each to its path), ``kpi``,
``mean``, ``ci_low``, ``ci_high``, ``half_width``, ``n`` and ``method``. The charts and the
threshold choice read it pivoted in memory to one row per grid point: a column per varied path
(``fleet.riders``), and per KPI ``<kpi>`` (the mean), ``<kpi>.ci_low`` and ``<kpi>.ci_high``.
A threshold applies to the KPI that carries its aggregation: ``click_to_door`` with ``p95``
reads ``click_to_door_p95_min``, ``avg`` reads ``click_to_door_mean_min``; a threshold named
after a KPI (``sla_breach_click_to_door = "avg < 10%"``) reads that KPI. A setting meets a
threshold when the KPI's mean satisfies it, and meets it with confidence when the unfavourable
end of its 95% interval does too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reports.evaluate import MetricData
from reports.rundir import RunDir, RunDirError
from scenarios.thresholds import Condition, Threshold, Unit
from sim.kpis import HEADLINE_KPIS

CI_SUFFIXES = (".ci_low", ".ci_high")
#: KPI column suffix → factor from the KPI's unit to the threshold's normalised unit (ms).
UNIT_SUFFIXES: dict[str, float] = {"_min": 60_000.0, "_s": 1000.0, "_ms": 1.0}
#: The columns a long sweep table has besides the settings.
LONG_COLUMNS = ("kpi", "mean", "ci_low", "ci_high", "half_width", "n", "method")
DIFFERENCE_COLUMNS = ("axis", "kpi", "mean", "ci_low", "ci_high", "half_width", "n", "significant")


@dataclass
class SweepAnalysis:
    parameters: list[str]  # the varied paths, in --vary order
    table: pd.DataFrame  # one row per grid point (pivoted from sweep.parquet)
    kpis: list[str]
    choices: pd.DataFrame  # one row per threshold condition: smallest settings that meet it
    panels: list[str]  # KPIs to chart: the thresholds' first, then the headline ones
    targets: dict[str, list[tuple[str, float]]]  # KPI → (condition, limit in the KPI's unit)
    #: one row per neighbouring pair and KPI (``differences``), settings as paths
    differences: pd.DataFrame = field(default_factory=pd.DataFrame)
    metrics: dict[str, MetricData] = field(default_factory=dict)


def _parameters(run: RunDir, table: pd.DataFrame) -> dict[str, str]:
    """Varied path → its column in the sweep's tables, from the manifest's ``vary`` and
    ``columns``."""
    manifest = run.file("manifest.json")
    vary = run.manifest.get("vary")
    if not isinstance(vary, list) or not vary:
        raise RunDirError(f"{manifest}: a sweep manifest needs 'vary' (a list)")
    columns = run.manifest.get("columns")
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise RunDirError(f"{manifest}: a sweep manifest needs 'columns' (column → varied path)")
    by_path = {path: str(column) for column, path in columns.items()}
    params = [str(v).partition("=")[0].strip() for v in vary]
    unnamed = [p for p in params if p not in by_path]
    if unnamed:
        raise RunDirError(f"{manifest}: 'columns' names no column for {', '.join(unnamed)}")
    missing = [by_path[p] for p in params if by_path[p] not in table.columns]
    if missing:
        raise RunDirError(
            f"{run.file('sweep.parquet')}: the setting column(s) {', '.join(missing)} named "
            f"in manifest.json are not columns; it has {', '.join(map(str, table.columns))}"
        )
    return {p: by_path[p] for p in params}


def _long_table(run: RunDir) -> pd.DataFrame:
    """``sweep.parquet`` as written, checked to be the long form (a table from before it, one
    wide row per grid point, is named as such rather than failing somewhere in the pivot)."""
    if not run.has("sweep.parquet"):
        raise RunDirError(f"run directory {run.path} has no sweep.parquet (a sweep run writes it)")
    names = run.columns("sweep.parquet")
    if any(n.endswith(CI_SUFFIXES) for n in names) or not set(LONG_COLUMNS) <= set(names):
        raise RunDirError(
            f"{run.file('sweep.parquet')}: not a long sweep table (one row per grid point and "
            f"KPI with columns {', '.join(LONG_COLUMNS)}); a wide table with <kpi>.ci_low "
            "columns is from an older orderflow: run orderflow sweep again"
        )
    table = run.table("sweep.parquet")
    if table.empty:
        raise RunDirError(f"{run.file('sweep.parquet')}: has no grid point")
    table["kpi"] = table["kpi"].astype(str)
    return table


def pivot(long: pd.DataFrame, params: dict[str, str]) -> pd.DataFrame:
    """One row per grid point, in ascending order of the settings: a column per varied path,
    ``replications`` and per KPI ``<kpi>``, ``<kpi>.ci_low`` and ``<kpi>.ci_high`` (KPIs in the
    table's order). ValueError when a grid point has a KPI twice."""
    settings = list(params.values())
    wide = long.pivot(index=settings, columns="kpi", values=["mean", "ci_low", "ci_high"])
    points = wide.index.to_frame(index=False)
    points.columns = pd.Index(list(params))
    out: dict[str, Any] = {p: points[p].to_numpy() for p in params}
    out["replications"] = long.groupby(settings)["n"].max().reindex(wide.index).to_numpy()
    for kpi in dict.fromkeys(long["kpi"]):
        out[kpi] = wide[("mean", kpi)].to_numpy(np.float64)
        out[f"{kpi}.ci_low"] = wide[("ci_low", kpi)].to_numpy(np.float64)
        out[f"{kpi}.ci_high"] = wide[("ci_high", kpi)].to_numpy(np.float64)
    return pd.DataFrame(out)


def _differences(run: RunDir, params: dict[str, str]) -> pd.DataFrame:
    """``differences.parquet`` with the pair spelled out: ``axis`` (the varied path), ``from``
    and ``to`` (its two values), ``at`` (the other settings, ``path=value``), then the KPI's
    paired difference and interval as written."""
    columns = list(params.values())
    to = [f"to_{c}" for c in columns]
    axis, *stats = DIFFERENCE_COLUMNS
    raw = run.table("differences.parquet", [axis, *columns, *to, *stats])
    path_of = {c: p for p, c in params.items()}
    unknown = sorted(set(map(str, raw["axis"])) - set(path_of))
    if unknown:
        raise RunDirError(
            f"{run.file('differences.parquet')}: axis {', '.join(unknown)} is not a setting column"
        )
    rows = []
    for rec in raw.to_dict(orient="records"):
        changed = str(rec["axis"])
        rows.append(
            {
                "axis": path_of[changed],
                "from": rec[changed],
                "to": rec[f"to_{changed}"],
                "at": ", ".join(f"{path_of[c]}={rec[c]}" for c in columns if c != changed),
                **{k: rec[k] for k in stats},
            }
        )
    frame = pd.DataFrame(rows, columns=["axis", "from", "to", "at", *stats])
    frame["kpi"] = frame["kpi"].astype(str)
    frame["significant"] = frame["significant"].astype(bool)
    return frame


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
    long = _long_table(run)
    by_path = _parameters(run, long)
    params = list(by_path)
    try:
        table = pivot(long, by_path)
    except ValueError as exc:
        raise RunDirError(
            f"{run.file('sweep.parquet')}: not one row per grid point and KPI ({exc})"
        ) from None
    kpis = list(dict.fromkeys(long["kpi"]))
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
    differences = _differences(run, by_path)
    return SweepAnalysis(params, table, kpis, choices, panels, targets, differences)


def _first_meeting(
    table: pd.DataFrame, params: list[str], values: pd.Series, factor: float, c: Condition
) -> str | None:
    """The first grid point (in ascending parameter order) whose value meets ``c``."""
    for i, v in enumerate(values.to_numpy(np.float64) * factor):
        if np.isfinite(v) and c.holds(float(v)):
            return ", ".join(f"{p}={table[p].iloc[i]}" for p in params)
    return None
