"""The inverse question: the smallest integer setting (``fleet.riders``) that meets every SLA
target with stated confidence, found by bracketing and bisection rather than a grid walk.

Pure logic, so it can be tested with a fake evaluator: a candidate value is replicated in
batches (common random numbers: replications ``0..n-1`` at every value) until its verdict is
clear. With ``--confidence c``, a ``<`` target is *met* when the upper end of the two-sided
``2c-1`` interval (a one-sided ``c`` upper bound) is below the limit, and clearly *failed* when
even the lower end is above it; anything else gets more replications, and a candidate still
undecided at the maximum counts as not met. A met verdict is only recommended on at least as
many replications as any not-met value below it had (it is topped up first), so a lucky first
batch cannot carry it. The search assumes the targets' KPIs improve monotonically with the
setting, says so when the evidence contradicts that, and only ever recommends a value it
evaluated as met.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sim.kpis import aggregate
from sim.sla import Target

Verdict = Literal["met", "failed", "undecided"]
_BOUNDS = re.compile(r"^\s*([+-]?\d+)\s*:\s*([+-]?\d+)\s*$")
#: Default cap on replications per candidate (``--max-replications``).
DEFAULT_MAX_REPLICATIONS = 20
#: Fewest replications a candidate starts with: below this a one-sided t bound is too wide.
MIN_FIRST = 3


class PlanError(ValueError):
    """A plan that cannot be run as asked (bad bounds, a target no replication measures)."""


class Replicated(Protocol):
    """What the search reads of one replication (``sim.runner.ReplicationOutput`` is one)."""

    @property
    def kpis(self) -> Mapping[str, float]: ...

    @property
    def trials(self) -> Mapping[str, float]: ...


@dataclass(frozen=True)
class Bounds:
    """``--vary fleet.riders=10:200``: the parameter and its inclusive integer range."""

    path: str
    lo: int
    hi: int

    @property
    def text(self) -> str:
        return f"{self.path}={self.lo}:{self.hi}"


def parse_bounds(text: str) -> Bounds:
    """``path=LO:HI`` with integers LO <= HI (both included)."""
    path, sep, spec = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise PlanError(f"--vary {text}: expected path.to.field=LO:HI, e.g. fleet.riders=10:200")
    m = _BOUNDS.match(spec)
    if m is None:
        raise PlanError(
            f"--vary {text}: a plan searches one integer parameter; give LO:HI with whole "
            "numbers, e.g. fleet.riders=10:200"
        )
    lo, hi = int(m.group(1)), int(m.group(2))
    if hi < lo:
        raise PlanError(f"--vary {text}: HI ({hi}) is below LO ({lo})")
    return Bounds(path, lo, hi)


def interval_level(confidence: float) -> float:
    """The two-sided level whose interval ends are one-sided ``confidence`` bounds."""
    if not 0.5 < confidence < 1.0:
        raise PlanError(f"--confidence {confidence:g}: must lie above 0.5 and below 1")
    return 2.0 * confidence - 1.0


@dataclass(frozen=True)
class TargetCheck:
    """One target's estimate at a candidate, and which side of its limit the bounds fall."""

    target: Target
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    half_width: float | None = None

    @property
    def bound(self) -> float | None:
        """The conservative one-sided bound: the upper end for a ``<`` target."""
        return self.ci_high if self.target.upper else self.ci_low

    @property
    def optimistic(self) -> float | None:
        """The other end: on the wrong side of the limit means clearly not met."""
        return self.ci_low if self.target.upper else self.ci_high

    @property
    def holds(self) -> bool:
        return self.bound is not None and self.target.holds(self.bound)

    @property
    def clearly_fails(self) -> bool:
        return self.optimistic is not None and not self.target.holds(self.optimistic)

    @property
    def relative_half_width(self) -> float:
        if self.half_width is None or self.mean is None:
            return math.inf
        if self.half_width == 0:
            return 0.0
        return self.half_width / abs(self.mean) if self.mean else math.inf

    @property
    def margin(self) -> float:
        """How far the mean is inside the limit, relative to it (negative: outside)."""
        if self.mean is None:
            return -math.inf
        gap = self.target.limit - self.mean if self.target.upper else self.mean - self.target.limit
        return gap / max(abs(self.target.limit), 1e-12)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sla": self.target.text,
            "kpi": self.target.kpi,
            "op": self.target.op,
            "limit": self.target.limit,
            "mean": self.mean,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "bound": self.bound,
            "holds": self.holds,
        }


