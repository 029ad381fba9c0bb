"""The grammar of ``orderflow compare --max-regression NAME=[MEASURE] [AGGREGATION] TOLERANCE``:
how far a metric may move from the baseline run to the candidate before the build fails.

It reads like a threshold (``scenarios.thresholds``: a metric name, ``=``, an aggregation) but
ends in a tolerance on the *change* instead of a limit on the value: ``+10%`` (relative to the
baseline), ``+50ms`` (absolute), ``+1pp`` (percentage points of a rate). A sign says which way
is worse; without one the metric's own direction applies (higher latency is worse, a lower
delivered share is worse). The parser is as strict as the thresholds' and its errors name the
flag and the part that is wrong, because a gate that silently ignores a typo passes a release it
should fail. Which names exist depends on the runs, so names are resolved by the comparison.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

from scenarios.thresholds import DURATION_UNITS, ThresholdError

_EXPR = re.compile(
    r"^\s*(?:(?P<measure>service|latency)\s+)?"
    r"(?:(?P<agg>p\d{1,2}(?:\.\d+)?|med|avg|rate)\s+)?"
    r"(?P<sign>[+-])?\s*(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|min|h|%|pp)?\s*$"
)
GRAMMAR = (
    "expected NAME=[service|latency] [AGGREGATION] TOLERANCE, e.g. "
    "'GET /api/orders/[id]/=p95 10%', '*=p99 +50ms', 'errors=rate +1pp' or "
    "'click_to_door_p95_min=+5%'; aggregations: pNN, med, avg, rate; tolerance: an optional "
    "sign (+ higher is worse, - lower is worse) and a number with %, pp, ms, s, min or h"
)


class Direction(IntEnum):
    """Which way a metric gets worse: its sign multiplies a difference into "how much worse"."""

    LOWER_IS_WORSE = -1
    NEUTRAL = 0
    HIGHER_IS_WORSE = 1


class Scale(IntEnum):
    """What a row's values are, which decides the tolerance units that make sense for it."""

    DURATION_MS = 1
    DURATION_MIN = 2
    FRACTION = 3
    NUMBER = 4


@dataclass(frozen=True, slots=True)
class RegressionSpec:
    """One parsed ``--max-regression``; the amount is kept as written and converted to a row's
    units by :meth:`allowed`, because ``%`` is relative to the baseline value of each row."""

    name: str
    measure: str | None  # "service" or "latency" (load-test durations), else None
    aggregation: str | None  # "p95", "p99.9", "avg", "rate" ("med" becomes "p50"), or None
    sign: int  # +1, -1, or 0 when none was written
    amount: float
    unit: str | None  # "%", "pp", "ms", "s", "min", "h", or None
    text: str  # the flag's value as given, for messages

    @property
    def where(self) -> str:
        return f"--max-regression {self.text!r}"

    @property
    def percentile(self) -> float | None:
        if self.aggregation is None or not self.aggregation.startswith("p"):
            return None
        return float(self.aggregation[1:])

    @property
    def tolerance(self) -> str:
        """The tolerance as written (``+10%``), for tables."""
        sign = {1: "+", -1: "-", 0: ""}[self.sign]
        return f"{sign}{self.amount:g}{self.unit or ''}"

    def worse(self, direction: Direction, what: str) -> Direction:
        """The direction this tolerance guards: its sign, or the metric's own. A sign against a
        metric's known direction is an error (``+1pp`` on a delivered share would never fail a
        drop), and a metric with no better side needs one."""
        if self.sign == 0:
            if direction is Direction.NEUTRAL:
                raise ThresholdError(
                    f"{self.where}: {what} is neither better higher nor lower; give the "
                    f"tolerance a sign: '+{self.amount:g}{self.unit or ''}' (a rise is a "
                    f"regression) or '-{self.amount:g}{self.unit or ''}' (a fall is)"
                )
            return direction
        if direction is not Direction.NEUTRAL and self.sign != direction:
            worse = "higher" if direction is Direction.HIGHER_IS_WORSE else "lower"
            way = "rise" if direction is Direction.HIGHER_IS_WORSE else "fall"
            sign = "+" if direction is Direction.HIGHER_IS_WORSE else "-"
            raise ThresholdError(
                f"{self.where}: a {worse} {what} is worse, so its tolerance says how far it may "
                f"{way}: write '{sign}{self.amount:g}{self.unit or ''}' or "
                f"'{self.amount:g}{self.unit or ''}'"
            )
        return Direction(self.sign)

    def allowed(self, scale: Scale, baseline: float | None, what: str) -> float | None:
        """The largest change (a positive number in the row's units) that is not a regression;
        None when it is relative and there is no baseline value to be relative to."""
        unit = self.unit
        if unit == "%":
            return None if baseline is None else abs(baseline) * self.amount / 100.0
        if unit == "pp":
            if scale is not Scale.FRACTION:
                raise ThresholdError(
                    f"{self.where}: 'pp' (percentage points) is for rates and shares; {what} "
                    f"is not one: use % (relative) or {_units(scale)}"
                )
            return self.amount / 100.0
        if unit in DURATION_UNITS:
            ms = self.amount * DURATION_UNITS[unit]
            if scale is Scale.DURATION_MS:
                return ms
            if scale is Scale.DURATION_MIN:
                return ms / 60_000.0
            raise ThresholdError(
                f"{self.where}: {what} is not a duration, so {unit!r} does not apply: use % "
                f"(relative) or {_units(scale)}"
            )
        if scale in (Scale.DURATION_MS, Scale.DURATION_MIN):
            raise ThresholdError(
                f"{self.where}: {what} is a duration; give the tolerance a unit (ms, s, min, h) "
                "or make it relative (%)"
            )
        if scale is Scale.FRACTION and self.amount > 1.0:
            raise ThresholdError(
                f"{self.where}: a plain tolerance on a rate is a fraction (0.01 is 1pp); write "
                f"'{self.amount:g}pp' or '{self.amount:g}%'"
            )
        return self.amount


