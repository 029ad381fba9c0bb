"""Two simulation runs side by side: every KPI of their ``summary.json`` with each run's own
estimate and interval, and the candidate's difference from the baseline with a Student-t
interval over replications.

When both runs used the same seed and the same replications, replication ``r`` of one had the
same random numbers as replication ``r`` of the other (common random numbers: the same orders,
riders and decisions), so the difference is the mean of the per-replication differences with a
paired t interval, which removes the noise the two runs share; otherwise it is the difference
of the replication means with Welch's interval. The comparison says which it used. Shares of
orders are differenced per replication too, so a difference can differ slightly from the
difference of the pooled shares ``summary.json`` reports (as a sweep's differences do).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from reports.compare_rows import Row
from reports.compare_spec import Direction, RegressionSpec, Scale, pick
from reports.rundir import RunDir, RunDirError, read_json_object
from scenarios.thresholds import ThresholdError
from sim.kpis import HEADLINE_KPIS, PERCENTILES, kpi_range
from sim.sla import PHASES, RATES, UTILISATIONS

TABLES = ("summary.json", "replications.parquet")
#: KPIs that get worse as they fall; every KPI not listed here or in NEUTRAL is worse higher.
LOWER_IS_WORSE = frozenset(
    {"delivered", "delivered_share", "orders_per_rider_hour", "mdrp_delivered"}
)
#: KPIs with no better side (demand, how riders split their time, how much dispatch worked):
#: a tolerance on one must say with its sign which way is a regression.
NEUTRAL = frozenset(
    {
        "orders_placed",
        "orders_in_window",
        "rider_utilisation",
        "kitchen_utilisation",
        "rider_travel_share",
        "rider_handover_share",
        "rider_idle_share",
        "orders_per_bundle",
        "bundled_share",
        "dispatch_decisions",
        "dispatch_pairs_costed",
        "refunds_completed",
        "mdrp_orders",
        "mdrp_courier_utilisation",
        "mdrp_orders_per_bundle",
        "mdrp_total_pay",
        "mdrp_trueup_share",
    }
)


def kpi_direction(name: str) -> Direction:
    if name in LOWER_IS_WORSE:
        return Direction.LOWER_IS_WORSE
    if name in NEUTRAL:
        return Direction.NEUTRAL
    return Direction.HIGHER_IS_WORSE


def kpi_scale(name: str) -> Scale:
    if name.endswith("_min"):
        return Scale.DURATION_MIN
    return Scale.FRACTION if kpi_range(name) == (0.0, 1.0) else Scale.NUMBER


@dataclass
class SimSample:
    """One run's KPIs: ``summary.json``'s estimates and every replication's value."""

    kpis: dict[str, dict[str, Any]]
    values: pd.DataFrame  # replication x KPI, NaN where a KPI has no value
    seed: object


def read_sample(run: RunDir) -> SimSample:
    for name in TABLES:
        if not run.has(name):
            raise RunDirError(
                f"run directory {run.path} has no {name}; compare needs {', '.join(TABLES)} "
                "of a simulation run"
            )
    summary = read_json_object(run.file("summary.json"))
    kpis = summary.get("kpis")
    if not isinstance(kpis, dict) or not kpis:
        raise RunDirError(f"{run.file('summary.json')}: has no 'kpis' object")
    reps = run.table("replications.parquet", ["replication", "kpi", "value"])
    values = reps.pivot_table(
        index="replication", columns="kpi", values="value", aggfunc="first", observed=True
    )
    values.columns = values.columns.astype(str)
    return SimSample(kpis, values, run.manifest.get("seed"))


def pairing(a: SimSample, b: SimSample) -> tuple[bool, str]:
    """Whether replication r of one run had the random numbers of replication r of the other,
    and the method sentence the report prints."""
    ra, rb = list(a.values.index), list(b.values.index)
    if a.seed is None or a.seed != b.seed:
        return False, (
            f"Welch t interval on the replication means: the runs used different seeds "
            f"({a.seed} and {b.seed}), so their replications are independent"
        )
    if ra != rb:
        return False, (
            f"Welch t interval on the replication means: the runs share seed {a.seed} but not "
            f"their replications ({len(ra)} and {len(rb)}), so they are not paired"
        )
    return True, (
        f"paired t interval over the {len(ra)} replications both runs share (seed {a.seed}: "
        "replication r of each had the same random numbers)"
    )


def paired_interval(
    base: np.ndarray[Any, Any], cand: np.ndarray[Any, Any], level: float
) -> tuple[float | None, float | None, float | None]:
    """Mean of the per-replication differences and its Student-t interval (None below two
    pairs); a pair with either value missing is left out."""
    d = cand - base
    d = d[np.isfinite(d)]
    if not d.size:
        return None, None, None
    mean = float(d.mean())
    if d.size < 2:
        return mean, None, None
    half = float(sps.t.ppf(0.5 + level / 2, d.size - 1)) * float(d.std(ddof=1)) / math.sqrt(d.size)
    return mean, mean - half, mean + half