def check(target: Target, ci: Mapping[str, Any]) -> TargetCheck:
    return TargetCheck(
        target, ci.get("mean"), ci.get("ci_low"), ci.get("ci_high"), ci.get("half_width")
    )


def check_targets(
    targets: Sequence[Target], outputs: Sequence[Replicated], level: float
) -> list[TargetCheck]:
    """Each target against the replications' interval at ``level`` (shares pooled as
    proportions, other KPIs Student t, both clipped to the KPI's range: ``sim.kpis``)."""
    agg = aggregate([dict(o.kpis) for o in outputs], [dict(o.trials) for o in outputs], level)
    missing = [t.kpi for t in targets if t.kpi not in agg]
    if missing:
        raise PlanError(f"no replication measures {', '.join(missing)} (a target names it)")
    return [check(t, agg[t.kpi]) for t in targets]


def verdict_of(checks: Sequence[TargetCheck]) -> Verdict:
    """Met when every target's conservative bound holds; failed when some target's
    optimistic bound does not; otherwise undecided."""
    if checks and all(c.holds for c in checks):
        return "met"
    if any(c.clearly_fails for c in checks):
        return "failed"
    return "undecided"


@dataclass(frozen=True)
class Replication:
    """How a candidate is replicated: the first batch, the cap, the batch size, the
    confidence, and optionally the relative precision a met verdict must also reach."""

    first: int
    max_replications: int
    batch: int
    confidence: float = 0.95
    precision: float | None = None

    def __post_init__(self) -> None:
        if self.first < 2:
            raise PlanError(f"--replications {self.first}: a candidate needs at least 2")
        if self.max_replications < self.first:
            raise PlanError(
                f"--max-replications {self.max_replications}: below the first batch "
                f"({self.first} replications)"
            )
        if self.batch < 1:
            raise PlanError(f"batch {self.batch}: must be >= 1")
        interval_level(self.confidence)

    @property
    def level(self) -> float:
        return interval_level(self.confidence)


@dataclass
class Candidate:
    """One evaluated setting: its verdict, each target's estimate, and its replications."""

    value: int
    verdict: Verdict
    checks: list[TargetCheck]
    outputs: list[Replicated] = field(repr=False)
    #: with ``--precision``: whether every target KPI's interval got that narrow
    precision_reached: bool | None = None
    step: int = 0  # the search's evaluation that gave this verdict, from 1
    topped_up: bool = False  # re-evaluated on more replications than its first verdict

    @property
    def met(self) -> bool:
        return self.verdict == "met"

    @property
    def replications(self) -> int:
        return len(self.outputs)

    @property
    def margin(self) -> float:
        """The worst target's relative margin (the "best candidate" when none is met)."""
        return min((c.margin for c in self.checks), default=-math.inf)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "value": self.value,
            "step": self.step,
            "topped_up": self.topped_up,
            "replications": self.replications,
            "verdict": self.verdict,
            "targets": [c.as_dict() for c in self.checks],
        }
        if self.precision_reached is not None:
            out["precision_reached"] = self.precision_reached
        return out


#: Runs replications ``indices`` of the scenario at one setting.
RunBatch = Callable[[int, list[int]], Sequence[Replicated]]
#: Evaluates a setting on at least ``at_least`` replications (more until its verdict is
#: clear); asked again with a larger ``at_least``, it extends the same replications.
Evaluate = Callable[[int, int], Candidate]


def evaluate_candidate(
    value: int,
    run: RunBatch,
    targets: Sequence[Target],
    rule: Replication,
    *,
    prior: Sequence[Replicated] = (),
    at_least: int = 0,
) -> Candidate:
    """Replications ``0..`` at ``value`` (after ``prior``, the ones it already has) in
    batches until the verdict is clear (and, for a met one with ``rule.precision``, every
    target's interval is that narrow) or the cap; never fewer than ``at_least``."""
    outputs: list[Replicated] = list(prior)
    first = min(rule.max_replications, max(rule.first, at_least))
    if len(outputs) < first:
        outputs += run(value, list(range(len(outputs), first)))
    while True:
        checks = check_targets(targets, outputs, rule.level)
        verdict = verdict_of(checks)
        precise = (
            None
            if rule.precision is None
            else all(c.relative_half_width <= rule.precision for c in checks)
        )
        done = verdict == "failed" or (verdict == "met" and precise is not False)
        if done or len(outputs) >= rule.max_replications:
            return Candidate(value, verdict, checks, outputs, precise)
        more = min(rule.batch, rule.max_replications - len(outputs))
        outputs += run(value, list(range(len(outputs), len(outputs) + more)))