def _units(scale: Scale) -> str:
    return {
        Scale.DURATION_MS: "a duration (ms, s, min, h)",
        Scale.DURATION_MIN: "a duration (ms, s, min, h)",
        Scale.FRACTION: "percentage points (pp)",
        Scale.NUMBER: "a plain number",
    }[scale]


def parse_regression(text: str) -> RegressionSpec:
    """Parse ``--max-regression 'NAME=EXPR'``; the name may contain spaces, slashes and
    brackets (an endpoint template name), never ``=``, so the first ``=`` separates."""
    name, sep, expr = text.partition("=")
    name = name.strip().strip("\"'")
    where = f"--max-regression {text!r}"
    if not sep or not name or not expr.strip():
        raise ThresholdError(f"{where}: {GRAMMAR}")
    m = _EXPR.match(expr)
    if m is None:
        if re.search(r"[<>]", expr):
            raise ThresholdError(
                f"{where}: a tolerance is how far the metric may move from the baseline, not a "
                f"limit on its value (that is --threshold for orderflow report); {GRAMMAR}"
            )
        raise ThresholdError(f"{where}: {GRAMMAR}")
    agg, unit = m["agg"], m["unit"]
    if agg == "med":
        agg = "p50"
    if agg is not None and agg.startswith("p") and not 0 < float(agg[1:]) < 100:
        raise ThresholdError(f"{where}: percentile {agg!r} must lie between p0 and p100")
    if m["measure"] is not None and (agg is None or not agg.startswith("p")):
        raise ThresholdError(
            f"{where}: {m['measure']!r} chooses the duration a percentile reads; follow it with "
            "one, e.g. 'latency p95 +10%'"
        )
    if agg == "rate" and unit in DURATION_UNITS:
        raise ThresholdError(
            f"{where}: 'rate' is a fraction; give its tolerance in pp (percentage points) or %"
        )
    if agg is not None and agg.startswith("p") and unit == "pp":
        raise ThresholdError(
            f"{where}: a percentile is a duration; 'pp' is for rates: use ms, s, min, h or %"
        )
    sign = {"+": 1, "-": -1, None: 0}[m["sign"]]
    return RegressionSpec(name, m["measure"], agg, sign, float(m["num"]), unit, text.strip())


def pick(specs: list[tuple[RegressionSpec, int]]) -> RegressionSpec | None:
    """The spec that governs a row among those that match it, each with its specificity (2 an
    exact name, 1 a wildcard): the most specific, and among equals the last given, as a
    ``--threshold`` overrides the scenario's entry of the same name."""
    if not specs:
        return None
    best = max(rank for _, rank in specs)
    return [s for s, rank in specs if rank == best][-1]
