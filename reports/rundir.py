"""Open a run directory: its manifest, its tables and its scenario's thresholds.

Reports read only the files a run wrote (never simulation objects), so every problem with a run
directory is reported as a :class:`RunDirError` that names the directory and the missing or broken
file, instead of a traceback from deep inside pandas.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from scenarios.thresholds import Threshold, ThresholdError, parse_table

KINDS = ("simulation", "sweep", "loadtest", "plan")


class RunDirError(ValueError):
    """A run directory that is missing, incomplete or unreadable."""


def read_json_object(path: Path) -> dict[str, Any]:
    """A run directory's JSON file that must hold an object; errors name the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise RunDirError(f"{path}: expected a JSON object")
    return {str(k): v for k, v in data.items()}


@dataclass(frozen=True)
class RunDir:
    path: Path
    manifest: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.manifest["kind"])

    def file(self, name: str) -> Path:
        return self.path / name

    def has(self, name: str) -> bool:
        return (self.path / name).is_file()

    def table(self, name: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Read ``name`` (Parquet), optionally only ``columns``; errors name file and columns."""
        path = self.path / name
        if not path.is_file():
            raise RunDirError(
                f"run directory {self.path} has no {name} (a {self.kind} run writes it)"
            )
        try:
            frame = pd.read_parquet(path, columns=list(columns) if columns is not None else None)
        except (OSError, ValueError, KeyError) as exc:
            if columns is not None:
                have = _parquet_columns(path)
                missing = [c for c in columns if c not in have]
                if missing:
                    raise RunDirError(
                        f"{path}: missing column(s) {', '.join(missing)}; it has {', '.join(have)}"
                    ) from None
            raise RunDirError(f"{path}: cannot be read as Parquet ({exc})") from None
        return frame

    def columns(self, name: str) -> list[str]:
        path = self.path / name
        return _parquet_columns(path) if path.is_file() else []

    def scenario(self) -> dict[str, Any]:
        """The run's resolved scenario, or ``{}`` when there is none: ``scenario.toml`` beside
        the run; for a load test replaying a simulation, the simulation's; for a load test
        driven by a scenario, that scenario (shipped name or file) with its defaults filled in."""
        path = self.path / "scenario.toml"
        if path.is_file():
            return _read_toml(path)
        if self.kind != "loadtest":
            return {}
        trace = self.manifest.get("trace")
        if trace and (Path(trace) / "scenario.toml").is_file():
            return _read_toml(Path(trace) / "scenario.toml")
        ref = self.manifest.get("scenario")
        if not ref:
            return {}
        from scenarios.loader import ScenarioError, load_scenario, resolved_dict

        try:
            return resolved_dict(load_scenario(str(ref)).scenario)
        except ScenarioError as exc:
            raise RunDirError(f"{self.file('manifest.json')}: scenario {ref!r}: {exc}") from None

    def scenario_thresholds(self) -> list[Threshold]:
        table = self.scenario().get("thresholds", {})
        try:
            # A short source name: it is written into summary.json, which must not depend on
            # where the run directory lies.
            return parse_table(table, "scenario [thresholds]")
        except ThresholdError as exc:
            raise RunDirError(f"{self.path}: {exc}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RunDirError(f"{path}: not valid TOML ({exc})") from None


def _parquet_columns(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(path).names)
    except (OSError, ValueError) as exc:
        raise RunDirError(f"{path}: cannot be read as Parquet ({exc})") from None


def open_run(path: Path | str) -> RunDir:
    """Open and check a run directory's manifest."""
    root = Path(path)
    if not root.exists():
        raise RunDirError(f"run directory {root} does not exist")
    if not root.is_dir():
        raise RunDirError(
            f"{root} is not a directory; pass the run directory that holds manifest.json"
        )
    mpath = root / "manifest.json"
    if not mpath.is_file():
        raise RunDirError(
            f"run directory {root} has no manifest.json (written by orderflow simulate, sweep, "
            "plan and loadtest)"
        )
    manifest = read_json_object(mpath)
    kind = manifest.get("kind")
    if kind not in KINDS:
        raise RunDirError(f"{mpath}: 'kind' is {kind!r}; expected one of {', '.join(KINDS)}")
    return RunDir(root, manifest)
