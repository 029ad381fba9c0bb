"""The model against queueing theory, not against its own numbers.

With exponential settings the kitchen of one restaurant is an M/M/c queue (c slots, prep times
exponential, orders arriving as a Poisson process), and so is the rider pool (c riders, instant
travel, exponential handover at the restaurant). Mean waiting time and utilisation must match
Erlang C within the 95% confidence interval across replications. Erlang C is computed here from
its textbook formula, independently of the model.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sim.kpis import confidence
from tests.sim.conftest import run_scenario, scenario_from


def erlang_c(c: int, lam: float, mu: float) -> tuple[float, float]:
    """(mean wait in queue Wq, utilisation rho) of an M/M/c queue."""
    a = lam / mu
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam), rho


def mmc_world(**changes: Any) -> dict[str, Any]:
    """A one-restaurant, COD-only world with no behaviour except the queue under test."""
    world: dict[str, Any] = {
        "name": "mmc",
        "period": {"start": "08:00", "duration_h": 10, "warmup_min": 60, "cooldown_min": 0},
        "demand": {"curve": [{"at": "08:00", "orders_per_hour": 135}]},
        "vendors": {
            "count": 1,
            "kitchen_slots": 3,
            "confirm_delay": {"dist": "constant", "value_min": 0},
            "prep_time": {"dist": "exponential", "mean_min": 1.0},
        },
        "payment": {"online_share": 0.0},
        "customers": {"count": 50},
        "fleet": {
            "riders": 40,
            "instant_travel": True,
            "pickup_service": {"dist": "constant", "value_min": 0},
            "dropoff_service": {"dist": "constant", "value_min": 0},
        },
        "auto_cancel": {"confirm_timeout_min": 600, "pickup_timeout_min": 600},
        "output": {"resource_sample_min": 0.25},
    }
    for path, value in changes.items():
        node = world
        *parents, last = path.split("__")
        for p in parents:
            node = node[p]
        node[last] = value
    return world


def check_within_ci(values: list[float], theory: float, max_rel_half_width: float) -> None:
    ci = confidence(values)
    assert ci["ci_low"] <= theory <= ci["ci_high"], (ci, theory)
    # a useful test: the interval must be narrow enough to tell a wrong model apart
    assert ci["half_width"] < max_rel_half_width * theory, (ci, theory)


def test_kitchen_is_an_mmc_queue() -> None:
    # lambda = 2.25/min, mu = 1/min, c = 3: rho = 0.75
    run = run_scenario(scenario_from(mmc_world()), seed=5, replications=10, tables=False)
    wq, rho = erlang_c(3, 2.25, 1.0)
    waits = [o.kpis["wait_for_kitchen_slot_mean_min"] for o in run.outputs]
    check_within_ci(waits, wq, 0.3)
    check_within_ci([o.kpis["kitchen_utilisation"] for o in run.outputs], rho, 0.05)


def test_rider_pool_is_an_mmc_queue() -> None:
    # c = 5 riders, handover Exp(mean 2 min): mu = 0.5/min; lambda = 1.875/min: rho = 0.75
    world = mmc_world(
        vendors__kitchen_slots=1000,
        vendors__prep_time={"dist": "constant", "value_min": 0},
        fleet__riders=5,
        fleet__pickup_service={"dist": "exponential", "mean_min": 2.0},
        demand__curve=[{"at": "08:00", "orders_per_hour": 112.5}],
    )
    run = run_scenario(scenario_from(world), seed=9, replications=10, tables=False)
    wq, rho = erlang_c(5, 1.875, 0.5)
    waits = [o.kpis["wait_for_rider_mean_min"] for o in run.outputs]
    check_within_ci(waits, wq, 0.3)
    check_within_ci([o.kpis["rider_utilisation"] for o in run.outputs], rho, 0.05)


def test_littles_law_on_the_event_log() -> None:
    """L (time-average orders in the system, from the tracking history) = lambda x W."""
    run = run_scenario(scenario_from(mmc_world()), seed=2, replications=1)
    events = run.frame("events")
    life = events.groupby("order_idx")["t"].agg(["min", "max"])
    a, b = 3600.0, 36000.0
    inside = np.clip(life["max"], a, b) - np.clip(life["min"], a, b)
    occupancy = float(inside.sum()) / (b - a)
    arrived = life[(life["min"] >= a) & (life["min"] < b)]
    lam = len(arrived) / (b - a)
    W = float((arrived["max"] - arrived["min"]).mean())
    assert occupancy == pytest.approx(lam * W, rel=0.03)
    # the resource sampler, a separate code path, sees the same occupancy
    res = run.frame("resources")
    sampled = res[(res.t >= a) & (res.t < b)]["orders_in_system"].mean()
    assert sampled == pytest.approx(occupancy, rel=0.05)
    # and lambda matches the demand curve (135 orders an hour)
    assert lam * 3600 == pytest.approx(135, rel=0.08)


def test_erlang_c_formula_sanity() -> None:
    # M/M/1: Wq = rho / (mu - lambda)
    wq, rho = erlang_c(1, 0.5, 1.0)
    assert wq == pytest.approx(1.0) and rho == 0.5
    assert isinstance(pd.__version__, str)
