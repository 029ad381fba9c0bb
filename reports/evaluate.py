"""Evaluate thresholds against a run's metrics and decide pass/fail.

The metrics are plain arrays gathered by :mod:`reports.metrics` from a run directory, so the same
evaluation serves ``orderflow report`` and the ``--check`` flag of ``simulate`` / ``loadtest``.
Percentiles follow the metric's own definition (``reports.percentiles``: a load run's
HdrHistograms, numpy's linear interpolation for simulation KPIs), the same the report's tables
use, so a threshold and the table beside it never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from reports.percentiles import Definition, percentile
from scenarios.thresholds import Condition, Threshold, ThresholdError, Unit, format_quantity

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class MetricData:
    """What a threshold can aggregate: sample values (pNN/avg/min/max), flags (rate), a count."""

    description: str
    unit: Unit
    samples: FloatArray | None = None
    flags: BoolArray | None = None
    count: int | None = None
    #: Time bucket of each sample/flag, for finding the intervals in which a threshold is breached.
    buckets: npt.NDArray[np.int64] | None = None
    #: How a percentile of ``samples`` is defined (a load run's latencies: its HdrHistograms).
    definition: Definition = Definition.LINEAR

    def aggregate(self, cond: Condition, threshold: Threshold) -> float | None:
        """The aggregated value, ``None`` when there is no data to aggregate."""
        where = f"threshold {threshold.name!r} = {cond.text!r}"
        if cond.aggregation == "count":
            if self.count is not None:
                return float(self.count)
            if self.flags is not None:
                return float(np.count_nonzero(self.flags))
            return float(0 if self.samples is None else self.samples.size)
        if cond.aggregation == "rate":
            if self.flags is None:
                raise ThresholdError(
                    f"{where}: 'rate' needs a pass/fail metric, and {threshold.name!r} "
                    f"({self.description}) has values; use pNN, avg, min or max"
                )
            return None if self.flags.size == 0 else float(np.mean(self.flags))
        if self.samples is None:
            raise ThresholdError(
                f"{where}: {threshold.name!r} ({self.description}) is a pass/fail metric; "
                "use 'rate' or 'count'"
            )
        if self.unit is Unit.DURATION and cond.unit is not Unit.DURATION:
            raise ThresholdError(
                f"{where}: {threshold.name!r} is a duration; give a unit (ms, s, min)"
            )
        if self.unit is not Unit.DURATION and cond.unit is Unit.DURATION:
            raise ThresholdError(f"{where}: {threshold.name!r} is not a duration; drop the unit")
        return aggregate_samples(self.samples, cond, self.definition)


def aggregate_samples(
    samples: FloatArray, cond: Condition, definition: Definition = Definition.LINEAR
) -> float | None:
    values = samples[~np.isnan(samples)]
    if values.size == 0:
        return None
    pct = cond.percentile
    if pct is not None:
        return percentile(values, pct, definition)
    if cond.aggregation == "avg":
        return float(values.mean())
    if cond.aggregation == "max":
        return float(values.max())
    if cond.aggregation == "min":
        return float(values.min())
    raise ThresholdError(f"aggregation {cond.aggregation!r} does not apply to values")


@dataclass(frozen=True)
class ConditionResult:
    metric: str
    condition: str
    source: str
    status: str  # "pass", "breach", "no data", "not applicable"
    value: float | None
    shown: str  # value in the condition's unit, or a reason

    @property
    def breached(self) -> bool:
        return self.status == "breach"

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "condition": self.condition,
            "source": self.source,
            "status": self.status,
            "value": self.value,
            "shown": self.shown,
        }


@dataclass
class Evaluation:
    results: list[ConditionResult] = field(default_factory=list)

    @property
    def breaches(self) -> list[ConditionResult]:
        return [r for r in self.results if r.breached]

    @property
    def passed(self) -> bool:
        return not self.breaches

    def lines(self) -> list[str]:
        """One line per condition, breaches first, for the terminal."""
        ordered = sorted(self.results, key=lambda r: (not r.breached, r.metric))
        return [
            f"  {r.status.upper():<14} {r.metric} {r.condition}  (value {r.shown}; {r.source})"
            for r in ordered
        ]


def evaluate(
    thresholds: Sequence[Threshold],
    metrics: Mapping[str, MetricData],
    known_elsewhere: Mapping[str, str],
    run_kind: str,
) -> Evaluation:
    """Evaluate every condition; a name no run kind knows is an error (a typo must not pass).

    ``known_elsewhere`` maps metric names measured by other run kinds to that kind, so a scenario
    file's load-test thresholds are reported as not applicable to a simulation and vice versa.
    """
    out = Evaluation()
    for t in thresholds:
        data = metrics.get(t.name)
        if data is None:
            other = known_elsewhere.get(t.name)
            if other is None:
                known = ", ".join(sorted(metrics))
                raise ThresholdError(
                    f"{t.source}: unknown metric {t.name!r} for a {run_kind} run; known: {known}"
                )
            for c in t.conditions:
                out.results.append(
                    ConditionResult(
                        t.name, c.text, t.source, "not applicable", None, f"{other} runs only"
                    )
                )
            continue
        for c in t.conditions:
            value = data.aggregate(c, t)
            if value is None:
                out.results.append(ConditionResult(t.name, c.text, t.source, "no data", None, "-"))
                continue
            status = "pass" if c.holds(value) else "breach"
            shown = format_quantity(value, c.unit if c.unit is not Unit.NUMBER else data.unit)
            if c.aggregation == "count":
                shown = f"{value:.0f}"
            out.results.append(ConditionResult(t.name, c.text, t.source, status, value, shown))
    return out