class CandidateEvaluator:
    """``Evaluate`` over a ``RunBatch``: keeps each value's replications so a top-up
    extends them (the same replication indices: common random numbers)."""

    def __init__(self, run: RunBatch, targets: Sequence[Target], rule: Replication) -> None:
        self.run = run
        self.targets = tuple(targets)
        self.rule = rule
        self._outputs: dict[int, list[Replicated]] = {}

    def __call__(self, value: int, at_least: int = 0) -> Candidate:
        c = evaluate_candidate(
            value,
            self.run,
            self.targets,
            self.rule,
            prior=self._outputs.get(value, ()),
            at_least=at_least,
        )
        self._outputs[value] = c.outputs
        return c


@dataclass
class PlanResult:
    """The search's answer: every candidate (its latest evaluation) in the order first
    evaluated, the recommendation (the smallest met candidate, or None), and how many
    evaluations it took (top-ups included)."""

    bounds: Bounds
    candidates: list[Candidate]
    recommended: Candidate | None
    evaluations: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def met(self) -> bool:
        return self.recommended is not None

    @property
    def best(self) -> Candidate:
        """The recommendation, else the candidate closest to meeting every target."""
        if self.recommended is not None:
            return self.recommended
        return max(self.candidates, key=lambda c: (c.margin, c.value))

    @property
    def replications(self) -> int:
        return sum(c.replications for c in self.candidates)

    def by_value(self) -> list[Candidate]:
        return sorted(self.candidates, key=lambda c: c.value)


def search(
    bounds: Bounds,
    evaluate: Evaluate,
    on_candidate: Callable[[Candidate], None] | None = None,
) -> PlanResult:
    """Bracket, then bisect: LO met is the answer; HI not met means no setting inside the
    bounds meets the targets; otherwise bisect between the largest not-met and the smallest
    met value until they are adjacent: ``2 + ceil(log2(HI - LO))`` candidates at most, unless
    a top-up (below) overturns a verdict.

    A met verdict reached on fewer replications than a not-met candidate below it had is
    topped up to that many (the same replications, so a lucky first batch cannot carry it);
    if it no longer holds, the bisection continues above it. New midpoints start with as
    many replications as the largest not-met value had."""
    seen: dict[int, Candidate] = {}
    first_seen: list[int] = []
    steps = 0

    def at(value: int, at_least: int = 0) -> Candidate:
        nonlocal steps
        old = seen.get(value)
        if old is not None and (not old.met or old.replications >= at_least):
            return old
        c = evaluate(value, at_least)
        steps += 1
        c.step = steps
        c.topped_up = old is not None
        if old is None:
            first_seen.append(value)
        seen[value] = c
        if on_candidate is not None:
            on_candidate(c)
        return c

    def done(good: int | None) -> PlanResult:
        order = [seen[v] for v in first_seen]
        rec = None if good is None else seen[good]
        return PlanResult(bounds, order, rec, steps, monotonicity_warnings(order, bounds.path))

    lo, hi = bounds.lo, bounds.hi
    if at(lo).met:
        return done(lo)
    if hi == lo or not at(hi, seen[lo].replications).met:
        return done(None)
    bad, good = lo, hi
    while True:
        while good - bad > 1:
            mid = (bad + good) // 2
            if at(mid, seen[bad].replications).met:
                good = mid
            else:
                bad = mid
        # top up the smallest met value, then (if overturned) the next met one above, before
        # bisecting towards it: an overturned verdict at HI ends the search at once
        while True:
            floor = max(c.replications for v, c in seen.items() if v < good and not c.met)
            if at(good, floor).met:
                break
            bad = good
            above = [v for v, c in seen.items() if v > bad and c.met]
            if not above:
                return done(None)
            good = min(above)
        if good - bad <= 1:
            return done(good)


def monotonicity_warnings(candidates: Sequence[Candidate], path: str) -> list[str]:
    """Pairs that contradict "more is better": a met value below a clearly failed one."""
    met = [c.value for c in candidates if c.met]
    failed = [c.value for c in candidates if c.verdict == "failed"]
    out = []
    for value in sorted(failed):
        below = [m for m in met if m < value]
        if below:
            out.append(
                f"{path}={min(below)} met the targets but {path}={value} clearly failed them: "
                "the KPIs are not monotone in this range, so the bisection's answer may not "
                "be the smallest setting"
            )
    return out
