"""Parameter sweeps: the same scenario over a grid of overrides, paired by common random numbers.

Replication ``r`` of every grid point runs with seed child ``r`` (same orders, prep times and
customer decisions), so two points differ only by the setting, and the difference of a KPI
between neighbouring points is estimated from paired replications: far tighter than comparing
two independent intervals. The sweep writes three long tables (documented in
``docs/run-directories.md``): ``replications.parquet`` (every KPI of every replication of every
point), ``sweep.parquet`` (each point's KPI estimates with intervals) and
``differences.parquet`` (paired differences between neighbouring points along each axis).

Column names carry no dots, so the tables load into SQL engines and dataframe tools that read
a dot as a struct field: a varied path ``fleet.riders`` is the column ``fleet_riders``, and
``manifest.json``'s ``columns`` maps each column back to its path.
"""

from __future__ import annotations

import itertools
import math
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from reference_api.version import __version__
from scenarios.loader import LoadedScenario, ScenarioError, load_scenario
from sim.executors import executor_for
from sim.kpis import aggregate, json_ready
from sim.rundir import replications_table, write_json, write_parquet, write_scenario_copy
from sim.runner import ReplicationOutput, default_jobs, run_many
from sim.stats import mean_interval

#: Confidence level of every interval the sweep writes (and of ``significant``).
LEVEL = 0.95
#: Columns of the long tables that a setting column must not shadow.
#: An interval's float columns, in both summary tables.
STATS = ("mean", "ci_low", "ci_high", "half_width")
#: Columns of the long tables that a setting column must not shadow.
RESERVED = frozenset({"axis", "replication", "kpi", "value", *STATS, "n", "method", "significant"})
FILES = (
    "replications.parquet",
    "sweep.parquet",
    "sweep.csv",
    "differences.parquet",
    "differences.csv",
    "scenario.toml",
    "manifest.json",
)


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


def column_name(path: str) -> str:
    """The table column of a varied path: dots (and list indexes' dots) become underscores."""
    return path.replace(".", "_")


def _arrow_type(values: Sequence[Any]) -> pa.DataType:
    """The column type of an axis's values: bool, int64, float64 (ints mixed with floats), or
    string (names, or anything mixed with a name)."""
    if all(isinstance(v, bool) for v in values):
        return pa.bool_()
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
        return pa.string()
    return pa.int64() if all(isinstance(v, int) for v in values) else pa.float64()


@dataclass(frozen=True)
class Axis:
    """One ``--vary``: the scenario path, its column in the tables, and its values in order."""

    path: str
    column: str
    values: tuple[Any, ...]
    arrow_type: pa.DataType

    def cell(self, value: Any) -> Any:
        """``value`` as this axis's column holds it (a name column holds every value as text)."""
        if pa.types.is_string(self.arrow_type) and not isinstance(value, str):
            return _literal(value)
        if pa.types.is_floating(self.arrow_type):
            return float(value)
        return value


def axes_of(varies: Sequence[str]) -> list[Axis]:
    """The sweep's axes, checked so that every grid point is one row per KPI and every column
    one setting: no value given twice, no two paths that flatten to one column (or a path
    given twice), no column named like a fixed column of the tables."""
    axes: list[Axis] = []
    seen: dict[str, str] = {}
    for text in varies:
        path, values = parse_vary(text)
        if not values:
            raise ScenarioError(f"--vary {text}: no values")
        twice = [v for i, v in enumerate(values) if v in values[:i]]
        if twice:
            raise ScenarioError(f"--vary {text}: {_literal(twice[0])} is given twice")
        column = column_name(path)
        if column in seen:
            raise ScenarioError(
                f"--vary {text}: {path} and {seen[column]} both become the column {column}"
            )
        taken = RESERVED | {f"to_{c}" for c in seen}
        if column in taken or f"to_{column}" in seen:
            raise ScenarioError(f"--vary {text}: the column {column} is taken by the sweep tables")
        seen[column] = path
        axes.append(Axis(path, column, tuple(values), _arrow_type(values)))
    return axes


