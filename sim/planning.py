"""``orderflow plan`` against the simulation: the evaluators that ``sim.capacity`` and
``sim.staffing`` search with, and the plan's run directory.

Kept apart from the searches so those stay pure (and testable with fakes), and apart from the
command so a notebook can run a plan without argparse. Outputs are byte-stable like every run
directory (``sim.rundir``): same scenario, seed and flags give the same files whatever the
number of workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from tqdm import tqdm

from reference_api.version import __version__
from scenarios.loader import LoadedScenario, ScenarioError, load_scenario
from scenarios.schema import Scenario
from sim.capacity import (
    Bounds,
    Candidate,
    CandidateEvaluator,
    PlanError,
    PlanResult,
    Replication,
)
from sim.kpis import json_ready
from sim.rundir import write_json, write_parquet, write_scenario_copy
from sim.runner import ReplicationOutput, run_many, submit_all
from sim.sla import Target
from sim.staffing import (
    HOUR_S,
    ISA_ALPHA,
    HourSample,
    StaffingEvaluation,
    StaffingResult,
    hours_in,
    measure_hours,
    rider_hours,
    sequential_hours,
)

SEARCH = (
    "bracket then bisect: LO, then HI, then the midpoint of the largest not-met and the "
    "smallest met value until they are adjacent; each candidate replicated (common random "
    "numbers) until its verdict is clear"
)


@dataclass(frozen=True)
class PlanRequest:
    """What a plan asks: the scenario, the targets, the parameter's bounds and how to
    replicate each candidate."""

    ref: str
    overrides: tuple[str, ...]
    slas: tuple[str, ...]  # the --sla flags as given
    targets: tuple[Target, ...]
    bounds: Bounds
    seed: int
    rule: Replication

    def header(self, name: str) -> dict[str, Any]:
        r = self.rule
        return {
            "scenario": name,
            "seed": self.seed,
            "confidence": r.confidence,
            "interval_level": r.level,
            "slas": list(self.slas),
            "targets": [
                {"sla": t.text, "kpi": t.kpi, "op": t.op, "limit": t.limit} for t in self.targets
            ],
            "vary": self.bounds.path,
            "bounds": [self.bounds.lo, self.bounds.hi],
            "replications": {
                "first": r.first,
                "max": r.max_replications,
                "batch": r.batch,
            },
            "precision": r.precision,
        }


class ParameterEvaluator:
    """Evaluates one value of the parameter: the scenario with ``PATH=value`` over
    replications ``0..n-1`` of the seed, in batches until the verdict is clear."""

    def __init__(
        self,
        req: PlanRequest,
        *,
        jobs: int,
        executor: Executor | None,
        show_progress: bool,
    ) -> None:
        self.req = req
        self.jobs = jobs
        self.executor = executor
        self.show_progress = show_progress
        self._loaded: dict[int, LoadedScenario] = {}
        self._evaluate = CandidateEvaluator(self.batch, req.targets, req.rule)

    def loaded(self, value: int) -> LoadedScenario:
        if value not in self._loaded:
            path = self.req.bounds.path
            self._loaded[value] = load_scenario(
                self.req.ref, [*self.req.overrides, f"{path}={value}"]
            )
        return self._loaded[value]

    def batch(self, value: int, indices: list[int]) -> list[ReplicationOutput]:
        s = self.loaded(value).scenario
        return run_many(
            [(s, self.req.seed, r) for r in indices],
            jobs=self.jobs,
            with_tables=False,
            desc=f"{self.req.bounds.path}={value}",
            show_progress=self.show_progress,
            executor=self.executor,
        )

    def __call__(self, value: int, at_least: int = 0) -> Candidate:
        return self._evaluate(value, at_least)


# --- staffing ------------------------------------------------------------------------------


def staffing_overrides(staffing: Sequence[int]) -> list[str]:
    """The overrides that give a scenario this staffing: ``fleet.staffing`` itself, and the
    rider count and (no) shifts the schema requires beside it (riders = the busiest hour's)."""
    values = ", ".join(str(int(n)) for n in staffing)
    return [f"fleet.riders={max(staffing)}", "fleet.shifts=[]", f"fleet.staffing=[{values}]"]


def measure_replication(
    scenario: Scenario, seed: int, replication: int, targets: Sequence[Target], hours: int
) -> HourSample:
    """One replication, measured hour by hour. Top-level so a process pool can pickle it; it
    returns only the hour statistics, not the run's tables."""
    from sim.model import Model

    result = Model(scenario, seed, replication).run()
    rec = result.recorder
    return measure_hours(rec.orders(), rec.resources(), targets, hours)


class StaffingEvaluator:
    """Evaluates one staffing: the scenario with ``fleet.staffing=[...]``; search runs use
    replications ``0..`` in batches, confirmation round k ``(k+1)*max..(k+2)*max-1`` (fresh
    random numbers each round)."""

    def __init__(
        self,
        req: PlanRequest,
        base: LoadedScenario,
        *,
        jobs: int,
        executor: Executor | None,
        show_progress: bool,
    ) -> None:
        self.req = req
        self.hours = hours_in(base.scenario.period.duration_s)
        self.jobs = jobs
        self.executor = executor
        self.show_progress = show_progress
        self._loaded: dict[tuple[int, ...], LoadedScenario] = {}
        self._samples: dict[tuple[int, ...], list[HourSample]] = {}
        #: confirmation runs so far: each takes replications no earlier run has seen
        self._confirmations = 0

    def loaded(self, staffing: Sequence[int]) -> LoadedScenario:
        key = tuple(int(n) for n in staffing)
        if key not in self._loaded:
            sets = staffing_overrides(key)
            try:
                self._loaded[key] = load_scenario(self.req.ref, [*self.req.overrides, *sets])
            except ScenarioError as exc:
                raise PlanError(
                    f"--staffing hourly sets {' '.join(sets)} on the scenario, which refuses "
                    f"it: {exc}"
                ) from None
        return self._loaded[key]

    def _run(self, staffing: tuple[int, ...], indices: list[int]) -> list[HourSample]:
        s = self.loaded(staffing).scenario
        seed, targets = self.req.seed, self.req.targets
        desc = f"staffing {list(staffing)}"
        arguments = [(s, seed, r, targets, self.hours) for r in indices]
        if self.executor is not None:
            return submit_all(
                self.executor,
                measure_replication,
                arguments,
                desc=desc,
                show_progress=self.show_progress,
            )
        with tqdm(
            total=len(indices), desc=desc, unit="rep", disable=not self.show_progress, leave=False
        ) as bar:
            out = []
            for args in arguments:
                out.append(measure_replication(*args))
                bar.update(1)
            return out

    def __call__(
        self, staffing: tuple[int, ...], confirm: bool, at_least: int = 0
    ) -> StaffingEvaluation:
        r = self.req.rule
        offset = 0
        if confirm:  # round k confirms on replications (k+1)*max .. (k+2)*max-1: never tuned on
            self._confirmations += 1
            offset = r.max_replications * self._confirmations
        hours, samples = sequential_hours(
            staffing,
            lambda indices: self._run(staffing, indices),
            self.req.targets,
            first=max(r.first, at_least),
            max_replications=r.max_replications,
            batch=r.batch,
            level=r.level,
            offset=offset,
            fixed=confirm,
            prior=() if confirm else self._samples.get(staffing, ()),
        )
        if not confirm:
            self._samples[staffing] = samples
        return StaffingEvaluation(staffing, hours, len(samples), offset)


# --- the run directory ---------------------------------------------------------------------


def setting_column(path: str) -> str:
    """The table column of the searched path: no dots in column names (they read as struct
    fields in SQL engines), the sweep tables' rule: ``fleet.riders`` is ``fleet_riders``."""
    return path.replace(".", "_")


def candidates_table(result: PlanResult) -> pa.Table:
    """Every KPI of every replication at every candidate, tidy: the parameter's value (its
    ``setting_column``), the replication, the KPI, its value and, for a share of orders, its
    denominator (``trials``; NaN for other KPIs)."""
    values: list[int] = []
    reps: list[int] = []
    names: list[str] = []
    numbers: list[float] = []
    trials: list[float] = []
    for c in result.by_value():
        for r, o in enumerate(c.outputs):
            for name, v in o.kpis.items():
                values.append(c.value)
                reps.append(getattr(o, "replication", r))
                names.append(name)
                numbers.append(float(v))
                trials.append(float(o.trials.get(name, float("nan"))))
    return pa.table(
        {
            setting_column(result.bounds.path): pa.array(values, pa.int64()),
            "replication": pa.array(reps, pa.int32()),
            "kpi": pa.array(names, pa.string()).dictionary_encode(),
            "value": pa.array(numbers, pa.float64()),
            "trials": pa.array(trials, pa.float64()),
        }
    )


def parameter_plan(req: PlanRequest, name: str, result: PlanResult) -> dict[str, Any]:
    path = req.bounds.path
    best = result.best
    return {
        **req.header(name),
        "mode": "parameter",
        "search": SEARCH,
        "recommended": None if result.recommended is None else {path: result.recommended.value},
        "met": result.met,
        "best": {path: best.value, "verdict": best.verdict},
        "evaluations": result.evaluations,
        "replications_total": result.replications,
        "candidates": [c.as_dict() for c in result.by_value()],
        "warnings": result.warnings,
    }


def _manifest(
    req: PlanRequest, loaded: LoadedScenario, mode: str, files: list[str]
) -> dict[str, Any]:
    return {
        "kind": "plan",
        "mode": mode,
        "scenario": loaded.scenario.name,
        "source": loaded.source,
        "overrides": list(req.overrides),
        "seed": req.seed,
        "vary": req.bounds.text,
        "confidence": req.rule.confidence,
        "slas": list(req.slas),
        "version": __version__,
        "files": files,
    }


def write_parameter_plan(
    out: Path, req: PlanRequest, base: LoadedScenario, result: PlanResult, chosen: LoadedScenario
) -> dict[str, Any]:
    """``plan.json``, ``candidates.parquet``, ``scenario.toml`` (``chosen``: the scenario at
    the recommended value, or as given when there is none) and ``manifest.json``."""
    out.mkdir(parents=True, exist_ok=True)
    plan = parameter_plan(req, base.scenario.name, result)
    write_json(plan, out / "plan.json")
    write_parquet(candidates_table(result), out / "candidates.parquet")
    files = ["plan.json", "candidates.parquet", *write_scenario_copy(chosen, out), "manifest.json"]
    manifest = _manifest(req, chosen, "parameter", files)
    manifest["columns"] = {setting_column(req.bounds.path): req.bounds.path}
    write_json(manifest, out / "manifest.json")
    return plan


def _clock(start_s: float, offset_s: float) -> str:
    t = round(start_s + offset_s) // 60
    return f"{t // 60:02d}:{t % 60:02d}"


def staffing_plan(req: PlanRequest, base: LoadedScenario, result: StaffingResult) -> dict[str, Any]:
    p = base.scenario.period
    final = result.final
    hours = []
    for h in final.hours:
        row = h.as_dict()
        row["start"] = _clock(p.start_s, h.hour * HOUR_S)
        row["minimal"] = result.minimal[h.hour]
        row["riders_isa"] = None if result.isa is None else result.isa[h.hour]
        hours.append(row)
    staffing = None if result.staffing is None else list(result.staffing)
    return {
        **req.header(base.scenario.name),
        "mode": "staffing",
        "method": (
            "iterative staffing algorithm (Feldman, Mandelbaum, Massey & Whitt, Management "
            "Science 54(2), 2008) from a generous start, then per-hour SLA refinement (gallop "
            "and bisection, repair, one-rider descent) and a confirmation on fresh replications"
        ),
        "isa": {"alpha": ISA_ALPHA, "staffing": result.isa},
        "staffing": staffing,
        "rider_hours": None if staffing is None else rider_hours(staffing),
        "met": result.met,
        "period": {"start": p.start, "duration_h": p.duration_h, "hours": len(final.hours)},
        "confirmation": {
            "staffing": list(final.staffing),
            "first_replication": final.first_replication,
            "replications": final.replications,
            "met": final.met,
        },
        "hours": hours,
        "evaluations": [e.as_dict() for e in result.evaluations],
        "replications_total": sum(e.replications for e in result.evaluations),
        "notes": result.notes,
    }


def hours_table(result: StaffingResult) -> pa.Table:
    """Every evaluation's hours, tidy: step, stage, hour, riders, orders, verdict, and per
    target KPI its mean and interval."""
    rows: list[dict[str, Any]] = []
    for e in result.evaluations:
        for h in e.hours:
            for c in h.checks:
                rows.append(
                    {
                        "step": e.step,
                        "stage": e.stage,
                        "hour": h.hour,
                        "riders": h.riders,
                        "orders": h.orders,
                        "verdict": h.verdict,
                        "kpi": c.target.kpi,
                        "mean": c.mean,
                        "ci_low": c.ci_low,
                        "ci_high": c.ci_high,
                    }
                )
    schema = pa.schema(
        [
            ("step", pa.int32()),
            ("stage", pa.string()),
            ("hour", pa.int32()),
            ("riders", pa.int32()),
            ("orders", pa.float64()),
            ("verdict", pa.string()),
            ("kpi", pa.string()),
            ("mean", pa.float64()),
            ("ci_low", pa.float64()),
            ("ci_high", pa.float64()),
        ]
    )
    return pa.Table.from_pylist(json_ready(rows), schema=schema)


def write_staffing_plan(
    out: Path,
    req: PlanRequest,
    base: LoadedScenario,
    result: StaffingResult,
    chosen: LoadedScenario,
) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    plan = staffing_plan(req, base, result)
    write_json(plan, out / "plan.json")
    write_parquet(hours_table(result), out / "hours.parquet")
    files = ["plan.json", "hours.parquet", *write_scenario_copy(chosen, out), "manifest.json"]
    write_json(_manifest(req, chosen, "staffing", files), out / "manifest.json")
    return plan
