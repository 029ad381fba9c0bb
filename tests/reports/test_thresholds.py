"""The threshold parser and evaluation: units, operators, aggregations and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from reports.evaluate import MetricData, evaluate
from scenarios.thresholds import (
    ThresholdError,
    Unit,
    merge,
    parse_condition,
    parse_flag,
    parse_table,
)


@pytest.mark.parametrize(
    ("text", "agg", "op", "limit", "unit"),
    [
        ("p95 < 300ms", "p95", "<", 300.0, Unit.DURATION),
        ("p99<=1.5s", "p99", "<=", 1500.0, Unit.DURATION),
        ("p95 < 40min", "p95", "<", 2_400_000.0, Unit.DURATION),
        ("rate < 1%", "rate", "<", 0.01, Unit.FRACTION),
        ("rate <= 0.05", "rate", "<=", 0.05, Unit.FRACTION),
        ("avg > 2", "avg", ">", 2.0, Unit.NUMBER),
        ("count >= 10", "count", ">=", 10.0, Unit.NUMBER),
        ("max < 85%", "max", "<", 0.85, Unit.FRACTION),
        ("med < 1h", "p50", "<", 3_600_000.0, Unit.DURATION),
        ("p99.9 < 100ms", "p99.9", "<", 100.0, Unit.DURATION),
    ],
)
def test_parse_condition(text: str, agg: str, op: str, limit: float, unit: Unit) -> None:
    c = parse_condition("m", text)
    assert (c.aggregation, c.op, c.limit, c.unit) == (agg, op, pytest.approx(limit), unit)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("p95 300ms", "expected 'AGGREGATION OPERATOR VALUE[UNIT]'"),
        ("p95 < 300 parsecs", "expected"),
        ("mean < 3s", "aggregations: pNN"),
        ("rate < 5ms", "'rate' is a fraction"),
        ("rate < 150%", "between 0% and 100%"),
        ("count < 5ms", "'count' takes a plain number"),
        ("p0 < 1s", "between p0 and p100"),
    ],
)
def test_parse_errors_name_threshold_and_problem(text: str, fragment: str) -> None:
    with pytest.raises(ThresholdError) as err:
        parse_condition("click_to_door", text)
    assert "click_to_door" in str(err.value)
    assert text in str(err.value)
    assert fragment in str(err.value)


def test_flag_splits_at_first_equals_and_keeps_endpoint_names() -> None:
    t = parse_flag("GET /api/orders/[id]/=p95 <= 300ms")
    assert t.name == "GET /api/orders/[id]/"
    assert t.conditions[0].op == "<="
    assert parse_flag("errors = rate < 1%, count < 10").expression == "rate < 1%, count < 10"
    with pytest.raises(ThresholdError, match="expected NAME=EXPRESSION"):
        parse_flag("p95 < 300ms")


def test_table_accepts_lists_and_rejects_other_types() -> None:
    ts = parse_table({"a": ["p95 < 1s", "max < 2s"], "b": "rate < 1%"}, "scenario.toml")
    assert [len(t.conditions) for t in ts] == [2, 1]
    with pytest.raises(ThresholdError, match=r"scenario\.toml: threshold 'a' must be a string"):
        parse_table({"a": 3}, "scenario.toml")


def test_flags_override_file_thresholds_by_name() -> None:
    file = parse_table({"a": "p95 < 1s", "b": "rate < 1%"}, "file")
    merged = merge(file, [parse_flag("a=p95 < 2s")])
    assert [(t.name, t.source) for t in merged] == [("a", "--threshold"), ("b", "file")]


def _metrics() -> dict[str, MetricData]:
    samples = np.arange(1, 101, dtype=np.float64)  # 1..100 ms
    flags = np.array([True] * 3 + [False] * 97)
    return {
        "ep": MetricData("service time", Unit.DURATION, samples, flags, 100),
        "errors": MetricData("errors", Unit.FRACTION, None, flags, 3),
    }


def test_evaluate_pass_breach_and_values() -> None:
    ts = parse_table(
        {"ep": "p95 < 100ms, avg < 40ms, rate < 5%, count >= 100", "errors": "rate < 1%"}, "f"
    )
    ev = evaluate(ts, _metrics(), {}, "loadtest")
    by = {(r.metric, r.condition): r for r in ev.results}
    assert by[("ep", "p95 < 100ms")].status == "pass"
    assert by[("ep", "p95 < 100ms")].value == pytest.approx(np.percentile(np.arange(1, 101), 95))
    assert by[("ep", "avg < 40ms")].status == "breach"
    assert by[("ep", "avg < 40ms")].value == pytest.approx(50.5)
    assert by[("ep", "rate < 5%")].status == "pass"
    assert by[("ep", "count >= 100")].status == "pass"
    assert by[("errors", "rate < 1%")].status == "breach"
    assert by[("errors", "rate < 1%")].shown == "3%"
    assert [(r.metric, r.condition) for r in ev.breaches] == [
        ("ep", "avg < 40ms"),
        ("errors", "rate < 1%"),
    ]
    assert not ev.passed


def test_evaluate_unknown_metric_other_kind_and_unit_mismatch() -> None:
    with pytest.raises(ThresholdError, match="unknown metric 'epp' for a loadtest run; known: ep"):
        evaluate(parse_table({"epp": "p95 < 1s"}, "f"), _metrics(), {}, "loadtest")
    ev = evaluate(
        parse_table({"click_to_door": "p95 < 40min"}, "f"),
        _metrics(),
        {"click_to_door": "simulation"},
        "loadtest",
    )
    assert ev.results[0].status == "not applicable" and ev.passed
    with pytest.raises(ThresholdError, match="'ep' is a duration; give a unit"):
        evaluate(parse_table({"ep": "p95 < 300"}, "f"), _metrics(), {}, "loadtest")
    with pytest.raises(ThresholdError, match="pass/fail metric; use 'rate' or 'count'"):
        evaluate(parse_table({"errors": "p95 < 3ms"}, "f"), _metrics(), {}, "loadtest")


def test_no_data_is_reported_not_breached() -> None:
    empty = {"ep": MetricData("x", Unit.DURATION, np.zeros(0), np.zeros(0, bool), 0)}
    ev = evaluate(parse_table({"ep": "p95 < 1s, rate < 1%"}, "f"), empty, {}, "loadtest")
    assert [r.status for r in ev.results] == ["no data", "no data"]
