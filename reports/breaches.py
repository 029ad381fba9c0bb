"""Find the time intervals in which a threshold was breached, to shade them on the charts.

A run can pass its whole-run threshold and still have had a bad minute (or the reverse); the
report evaluates each condition per time bucket as well, and merges consecutive breached buckets
into intervals. ``count`` conditions are whole-run only and are not bucketed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reports.evaluate import MetricData
from reports.percentiles import group_percentiles
from scenarios.thresholds import Threshold, Unit, format_quantity


@dataclass(frozen=True)
class BreachInterval:
    metric: str
    condition: str
    start_s: float  # since the run's start
    end_s: float
    worst: float
    shown: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "condition": self.condition,
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "worst": self.worst,
            "shown": self.shown,
        }


def _per_bucket(data: MetricData, aggregation: str, pct: float | None) -> pd.Series:
    assert data.buckets is not None
    if aggregation == "rate":
        assert data.flags is not None
        return pd.Series(data.flags.astype(np.float64)).groupby(data.buckets).mean()
    assert data.samples is not None
    if pct is not None:
        frame = pd.DataFrame({"bucket": data.buckets, "v": data.samples})
        label = "p"
        table = group_percentiles(frame, ["bucket"], "v", [pct], label, data.definition)
        return table.iloc[:, 0]
    grouped = pd.Series(data.samples).groupby(data.buckets)
    if aggregation == "avg":
        return grouped.mean()
    return grouped.max() if aggregation == "max" else grouped.min()


def breach_intervals(
    thresholds: Sequence[Threshold], metrics: Mapping[str, MetricData], bucket_s: float
) -> list[BreachInterval]:
    out: list[BreachInterval] = []
    for t in thresholds:
        data = metrics.get(t.name)
        if data is None or data.buckets is None:
            continue
        for c in t.conditions:
            if c.aggregation == "count":
                continue
            if (data.flags if c.aggregation == "rate" else data.samples) is None:
                continue
            values = _per_bucket(data, c.aggregation, c.percentile).dropna()
            bad = values[[not c.holds(float(v)) for v in values.to_numpy()]]
            worse_high = c.op in ("<", "<=")
            out.extend(_merge(t.name, c.text, bad, bucket_s, c.unit, worse_high))
    return out


def _merge(
    metric: str,
    condition: str,
    bad: pd.Series,
    bucket_s: float,
    unit: Unit,
    higher_is_worse: bool,
) -> list[BreachInterval]:
    intervals: list[BreachInterval] = []
    run_start: int | None = None
    prev = -2
    worst: list[float] = []
    for b, v in zip(bad.index.to_numpy(np.int64), bad.to_numpy(np.float64), strict=True):
        if run_start is not None and b != prev + 1:
            intervals.append(
                _interval(
                    metric, condition, run_start, prev, worst, bucket_s, unit, higher_is_worse
                )
            )
            run_start, worst = None, []
        if run_start is None:
            run_start = int(b)
        worst.append(float(v))
        prev = int(b)
    if run_start is not None:
        intervals.append(
            _interval(metric, condition, run_start, prev, worst, bucket_s, unit, higher_is_worse)
        )
    return intervals


def _interval(
    metric: str,
    condition: str,
    first: int,
    last: int,
    values: list[float],
    bucket_s: float,
    unit: Unit,
    higher_is_worse: bool,
) -> BreachInterval:
    worst = max(values) if higher_is_worse else min(values)
    return BreachInterval(
        metric,
        condition,
        first * bucket_s,
        (last + 1) * bucket_s,
        worst,
        format_quantity(worst, unit),
    )