def welch_interval(
    base: np.ndarray[Any, Any], cand: np.ndarray[Any, Any], level: float
) -> tuple[float | None, float | None, float | None]:
    """Difference of the means with Welch's t interval (Welch-Satterthwaite degrees of
    freedom); None below two values on either side."""
    x, y = base[np.isfinite(base)], cand[np.isfinite(cand)]
    if not x.size or not y.size:
        return None, None, None
    mean = float(y.mean() - x.mean())
    if x.size < 2 or y.size < 2:
        return mean, None, None
    va, vb = float(x.var(ddof=1)) / x.size, float(y.var(ddof=1)) / y.size
    se = math.sqrt(va + vb)
    if se == 0.0:
        return mean, mean, mean
    df = (va + vb) ** 2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1))
    half = float(sps.t.ppf(0.5 + level / 2, df)) * se
    return mean, mean - half, mean + half


def targets(spec: RegressionSpec, kpis: set[str]) -> list[tuple[tuple[str, str], int]]:
    """The KPI row a spec governs: a KPI name (``click_to_door_p95_min=+5%``), or a threshold's
    metric with its aggregation (``click_to_door=p95 +5%``, ``delivered_share=rate -1pp``)."""
    name, agg, where = spec.name, spec.aggregation, spec.where
    if spec.measure is not None:
        raise ThresholdError(
            f"{where}: {spec.measure!r} measures a load test's requests; these are simulation "
            "runs, whose KPIs are named as in summary.json"
        )
    kpi = name
    if agg is not None:
        if name in PHASES:
            pct = spec.percentile
            if agg == "avg":
                kpi = f"{name}_mean_min"
            elif pct is not None and pct == int(pct) and int(pct) in PERCENTILES:
                kpi = f"{name}_p{int(pct)}_min"
            else:
                known = ", ".join(f"p{p}" for p in PERCENTILES)
                raise ThresholdError(
                    f"{where}: replications estimate {name} as avg or {known}, not {agg}"
                )
        elif name in RATES:
            if agg != "rate":
                raise ThresholdError(f"{where}: {name} is a share; write 'rate -1pp' or the like")
            kpi = RATES[name]
        elif name in UTILISATIONS:
            if agg != "avg":
                raise ThresholdError(f"{where}: {name} is a time share; write 'avg +5pp'")
        elif name in kpis:
            raise ThresholdError(
                f"{where}: {name} is a KPI already; give only the tolerance, e.g. '{name}=+5%'"
            )
    elif name in PHASES:
        raise ThresholdError(
            f"{where}: {name} is a phase; say which KPI of it, e.g. '{name}=p95 +5%' or "
            f"'{name}_p95_min=+5%'"
        )
    if kpi not in kpis:
        if name == "*" or name.startswith(("GET ", "POST ")) or name in ("errors", "latency"):
            raise ThresholdError(
                f"{where}: {name!r} is a load-test metric; these are simulation runs, whose "
                "KPIs are named as in summary.json (e.g. click_to_door_p95_min)"
            )
        raise ThresholdError(
            f"{where}: neither run has a KPI {kpi!r}; name a KPI of summary.json (e.g. "
            f"{', '.join(HEADLINE_KPIS[1:5])}) or a phase with its aggregation "
            "(click_to_door=p95)"
        )
    return [((kpi, ""), 2)]


def compare(
    base: RunDir, cand: RunDir, specs: Sequence[RegressionSpec], confidence: float
) -> tuple[list[Row], str, bool]:
    """Every KPI's row, the method sentence, and whether the differences are paired."""
    a, b = read_sample(base), read_sample(cand)
    names = set(a.kpis) | set(b.kpis)
    matches = [(spec, targets(spec, names)) for spec in specs]
    paired, method = pairing(a, b)
    ordered = [k for k in HEADLINE_KPIS if k in names] + sorted(names - set(HEADLINE_KPIS))
    rows: dict[str, Row] = {}
    for name in ordered:
        rows[name] = _row(name, a, b, paired, confidence)
    governing: dict[str, list[tuple[RegressionSpec, int]]] = {}
    for spec, found in matches:
        for (kpi, _), rank in found:
            governing.setdefault(kpi, []).append((spec, rank))
    for name, row in rows.items():
        row.apply(pick(governing.get(name, [])))
    return list(rows.values()), method, paired


def _column(s: SimSample, name: str) -> np.ndarray[Any, Any]:
    if name not in s.values.columns:
        return np.full(len(s.values.index), np.nan)
    return s.values[name].to_numpy(np.float64)


def _row(name: str, a: SimSample, b: SimSample, paired: bool, level: float) -> Row:
    ka, kb = a.kpis.get(name, {}), b.kpis.get(name, {})
    xa, xb = _column(a, name), _column(b, name)
    if name in a.kpis and name in b.kpis:
        diff, lo, hi = (paired_interval if paired else welch_interval)(xa, xb, level)
        # a difference of two values in [low, high] lies in [low - high, high - low]
        low, high = kpi_range(name)
        if lo is not None and hi is not None and math.isfinite(high - low):
            lo, hi = max(lo, low - high), min(hi, high - low)
    else:
        diff = lo = hi = None
    return Row(
        name=name,
        metric="",
        scale=kpi_scale(name),
        direction=kpi_direction(name),
        baseline=ka.get("mean"),
        candidate=kb.get("mean"),
        difference=diff,
        ci_low=lo,
        ci_high=hi,
        baseline_low=ka.get("ci_low"),
        baseline_high=ka.get("ci_high"),
        candidate_low=kb.get("ci_low"),
        candidate_high=kb.get("ci_high"),
        n_baseline=int(ka.get("n") or 0),
        n_candidate=int(kb.get("n") or 0),
    )
