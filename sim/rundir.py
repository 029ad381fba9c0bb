"""Writing a simulation run directory: Parquet tables, ``summary.json``, the resolved scenario
and ``manifest.json`` (documented file by file in ``docs/run-directories.md``).

Outputs are byte-identical for the same scenario and seed: writer options are pinned, tables are
in replication and order-index order, JSON keys are sorted and floats rounded, and nothing
records the wall clock, the host or the number of worker processes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import tomli_w

from reference_api.version import __version__
from scenarios.loader import LoadedScenario
from sim import mdrp
from sim.kpis import aggregate, json_ready
from sim.runner import TABLES, ReplicationOutput

PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "version": "2.6",
    "data_page_version": "1.0",
    "use_dictionary": True,
    "write_statistics": True,
    "row_group_size": 1 << 20,
}


def write_parquet(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, **PARQUET_OPTIONS)


def write_json(data: Any, path: Path) -> None:
    text = json.dumps(json_ready(data), indent=2, sort_keys=True, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")


def default_out(prefix: str, scenario: str, seed: int) -> Path:
    return Path("runs") / f"{prefix}-{scenario}-s{seed}"


def replications_table(outputs: Sequence[ReplicationOutput]) -> pa.Table:
    """Every KPI of every replication, tidy: one row per (replication, kpi) with its value
    (NaN where a KPI has no value in a replication, e.g. a percentile of no orders)."""
    reps: list[int] = []
    names: list[str] = []
    values: list[float] = []
    for o in outputs:
        for name, value in o.kpis.items():
            reps.append(o.replication)
            names.append(name)
            values.append(float(value))
    return pa.table(
        {
            "replication": pa.array(reps, pa.int32()),
            "kpi": pa.array(names, pa.string()).dictionary_encode(),
            "value": pa.array(values, pa.float64()),
        }
    )


def summary(
    loaded: LoadedScenario, seed: int, outputs: Sequence[ReplicationOutput]
) -> dict[str, Any]:
    s = loaded.scenario
    p = s.period
    return {
        "scenario": s.name,
        "seed": seed,
        "replications": len(outputs),
        "window_s": [p.warmup_min * 60, p.duration_s - p.cooldown_min * 60],
        "confidence_level": 0.95,
        "kpis": aggregate([o.kpis for o in outputs], [o.trials for o in outputs]),
        "per_replication": [{"replication": o.replication, **o.kpis} for o in outputs],
        "sla": s.sla.model_dump(mode="json"),
        "thresholds": dict(s.thresholds),
    }


def write_scenario_copy(loaded: LoadedScenario, out: Path) -> list[str]:
    """``scenario.toml`` as the run used it, and its data files under ``inputs/`` (the TOML
    names them there), so a run directory replays on its own; the files written."""
    from scenarios.loader import resolved_with_files

    data, written = resolved_with_files(loaded.scenario, out / "inputs", out)
    (out / "scenario.toml").write_text(tomli_w.dumps(data), encoding="utf-8")
    return ["scenario.toml", *(p.relative_to(out).as_posix() for p in written)]


def write_simulation(
    out: Path,
    loaded: LoadedScenario,
    seed: int,
    outputs: Sequence[ReplicationOutput],
    tables: dict[str, pa.Table],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The run directory; ``extra`` adds sections to ``summary.json`` (``precision``: why a
    sequential run stopped; ``warmup``: the MSER-5 check)."""
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for name in TABLES:
        write_parquet(tables[name], out / f"{name}.parquet")
        files.append(f"{name}.parquet")
    write_parquet(replications_table(outputs), out / "replications.parquet")
    files.append("replications.parquet")
    result = {**summary(loaded, seed, outputs), **(extra or {})}
    write_json(result, out / "summary.json")
    files += write_scenario_copy(loaded, out)
    first = outputs[0].mdrp if outputs else None
    if first is not None:
        for path in mdrp.write(first, out / "mdrp"):
            files.append(f"mdrp/{path.name}")
    files += ["summary.json", "manifest.json"]
    manifest = {
        "kind": "simulation",
        "scenario": loaded.scenario.name,
        "source": loaded.source,
        "overrides": list(loaded.overrides),
        "seed": seed,
        "replications": len(outputs),
        "orders_placed": sum(o.placed for o in outputs),
        "dispatch": loaded.scenario.dispatch.spec().describe(grid=False),
        "version": __version__,
        "files": files,
    }
    write_json(manifest, out / "manifest.json")
    return result
