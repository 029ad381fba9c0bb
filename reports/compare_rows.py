"""One row of a comparison (a metric of the baseline beside the candidate, the difference and its
interval) and the verdict on it, shared by load-test and simulation comparisons so the terminal
table, compare.json, compare.csv and the HTML page all say the same thing.

The verdict is judged on the interval, never on the point difference alone: a regression is a
difference whose *whole* interval lies beyond the tolerance, so run-to-run noise cannot fail a
build; "worse" and "better" are differences whose interval excludes zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from reports.compare_spec import Direction, RegressionSpec, Scale

REGRESSION = "regression"
WORSE = "worse"
BETTER = "better"
HIGHER = "higher"
LOWER = "lower"
SAME = "no change"
NO_DATA = "no data"
#: Units as rows name them, per scale.
UNITS = {Scale.DURATION_MS: "ms", Scale.DURATION_MIN: "min", Scale.FRACTION: "share"}
COLUMNS = (
    "name",
    "metric",
    "unit",
    "baseline",
    "candidate",
    "difference",
    "ci_low",
    "ci_high",
    "relative",
    "tolerance",
    "limit",
    "verdict",
    "baseline_low",
    "baseline_high",
    "candidate_low",
    "candidate_high",
    "n_baseline",
    "n_candidate",
)


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass
class Row:
    """``difference`` is candidate minus baseline; ``ci_low``/``ci_high`` its interval.
    ``baseline_low`` ... are each run's own interval (charts); ``limit`` is the tolerance in
    the row's units, signed the way that is worse (+ for a rise, - for a fall)."""

    name: str
    metric: str
    scale: Scale
    direction: Direction
    baseline: float | None
    candidate: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    baseline_low: float | None = None
    baseline_high: float | None = None
    candidate_low: float | None = None
    candidate_high: float | None = None
    n_baseline: int = 0
    n_candidate: int = 0
    spec: RegressionSpec | None = None
    limit: float | None = None
    guard: Direction = Direction.NEUTRAL  # the direction the tolerance guards, once applied
    verdict: str = NO_DATA

    def __post_init__(self) -> None:
        for name in ("baseline", "candidate", "difference", "ci_low", "ci_high"):
            setattr(self, name, _finite(getattr(self, name)))
        for name in ("baseline_low", "baseline_high", "candidate_low", "candidate_high"):
            setattr(self, name, _finite(getattr(self, name)))

    @property
    def unit(self) -> str:
        return UNITS.get(self.scale, "")

    @property
    def label(self) -> str:
        return f"{self.name} {self.metric}".strip()

    @property
    def relative(self) -> float | None:
        if self.difference is None or not self.baseline:
            return None
        return self.difference / abs(self.baseline)

    def apply(self, spec: RegressionSpec | None) -> None:
        """Attach the governing tolerance (checking it suits this row) and judge the row."""
        self.spec = spec
        if spec is not None:
            self.guard = spec.worse(self.direction, self.label)
            allowed = spec.allowed(self.scale, self.baseline, self.label)
            self.limit = None if allowed is None else self.guard * allowed
        self.verdict = self._judge()

    def _judge(self) -> str:
        lo, hi = self.ci_low, self.ci_high
        if lo is None or hi is None or self.difference is None:
            return NO_DATA
        if self.limit is not None:
            up = self.guard is Direction.HIGHER_IS_WORSE
            if (lo > self.limit) if up else (hi < self.limit):
                return REGRESSION
        if lo > 0 or hi < 0:
            up = lo > 0
            if self.direction is Direction.NEUTRAL:
                return HIGHER if up else LOWER
            return WORSE if up == (self.direction is Direction.HIGHER_IS_WORSE) else BETTER
        return SAME

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "metric": self.metric,
            "unit": self.unit,
            "baseline": self.baseline,
            "candidate": self.candidate,
            "difference": self.difference,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "relative": self.relative,
            "tolerance": None if self.spec is None else self.spec.text,
            "limit": self.limit,
            "verdict": self.verdict,
            "baseline_low": self.baseline_low,
            "baseline_high": self.baseline_high,
            "candidate_low": self.candidate_low,
            "candidate_high": self.candidate_high,
            "n_baseline": self.n_baseline,
            "n_candidate": self.n_candidate,
        }


@dataclass
class Comparison:
    """Two runs of one kind compared: every row, how its intervals were made, and what a
    reader must know about the pair (a run that did not finish, settings that differ)."""

    kind: str  # "loadtest" or "simulation"
    baseline: str  # run directory names (not paths: the outputs must not depend on where)
    candidate: str
    rows: list[Row]
    method: str
    confidence: float
    specs: list[RegressionSpec]
    notes: list[str]
    seed: int | None = None  # the bootstrap's (load tests)
    resamples: int | None = None

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.verdict == REGRESSION]

    @property
    def checked(self) -> list[Row]:
        return [r for r in self.rows if r.spec is not None]

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "baseline": self.baseline,
            "candidate": self.candidate,
            "method": self.method,
            "confidence": self.confidence,
            "seed": self.seed,
            "resamples": self.resamples,
            "max_regression": [s.text for s in self.specs],
            "passed": not self.regressions,
            "regressions": [r.label for r in self.regressions],
            "notes": list(self.notes),
            "rows": [r.as_dict() for r in self.rows],
        }


def show(value: float | None, scale: Scale, signed: bool = False) -> str:
    """A value in its row's unit, short enough for a terminal column; a signed difference of
    a share is in percentage points."""
    if value is None:
        return "-"
    sign = "+" if signed else ""
    if scale is Scale.FRACTION:
        return f"{value * 100:{sign}.2f}{'pp' if signed else '%'}"
    if scale is Scale.DURATION_MS:
        digits = 2 if abs(value) < 10 else 1 if abs(value) < 1000 else 0
        return f"{value:{sign},.{digits}f}ms"
    if scale is Scale.DURATION_MIN:
        return f"{value:{sign},.2f}min"
    if value == int(value) and abs(value) < 1e9:
        return f"{value:{sign},.0f}"
    return f"{value:{sign},.4g}" if abs(value) < 1e5 else f"{value:{sign},.0f}"


def show_interval(row: Row) -> str:
    if row.ci_low is None or row.ci_high is None:
        return "-"
    return f"[{show(row.ci_low, row.scale, True)}, {show(row.ci_high, row.scale, True)}]"


def show_relative(row: Row) -> str:
    rel = row.relative
    return "-" if rel is None else f"{rel * 100:+.1f}%"


def cells(row: Row) -> list[str]:
    """A row's figures as the terminal table and the page show them, verdict left out."""
    return [
        row.label,
        show(row.baseline, row.scale),
        show(row.candidate, row.scale),
        show(row.difference, row.scale, signed=True),
        show_interval(row),
        show_relative(row),
        "" if row.spec is None else row.spec.tolerance,
    ]
