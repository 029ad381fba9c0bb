"""Scenario files: the shipped ones load (by name and by path), overrides apply, and every kind
of mistake is reported with the file, the field path and the problem."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from scenarios import ScenarioError, load_scenario, shipped_names
from scenarios.distributions import Gamma, LogNormal, Triangular
from scenarios.loader import validate

SHIPPED = ("baseline", "cancellations", "dinner_peak")


def test_shipped_scenarios_load_by_name_and_path() -> None:
    assert set(SHIPPED) <= set(shipped_names())
    for name in SHIPPED:
        by_name = load_scenario(name)
        assert by_name.scenario.name == name
        path = Path(__file__).parents[2] / "scenarios" / f"{name}.toml"
        assert load_scenario(str(path)).scenario == by_name.scenario


def test_resolved_copy_round_trips_to_the_same_scenario() -> None:
    loaded = load_scenario("dinner_peak", ["fleet.riders=123"])
    again = validate(tomllib.loads(loaded.resolved_toml()), "resolved")
    assert again == loaded.scenario
    assert again.fleet.riders == 123
    assert again.thresholds["click_to_door"] == "p95 < 40min"


def test_overrides_reach_nested_tables_and_list_items() -> None:
    s = load_scenario(
        "baseline",
        [
            "demand.curve.1.orders_per_hour=300",
            'vendors.prep_time={ dist = "constant", value_min = 7 }',
            "fleet.instant_travel=true",
        ],
    ).scenario
    assert s.demand.curve[1].orders_per_hour == 300
    assert s.vendors.prep_time.mean_s == 420
    assert s.fleet.instant_travel is True


def _error(ref: str, sets: list[str]) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(ref, sets)
    return str(info.value)


@pytest.mark.parametrize(
    ("sets", "expected"),
    [
        (["fleet.riders=-3"], "scenarios/baseline.toml: fleet.riders: must be > 0 (got -3)"),
        (["fleet.ridres=3"], "fleet.ridres: unknown field"),
        (["vendors.reject_probability=1.5"], "vendors.reject_probability: must be <= 1"),
        (['period.start="25:99"'], "period.start: expected a time of day as 'HH:MM'"),
        (['vendors.prep_time={ dist = "weibull", mean_min = 3 }'], "vendors.prep_time:"),
        (['vendors.prep_time={ dist = "lognormal", mean_min = 3 }'], "prep_time.sd_min: required"),
        (["period.warmup_min=100"], "period: warmup_min + cooldown_min (115)"),
        (['demand.curve.1.at="18:00"'], "curve[1].at (18:00) must be later than curve[0].at"),
        (
            ['thresholds.click_to_door="fast please"'],
            "thresholds.click_to_door: expected 'AGGREGATION OPERATOR",
        ),
        (['fleet.shifts=[{ start = "21:00", end = "20:00" }]'], "fleet.shifts.0: end (20:00)"),
        (["fleet.riders"], "--set fleet.riders: expected path.to.field=value"),
        (["demand.curve.9.at=1"], "demand.curve.9: expected a list index below 3"),
        (['dispatch.policy="fastest"'], "dispatch.policy: unknown dispatch policy 'fastest'"),
        (
            ["dispatch.slack_min=3"],
            "dispatch.slack_min: applies to just_in_time, not to at_confirm",
        ),
        (
            ['dispatch.policy="rolling_horizon"', "dispatch.interval_min=0"],
            "dispatch.interval_min: must be between 0.01 and 120 (got 0)",
        ),
        (
            ['dispatch.policy="rolling_horizon"', "dispatch.max_bundle=2.5"],
            "dispatch.max_bundle: input should be a valid integer",
        ),
        (['dispatch.polcy="x"'], "dispatch.polcy: unknown field"),
    ],
)
def test_mistakes_name_file_field_and_problem(sets: list[str], expected: str) -> None:
    assert expected in _error("baseline", sets)


def test_several_mistakes_are_reported_together(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    text = (Path(__file__).parents[2] / "scenarios" / "baseline.toml").read_text()
    bad.write_text(text.replace("riders = 45", "riders = 0").replace("count = 12", "count = -1"))
    message = _error(str(bad), [])
    assert f"{bad}: fleet.riders: must be > 0 (got 0)" in message
    assert f"{bad}: vendors.count: must be > 0 (got -1)" in message


def test_missing_files_and_broken_toml(tmp_path: Path) -> None:
    assert "nope: not a scenario file and not a shipped scenario name" in _error("nope", [])
    assert "no such scenario file" in _error(str(tmp_path / "x.toml"), [])
    broken = tmp_path / "broken.toml"
    broken.write_text("name = \n")
    assert f"{broken}: invalid TOML" in _error(str(broken), [])


def test_distributions_have_the_stated_means() -> None:
    rng = np.random.default_rng(3)
    for dist in (
        LogNormal(mean_min=12, sd_min=5),
        Gamma(mean_min=12, sd_min=5),
        Triangular(low_min=6, mode_min=12, high_min=18),
    ):
        draws = dist.sample_many(rng, 200_000)
        assert draws.mean() == pytest.approx(dist.mean_s, rel=0.01)
        assert dist.sample(rng) > 0


def test_demand_segments_follow_the_curve() -> None:
    s = load_scenario("baseline").scenario
    segs = s.demand.segments(s.period.start_s, s.period.duration_s)
    assert segs == [
        (0.0, 1800.0, 80 / 3600),
        (1800.0, 3600.0, 120 / 3600),
        (3600.0, 5400.0, 90 / 3600),
    ]


def test_dispatch_table_reaches_the_service() -> None:
    """[dispatch] picks the strategy the simulated service runs, with its options."""
    from reference_api.dispatch.rolling_horizon import RollingHorizon
    from sim.model import Model

    s = load_scenario(
        "baseline", ['dispatch.policy="rolling_horizon"', "dispatch.max_bundle=3"]
    ).scenario
    assert s.dispatch.spec().describe(grid=False) == {
        "policy": "rolling_horizon",
        "interval_min": 5.0,
        "horizon_min": 10.0,
        "max_bundle": 3.0,
        "bundle_window_min": 5.0,
        "stack_km": 1.0,
        "candidates": 8.0,
    }
    strategy = Model(s, seed=1, replication=0).svc.dispatch
    assert isinstance(strategy, RollingHorizon) and strategy._max_bundle == 3
