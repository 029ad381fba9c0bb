"""Parameter sweeps: the same scenario over a grid of overrides, every grid point run with the
same seed and replication indexes (common random numbers), one row of KPIs with confidence
intervals per point."""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from reference_api.version import __version__
from scenarios.loader import LoadedScenario, ScenarioError, load_scenario
from sim.kpis import aggregate, json_ready
from sim.rundir import write_json, write_parquet
from sim.runner import default_jobs, run_many


def _number(text: str, where: str) -> int | float:
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"--vary {where}: {text!r} is not a number")
    return value


def parse_vary(text: str) -> tuple[str, list[Any]]:
    """``fleet.riders=20:200:20`` (start:stop:step, stop included) or ``a=1,2,5`` (a list)."""
    path, sep, spec = text.partition("=")
    path = path.strip()
    if not sep or not path or not spec.strip():
        raise ScenarioError(f"--vary {text}: expected path.to.field=start:stop:step or =v1,v2,...")
    if ":" in spec:
        parts = spec.split(":")
        if len(parts) != 3:
            raise ScenarioError(f"--vary {text}: a range is start:stop:step")
        start, stop, step = (_number(p.strip(), text) for p in parts)
        if step <= 0 or stop < start:
            raise ScenarioError(f"--vary {text}: need step > 0 and stop >= start")
        count = int((stop - start) / step + 1e-9) + 1
        values: list[Any] = [start + i * step for i in range(count)]
        if all(isinstance(v, int) for v in (start, stop, step)):
            values = [int(v) for v in values]
        else:
            values = [round(float(v), 10) for v in values]
        return path, values
    out = []
    for item in spec.split(","):
        try:
            out.append(tomllib.loads(f"v = {item.strip()}")["v"])
        except tomllib.TOMLDecodeError:
            out.append(item.strip())
    return path, out


def _literal(value: Any) -> str:
    return (
        f'"{value}"'
        if isinstance(value, str)
        else str(value).lower()
        if isinstance(value, bool)
        else repr(value)
    )


def grid(
    ref: str, varies: Sequence[str], overrides: Sequence[str]
) -> tuple[list[str], list[tuple[tuple[Any, ...], LoadedScenario]]]:
    axes = [parse_vary(v) for v in varies]
    paths = [p for p, _ in axes]
    points = []
    for combo in itertools.product(*(vals for _, vals in axes)):
        sets = [*overrides, *(f"{p}={_literal(v)}" for p, v in zip(paths, combo, strict=True))]
        points.append((combo, load_scenario(ref, sets)))
    return paths, points


def run_sweep(
    ref: str,
    varies: Sequence[str],
    overrides: Sequence[str],
    *,
    seed: int | None,
    replications: int | None,
    jobs: int | None,
    out: Path | None,
    show_progress: bool = True,
) -> tuple[Path, pa.Table]:
    paths, points = grid(ref, varies, overrides)
    base = load_scenario(ref, overrides)
    seed = base.scenario.seed if seed is None else seed
    reps = replications or base.scenario.replications
    tasks = [(loaded.scenario, seed, r) for _, loaded in points for r in range(reps)]
    jobs = default_jobs(len(tasks)) if jobs is None else jobs
    outputs = run_many(
        tasks, jobs=jobs, with_tables=False, desc="sweep", show_progress=show_progress
    )
    rows: list[dict[str, Any]] = []
    for i, (combo, _) in enumerate(points):
        agg = aggregate([o.kpis for o in outputs[i * reps : (i + 1) * reps]])
        row: dict[str, Any] = dict(zip(paths, combo, strict=True))
        row["replications"] = reps
        for name, ci in agg.items():
            row[name] = ci["mean"]
            row[f"{name}.ci_low"] = ci["ci_low"]
            row[f"{name}.ci_high"] = ci["ci_high"]
        rows.append(json_ready(row))
    table = pa.Table.from_pylist(rows)
    target = out or Path("runs") / f"sweep-{base.scenario.name}-s{seed}"
    target.mkdir(parents=True, exist_ok=True)
    write_parquet(table, target / "sweep.parquet")
    pacsv.write_csv(table, target / "sweep.csv")
    (target / "scenario.toml").write_text(base.resolved_toml(), encoding="utf-8")
    write_json(
        {
            "kind": "sweep",
            "scenario": base.scenario.name,
            "source": base.source,
            "overrides": list(overrides),
            "vary": list(varies),
            "grid_points": len(points),
            "seed": seed,
            "replications": reps,
            "version": __version__,
            "files": ["sweep.parquet", "sweep.csv", "scenario.toml", "manifest.json"],
        },
        target / "manifest.json",
    )
    return target, table
