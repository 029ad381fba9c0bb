"""How many replications, and how long a warm-up: the two questions a run's precision rests on.

Sequential replications (Law, *Simulation Modeling and Analysis*, section 9.4.1): run a first
batch, then more in batches until every named KPI's interval half-width is within the relative
precision asked (``--precision 5%``), or ``--max-replications`` is reached; the run says which.
Replication ``r`` is always random child ``r`` of the seed, so a run that stopped at 7 holds the
same first 7 replications as one asked for 7 outright.

Warm-up: MSER-5 (White 1997) on the orders-in-system series each replication samples; the
suggested warm-up is the mean over replications of the time MSER-5 truncates at, and a run whose
``period.warmup_min`` is shorter is warned with the suggested value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from scenarios.schema import Scenario
from sim.kpis import aggregate
from sim.runner import ReplicationOutput
from sim.sla import scenario_targets
from sim.stats import suggested_warmup

#: KPIs whose precision a run aims at when neither ``--precision-kpi`` nor the scenario's
#: thresholds name any.
DEFAULT_PRECISION_KPIS = ("click_to_door_p95_min",)
DEFAULT_MAX_REPLICATIONS = 40
#: Replications added per step: fixed, so where a run stops (and so its output) never depends
#: on ``--jobs`` or the cluster it ran on.
BATCH = 4
_PRECISION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$")


def parse_precision(text: str) -> float:
    """``5%`` or ``0.05`` -> 0.05 (a relative half-width, above 0 and below 1)."""
    m = _PRECISION.match(text)
    if m is None:
        raise ValueError(f"--precision {text}: expected a relative half-width such as 5% or 0.05")
    value = float(m.group(1)) / (100.0 if m.group(2) else 1.0)
    if not 0.0 < value < 1.0:
        raise ValueError(f"--precision {text}: must lie above 0 and below 100%")
    return value


def precision_kpis(scenario: Scenario, named: Sequence[str] = ()) -> tuple[str, ...]:
    """The KPIs named, else those the scenario's thresholds target, else the default."""
    if named:
        return tuple(named)
    found = tuple(dict.fromkeys(t.kpi for t in scenario_targets(dict(scenario.thresholds))))
    return found or DEFAULT_PRECISION_KPIS


def relative_widths(
    outputs: Sequence[ReplicationOutput], kpis: Sequence[str], level: float = 0.95
) -> dict[str, float]:
    """Each KPI's interval half-width over its mean's magnitude (inf when it has no interval
    yet; 0 when the KPI does not vary, e.g. a share that is always 0)."""
    agg = aggregate([o.kpis for o in outputs], [o.trials for o in outputs], level)
    out: dict[str, float] = {}
    for name in kpis:
        ci = agg.get(name)
        if ci is None:
            raise UnknownKpi(name)
        mean, half = ci["mean"], ci["half_width"]
        seen = {o.kpis[name] for o in outputs if o.kpis[name] == o.kpis[name]}
        if len(outputs) > 1 and len(seen) == 1:
            out[name] = 0.0  # the same in every replication (a share always 0): nothing to add
        elif mean is None or half is None:
            out[name] = math.inf
        elif half == 0:
            out[name] = 0.0
        else:
            out[name] = half / abs(mean) if mean else math.inf
    return out


class UnknownKpi(KeyError):
    """A KPI named for ``--precision`` that the run does not have."""


@dataclass
class Stopping:
    """Why a sequential run stopped: the target, each KPI's relative half-width, and whether
    every one reached it within ``max_replications``."""

    target: float
    kpis: dict[str, float]
    reached: bool
    replications: int
    max_replications: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "relative_half_width": self.kpis,
            "reached": self.reached,
            "replications": self.replications,
            "max_replications": self.max_replications,
        }

    def line(self) -> str:
        worst = max(self.kpis.items(), key=lambda kv: kv[1])
        verdict = "reached" if self.reached else "NOT reached"
        return (
            f"precision {self.target:.1%} {verdict} after {self.replications} replication(s) "
            f"(max {self.max_replications}); widest: {worst[0]} +-{worst[1]:.1%}"
        )


def replicate(
    run: Callable[[list[int]], list[ReplicationOutput]],
    *,
    first: int,
    target: float,
    kpis: Sequence[str],
    max_replications: int,
    batch: int,
) -> tuple[list[ReplicationOutput], Stopping]:
    """Replications ``0..`` in batches (``run`` gets the replication indices to run) until
    every KPI is within ``target`` or ``max_replications`` is reached."""
    n = max(2, min(first, max_replications))
    outputs = run(list(range(n)))
    while True:
        widths = relative_widths(outputs, kpis)
        reached = all(w <= target for w in widths.values())
        if reached or len(outputs) >= max_replications:
            return outputs, Stopping(target, widths, reached, len(outputs), max_replications)
        more = min(max(1, batch), max_replications - len(outputs))
        outputs = outputs + run(list(range(len(outputs), len(outputs) + more)))


def warmup_check(resources: pa.Table, scenario: Scenario) -> dict[str, Any]:
    """MSER-5 on each replication's orders in the system (from the period's start until the
    cool-down); the suggested warm-up in minutes and whether the configured one is shorter."""
    reps = resources.column("replication").to_numpy()
    t = resources.column("t").to_numpy()
    series = resources.column("orders_in_system").to_numpy().astype(np.float64)
    end = scenario.period.duration_s - scenario.period.cooldown_min * 60.0
    suggestions = []
    for r in np.unique(reps).tolist():
        mask = (reps == r) & (t <= end)
        if mask.sum() >= 10:
            suggestions.append(suggested_warmup(t[mask].tolist(), series[mask].tolist()) / 60.0)
    configured = scenario.period.warmup_min
    suggested = float(np.mean(suggestions)) if suggestions else 0.0
    return {
        "method": "MSER-5 on orders_in_system",
        "configured_min": configured,
        "suggested_min": round(suggested, 1),
        "short": bool(suggestions) and configured + 1e-9 < suggested,
    }
