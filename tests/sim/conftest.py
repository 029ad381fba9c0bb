"""Helpers for the simulation tests: run a scenario in-process (one worker, no progress bar)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from scenarios.loader import load_scenario, validate
from scenarios.schema import Scenario
from sim.runner import ReplicationOutput, combine, run_many


@dataclass
class Run:
    scenario: Scenario
    outputs: list[ReplicationOutput]
    tables: dict[str, pa.Table]

    def frame(self, name: str) -> Any:
        return self.tables[name].to_pandas()


def run_scenario(
    scenario: Scenario, *, seed: int = 1, replications: int = 1, tables: bool = True
) -> Run:
    tasks = [(scenario, seed, r) for r in range(replications)]
    outputs = run_many(tasks, jobs=1, with_tables=tables, desc="test", show_progress=False)
    return Run(scenario, outputs, combine(outputs) if tables else {})


def load(ref: str, sets: Sequence[str] = ()) -> Scenario:
    return load_scenario(ref, sets).scenario


def scenario_from(data: dict[str, Any]) -> Scenario:
    return validate(data, "test scenario")
