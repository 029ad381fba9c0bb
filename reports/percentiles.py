"""The two percentile definitions a report uses, and which data each applies to: a load run's
latencies follow the run's HdrHistograms (``loadtest.hdr``: nearest rank of bucket values), so
the report's tables, its threshold verdicts and its charts show the numbers ``summary.json`` and
the terminal showed; a simulation's KPIs keep numpy's linear interpolation, as ``sim.kpis``
computes them."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from loadtest import hdr
from reports.timebuckets import pct_label


class Definition(StrEnum):
    LINEAR = "linear"  # numpy's default, for simulation KPIs
    HDR = "hdr"  # the load run's HdrHistograms, for latencies in milliseconds


def percentile(values: np.ndarray[Any, Any], pct: float, definition: Definition) -> float:
    """One percentile of the finite values; NaN when there are none."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return float("nan")
    if definition is Definition.HDR:
        return hdr.percentile_ms(hdr.quantize_ms(finite), pct)
    return float(np.percentile(finite, pct))


def group_percentiles(
    frame: pd.DataFrame,
    keys: list[str],
    column: str,
    percentiles: Sequence[float],
    prefix: str,
    definition: Definition = Definition.HDR,
) -> pd.DataFrame:
    """Percentiles of ``column`` per group, as columns ``{prefix}_p50`` ...; HDR ones are picked
    by rank from one sort of the quantized values, so thousands of groups cost one sort."""
    names = [f"{prefix}_{pct_label(p)}" for p in percentiles]
    if definition is Definition.LINEAR:
        qs = np.asarray([p / 100.0 for p in percentiles], dtype=np.float64)
        grouped = frame.groupby(keys, sort=True, observed=True)[column].quantile(qs)
        table: pd.DataFrame = grouped.unstack(level=-1)
        table.columns = pd.Index(names)
        return table
    quantized = hdr.quantize_ms(frame[column].to_numpy(np.float64))
    data = frame[keys].copy()
    data["_q"] = quantized
    data = data[np.isfinite(quantized)]
    data = data.sort_values([*keys, "_q"], kind="stable")
    groups = data.groupby(keys, sort=True, observed=True)
    sizes = groups.size()
    starts = np.concatenate([[0], np.cumsum(sizes.to_numpy())[:-1]])
    values = data["_q"].to_numpy()
    out = pd.DataFrame(index=sizes.index)
    n = sizes.to_numpy()
    for p, name in zip(percentiles, names, strict=True):
        ranks = np.maximum(1, (np.minimum(p, 100.0) * n / 100.0 + 0.5).astype(np.int64))
        out[name] = values[starts + ranks - 1]
    return out