def grid(
    ref: str, axes: Sequence[Axis], overrides: Sequence[str]
) -> list[tuple[tuple[Any, ...], LoadedScenario]]:
    """Every grid point (the axes' values, the scenario), in ``itertools.product`` order: the
    last axis varies fastest."""
    points = []
    for combo in itertools.product(*(a.values for a in axes)):
        sets = [*overrides, *(f"{a.path}={_literal(v)}" for a, v in zip(axes, combo, strict=True))]
        points.append((combo, load_scenario(ref, sets)))
    return points


def neighbours(axes: Sequence[Axis]) -> Iterator[tuple[int, int, int]]:
    """``(axis, i, j)`` for every pair of grid points ``i < j`` that differ only in ``axis``,
    by consecutive values of it; by axis, then in grid order of the lower point."""
    sizes = [len(a.values) for a in axes]
    total = math.prod(sizes)
    for k, size in enumerate(sizes):
        stride = math.prod(sizes[k + 1 :])
        for i in range(total):
            if (i // stride) % size < size - 1:
                yield k, i, i + stride


def _settings(
    axes: Sequence[Axis], combos: Sequence[tuple[Any, ...]], prefix: str = ""
) -> dict[str, pa.Array]:
    """The setting columns for rows that belong to ``combos`` (one combo per row)."""
    return {
        prefix + a.column: pa.array([a.cell(c[k]) for c in combos], a.arrow_type)
        for k, a in enumerate(axes)
    }


def _floats(values: Sequence[float | None]) -> pa.Array:
    # rounded like every JSON file of a run directory, so last-bit differences never show
    return pa.array([json_ready(v) for v in values], pa.float64())


def replications_long(
    axes: Sequence[Axis],
    combos: Sequence[tuple[Any, ...]],
    runs: Sequence[Sequence[ReplicationOutput]],
) -> pa.Table:
    """One row per grid point, replication and KPI, with the replication's value: each
    point's ``replications_table`` (a simulation's ``replications.parquet``) with the point's
    settings in front."""
    tables = [replications_table(outputs) for outputs in runs]
    rows = [combo for combo, t in zip(combos, tables, strict=True) for _ in range(t.num_rows)]
    tidy = pa.concat_tables([t.cast(tables[0].schema) for t in tables]) if tables else None
    columns = {**_settings(axes, rows)}
    if tidy is not None:
        columns.update({name: tidy.column(name) for name in ("replication", "kpi", "value")})
    return pa.table(columns)


def points_long(
    axes: Sequence[Axis],
    combos: Sequence[tuple[Any, ...]],
    runs: Sequence[Sequence[ReplicationOutput]],
) -> pa.Table:
    """One row per grid point and KPI: the estimate and interval ``sim.kpis.aggregate`` gives
    (as in a simulation's summary.json: pooled Wilson for shares, clipped t otherwise)."""
    rows: list[tuple[Any, ...]] = []
    names: list[str] = []
    stats: dict[str, list[Any]] = {k: [] for k in STATS}
    counts: list[int] = []
    methods: list[str] = []
    for combo, outputs in zip(combos, runs, strict=True):
        agg = aggregate([o.kpis for o in outputs], [o.trials for o in outputs], LEVEL)
        for name, ci in agg.items():
            rows.append(combo)
            names.append(name)
            for key, column in stats.items():
                column.append(ci[key])
            counts.append(int(ci["n"]))
            methods.append(str(ci["method"]))
    return pa.table(
        {
            **_settings(axes, rows),
            "kpi": pa.array(names, pa.string()).dictionary_encode(),
            **{key: _floats(column) for key, column in stats.items()},
            "n": pa.array(counts, pa.int32()),
            "method": pa.array(methods, pa.string()),
        }
    )


def differences_long(
    axes: Sequence[Axis],
    combos: Sequence[tuple[Any, ...]],
    runs: Sequence[Sequence[ReplicationOutput]],
) -> pa.Table:
    """Paired differences value(next) - value(this) between neighbouring grid points
    (``neighbours``), one row per pair and KPI, with a Student-t interval on the per-replication
    differences (no clipping: a difference may have either sign).

    Replication ``r`` of one point is paired with replication ``r`` of the other, so what they
    share (the demand) cancels. A replication where the KPI is NaN at either point (a
    percentile of no orders) is left out of that KPI's pairs, and ``n`` counts the pairs used;
    a KPI one point lacks altogether is skipped. Shares are differenced per replication too
    (their mean can differ slightly from the difference of ``sweep.parquet``'s pooled shares).
    The setting columns are the lower point's, the ``to_`` columns the upper point's (equal
    but for ``axis``). ``significant``: the interval, as written (rounded), excludes 0.
    """
    rows: list[tuple[Any, ...]] = []
    uppers: list[tuple[Any, ...]] = []
    axis_names: list[str] = []
    names: list[str] = []
    stats: dict[str, list[Any]] = {k: [] for k in STATS}
    counts: list[int] = []
    for k, i, j in neighbours(axes):
        low = {o.replication: o.kpis for o in runs[i]}
        high = {o.replication: o.kpis for o in runs[j]}
        paired = sorted(set(low) & set(high))
        for name in runs[i][0].kpis:
            if not all(name in low[r] and name in high[r] for r in paired):
                continue
            ci = mean_interval([high[r][name] - low[r][name] for r in paired], LEVEL)
            rows.append(combos[i])
            uppers.append(combos[j])
            axis_names.append(axes[k].column)
            names.append(name)
            for key, column in stats.items():
                column.append(getattr(ci, key))
            counts.append(ci.n)
    floats = {key: _floats(column) for key, column in stats.items()}
    lows, highs = floats["ci_low"].to_pylist(), floats["ci_high"].to_pylist()
    significant = [
        lo is not None and hi is not None and (lo > 0 or hi < 0)
        for lo, hi in zip(lows, highs, strict=True)
    ]
    return pa.table(
        {
            "axis": pa.array(axis_names, pa.string()),
            **_settings(axes, rows),
            **_settings(axes, uppers, prefix="to_"),
            "kpi": pa.array(names, pa.string()).dictionary_encode(),
            **floats,
            "n": pa.array(counts, pa.int32()),
            "significant": pa.array(significant, pa.bool_()),
        }
    )


@dataclass(frozen=True)
class SweepResult:
    """What a sweep wrote: its directory, axes and the two summary tables."""

    out: Path
    axes: list[Axis]
    points: pa.Table  # sweep.parquet
    differences: pa.Table  # differences.parquet


def run_sweep(
    ref: str,
    varies: Sequence[str],
    overrides: Sequence[str],
    *,
    seed: int | None,
    replications: int | None,
    jobs: int | None,
    out: Path | None,
    dask: str | None = None,
    show_progress: bool = True,
) -> SweepResult:
    """Run every grid point's replications (locally, or on the Dask cluster ``dask`` names;
    results are combined in task order, so where they ran changes no byte) and write the
    sweep directory."""
    axes = axes_of(varies)
    points = grid(ref, axes, overrides)
    base = load_scenario(ref, overrides)
    seed = base.scenario.seed if seed is None else seed
    reps = replications or base.scenario.replications
    tasks = [(loaded.scenario, seed, r) for _, loaded in points for r in range(reps)]
    jobs = default_jobs(len(tasks)) if jobs is None else jobs
    with executor_for(jobs, dask) as executor:
        outputs = run_many(
            tasks,
            jobs=jobs,
            with_tables=False,
            desc="sweep",
            show_progress=show_progress,
            executor=executor,
        )
    combos = [combo for combo, _ in points]
    runs = [outputs[i * reps : (i + 1) * reps] for i in range(len(points))]
    table = points_long(axes, combos, runs)
    diffs = differences_long(axes, combos, runs)
    target = out or Path("runs") / f"sweep-{base.scenario.name}-s{seed}"
    target.mkdir(parents=True, exist_ok=True)
    write_parquet(replications_long(axes, combos, runs), target / "replications.parquet")
    write_parquet(table, target / "sweep.parquet")
    pacsv.write_csv(table, target / "sweep.csv")
    write_parquet(diffs, target / "differences.parquet")
    pacsv.write_csv(diffs, target / "differences.csv")
    copied = write_scenario_copy(base, target)  # with its data files under inputs/, if any
    write_json(
        {
            "kind": "sweep",
            "scenario": base.scenario.name,
            "source": base.source,
            "overrides": list(overrides),
            "vary": list(varies),
            "columns": {a.column: a.path for a in axes},
            "grid_points": len(points),
            "seed": seed,
            "replications": reps,
            "confidence_level": LEVEL,
            "version": __version__,
            "files": sorted({*FILES, *copied}),
        },
        target / "manifest.json",
    )
    return SweepResult(target, axes, table, diffs)
