"""Pass/fail thresholds in the style of k6: ``NAME = "AGG OP VALUE[UNIT]"``.

A threshold names a metric (``click_to_door``, ``errors``, an endpoint template name such as
``GET /api/orders/[id]/``) and one or more conditions on an aggregation of it. The parser is strict
and its errors say which threshold and which part of it is wrong, because a CI gate that silently
ignores a typo passes runs it should fail. Evaluation lives in :mod:`reports.evaluate`.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from scenarios.exit_codes import ExitCode

#: Exit code of ``orderflow report`` / ``--check`` when at least one threshold is breached.
BREACH_EXIT_CODE = int(ExitCode.BREACHED)


class ThresholdError(ValueError):
    """A threshold expression or name that cannot be understood."""


class Unit(StrEnum):
    """What kind of number a threshold compares with."""

    DURATION = "duration"  # stored in milliseconds
    FRACTION = "fraction"  # stored as 0..1
    NUMBER = "number"  # plain count or ratio


#: Duration units to milliseconds.
DURATION_UNITS: dict[str, float] = {"ms": 1.0, "s": 1000.0, "min": 60_000.0, "h": 3_600_000.0}

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}

_AGG = r"(?P<agg>p\d{1,2}(?:\.\d+)?|avg|max|min|rate|count|med)"
_EXPR = re.compile(
    rf"^\s*{_AGG}\s*(?P<op><=|>=|==|<|>)\s*(?P<num>[+-]?\d+(?:\.\d+)?)\s*(?P<unit>ms|s|min|h|%)?\s*$"
)


@dataclass(frozen=True, slots=True)
class Condition:
    """One parsed ``AGG OP VALUE`` with the value normalised (ms for durations, 0..1 for rates)."""

    aggregation: str  # "p95", "avg", "max", "min", "rate", "count"
    op: str
    limit: float
    unit: Unit
    text: str  # as written, for messages

    @property
    def percentile(self) -> float | None:
        return float(self.aggregation[1:]) if self.aggregation.startswith("p") else None

    def holds(self, value: float) -> bool:
        return OPERATORS[self.op](value, self.limit)


@dataclass(frozen=True, slots=True)
class Threshold:
    name: str  # metric name
    conditions: tuple[Condition, ...]
    source: str  # "scenario [thresholds]" or "--threshold"

    @property
    def expression(self) -> str:
        return ", ".join(c.text for c in self.conditions)


def format_quantity(value: float, unit: Unit) -> str:
    """Render a normalised value back in a human unit (ms below 10 s, then s, then min)."""
    if unit is Unit.FRACTION:
        return f"{value * 100:.3g}%"
    if unit is Unit.DURATION:
        if abs(value) < 10_000:
            return f"{value:.4g}ms"
        if abs(value) < 600_000:
            return f"{value / 1000:.4g}s"
        return f"{value / 60_000:.4g}min"
    return f"{value:.6g}"


def parse_condition(name: str, text: str) -> Condition:
    """Parse one ``AGG OP VALUE[UNIT]``; errors name the threshold and the offending part."""
    where = f"threshold {name!r} = {text!r}"
    m = _EXPR.match(text)
    if m is None:
        raise ThresholdError(
            f"{where}: expected 'AGGREGATION OPERATOR VALUE[UNIT]', e.g. 'p95 < 300ms' or "
            "'rate < 1%'; aggregations: pNN, avg, med, min, max, rate, count; operators: "
            "<, <=, >, >=, ==; units: ms, s, min, h, %"
        )
    agg, op, num, unit_text = m["agg"], m["op"], float(m["num"]), m["unit"]
    if agg == "med":
        agg = "p50"
    if agg.startswith("p"):
        pct = float(agg[1:])
        if not 0 < pct < 100:
            raise ThresholdError(f"{where}: percentile {agg!r} must lie between p0 and p100")
    if agg == "rate":
        if unit_text == "%":
            limit = num / 100.0
        elif unit_text is None:
            limit = num
        else:
            raise ThresholdError(f"{where}: 'rate' is a fraction; write it as '1%' or 0.01")
        if not 0.0 <= limit <= 1.0:
            raise ThresholdError(f"{where}: a rate must lie between 0% and 100%")
        return Condition(agg, op, limit, Unit.FRACTION, text.strip())
    if agg == "count":
        if unit_text is not None:
            raise ThresholdError(f"{where}: 'count' takes a plain number, not {unit_text!r}")
        return Condition(agg, op, num, Unit.NUMBER, text.strip())
    if unit_text == "%":
        return Condition(agg, op, num / 100.0, Unit.FRACTION, text.strip())
    if unit_text is None:
        return Condition(agg, op, num, Unit.NUMBER, text.strip())
    return Condition(agg, op, num * DURATION_UNITS[unit_text], Unit.DURATION, text.strip())


def parse_threshold(name: str, value: object, source: str) -> Threshold:
    """Parse a table entry: a string (conditions separated by ',' or '&&') or a list of strings."""
    name = name.strip()
    if not name:
        raise ThresholdError(f"{source}: a threshold needs a metric name before '='")
    if isinstance(value, str):
        parts = [p for p in re.split(r",|&&", value) if p.strip()]
    elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        parts = list(value)
    else:
        raise ThresholdError(
            f"{source}: threshold {name!r} must be a string like 'p95 < 300ms' or a list of "
            f"such strings, not {type(value).__name__}"
        )
    if not parts:
        raise ThresholdError(f"{source}: threshold {name!r} has no condition")
    return Threshold(name, tuple(parse_condition(name, p) for p in parts), source)


def parse_flag(text: str) -> Threshold:
    """Parse ``--threshold 'NAME=EXPR'``; the name may itself contain spaces and slashes."""
    # Split at the '=' that is not part of an operator ('<=' / '>='): the first one is the
    # separator because metric names never contain '='.
    name, sep, expr = text.partition("=")
    if not sep or not expr.strip():
        raise ThresholdError(
            f"--threshold {text!r}: expected NAME=EXPRESSION, e.g. "
            "'click_to_door=p95 < 40min' or 'GET /api/orders/[id]/=p95 < 300ms'"
        )
    return parse_threshold(name.strip().strip("\"'"), expr.strip(), "--threshold")


def parse_table(table: Mapping[str, object], source: str) -> list[Threshold]:
    if not isinstance(table, Mapping):
        raise ThresholdError(f'{source}: [thresholds] must be a table of NAME = "EXPRESSION"')
    return [parse_threshold(str(k), v, source) for k, v in table.items()]


def merge(file_thresholds: Iterable[Threshold], flags: Iterable[Threshold]) -> list[Threshold]:
    """Flags override the scenario file's entry of the same name; order is file order then new."""
    merged: dict[str, Threshold] = {t.name: t for t in file_thresholds}
    for t in flags:
        merged[t.name] = t
    return list(merged.values())
