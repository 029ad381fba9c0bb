"""Service-level targets as KPIs a replication estimates: ``click_to_door=p95 < 40min`` (the
thresholds' grammar, ``scenarios.thresholds``) becomes "the KPI ``click_to_door_p95_min`` must
stay below 40", which replications estimate with an interval, so ``orderflow plan`` and
``--precision`` can ask how sure a run is that a target holds."""

from __future__ import annotations

from dataclasses import dataclass

from scenarios.thresholds import Condition, Threshold, ThresholdError, Unit, parse_flag
from sim.kpis import PERCENTILES, PHASE_SPANS

PHASES = tuple(name for name, _, _ in PHASE_SPANS)
#: Shares of the measured orders a threshold may name, as their KPI keys (the report's names).
RATES = {
    "cancellation_rate": "cancellation_rate",
    "rejection_rate": "rejection_rate",
    "payment_failure_rate": "payment_failure_rate",
    "delivered_share": "delivered_share",
    "late_share": "late_share",
}
#: Time shares a threshold may name with ``avg``.
UTILISATIONS = ("rider_utilisation", "kitchen_utilisation")


@dataclass(frozen=True)
class Target:
    """One condition on one KPI: ``kpi`` must satisfy ``op limit`` (in the KPI's own units:
    minutes, a 0..1 share, a count)."""

    kpi: str
    op: str
    limit: float
    text: str  # as the user wrote it, for messages

    @property
    def upper(self) -> bool:
        """The KPI must stay below the limit (``<``, ``<=``); otherwise above it."""
        return self.op in ("<", "<=")

    def holds(self, value: float) -> bool:
        return {
            "<": value < self.limit,
            "<=": value <= self.limit,
            ">": value > self.limit,
            ">=": value >= self.limit,
            "==": value == self.limit,
        }[self.op]


def target_of(threshold: Threshold) -> list[Target]:
    """The KPI targets a threshold states; an aggregation no replication estimates is an error
    naming it and what is estimated instead."""
    return [_target(threshold.name, c) for c in threshold.conditions]


def _target(name: str, c: Condition) -> Target:
    text = f"{name}={c.text}"
    if c.op == "==":
        raise ThresholdError(f"{text}: a target needs <, <=, > or >=")
    if name in PHASES:
        if c.unit is not Unit.DURATION:
            raise ThresholdError(f"{text}: {name} is a duration; give a unit (s, min, h)")
        minutes = c.limit / 60_000.0
        if c.aggregation == "avg":
            return Target(f"{name}_mean_min", c.op, minutes, text)
        pct = c.percentile
        if pct is None or pct != int(pct) or int(pct) not in PERCENTILES:
            known = ", ".join(f"p{p}" for p in PERCENTILES)
            raise ThresholdError(
                f"{text}: replications estimate {name} as avg or {known}, not {c.aggregation}"
            )
        return Target(f"{name}_p{int(pct)}_min", c.op, minutes, text)
    if name in RATES:
        if c.aggregation != "rate":
            raise ThresholdError(f"{text}: {name} is a share; write 'rate < 5%'")
        return Target(RATES[name], c.op, c.limit, text)
    if name in UTILISATIONS:
        if c.aggregation != "avg":
            raise ThresholdError(f"{text}: {name} is a time share; write 'avg < 80%'")
        return Target(name, c.op, c.limit, text)
    known = ", ".join((*PHASES, *RATES, *UTILISATIONS))
    raise ThresholdError(f"{text}: unknown metric {name!r}; targets can name {known}")


def parse_sla(text: str) -> list[Target]:
    """``--sla 'click_to_door=p95 < 40min'`` (several conditions: ``,`` or ``&&``)."""
    try:
        return target_of(parse_flag(text))
    except ThresholdError as exc:
        raise ThresholdError(str(exc).replace("--threshold", "--sla")) from None


def scenario_targets(thresholds: dict[str, str]) -> list[Target]:
    """The targets a scenario's ``[thresholds]`` state that replications can estimate (the
    others, such as a ``count``, are for the report alone)."""
    from scenarios.thresholds import parse_table

    out: list[Target] = []
    for t in parse_table(thresholds, "[thresholds]"):
        for c in t.conditions:
            try:
                out.append(_target(t.name, c))
            except ThresholdError:
                continue
    return out
