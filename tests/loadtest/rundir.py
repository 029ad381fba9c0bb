"""Reading a load-test run directory back in tests (every file must be there and readable)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

FILES = (
    "requests.parquet",
    "journeys.parquet",
    "ws_events.parquet",
    "planned.parquet",
    "manifest.json",
    "summary.json",
    "locust_stats.csv",
    "locust_failures.csv",
    "locust_stats_history.csv",
)


@dataclass
class RunDir:
    path: Path
    requests: pd.DataFrame
    journeys: pd.DataFrame
    ws: pd.DataFrame
    planned: pd.DataFrame
    manifest: dict[str, Any]
    summary: dict[str, Any]


def read_run(path: Path, *, locust_csv: bool = True) -> RunDir:
    """Locust writes its CSVs when run from its command line (``--csv``), not as a library."""
    wanted = [f for f in FILES if locust_csv or not f.startswith("locust_")]
    missing = [f for f in wanted if not (path / f).is_file()]
    assert not missing, f"run dir {path} lacks {missing}: {sorted(p.name for p in path.iterdir())}"
    assert not (path / "parts").exists(), "parts were left unmerged"
    return RunDir(
        path,
        pd.read_parquet(path / "requests.parquet"),
        pd.read_parquet(path / "journeys.parquet"),
        pd.read_parquet(path / "ws_events.parquet"),
        pd.read_parquet(path / "planned.parquet"),
        json.loads((path / "manifest.json").read_text()),
        json.loads((path / "summary.json").read_text()),
    )
