"""Grubhub Meal Delivery Routing Problem instances as scenarios.

An instance directory (``orders.txt``, ``couriers.txt``, ``restaurants.txt``,
``instance_parameters.txt``, tab-separated; Reyes, Erera, Savelsbergh, Sahasrabudhe and O'Neil,
"The Meal Delivery Routing Problem", Optimization Online 2018; files from ``grubhub/mdrplib``)
becomes the equivalent scenario: a planar city with the instance's travel speed, its orders
replayed as an order log (cash on delivery, confirmed at placement, food ready at
``ready_time``), its couriers as a roster, the MDRP's split service times, and its scoring terms
in ``[mdrp]``. ``orderflow import-mdrp`` writes the same scenario out as a TOML file and CSVs
(``write_scenario``) for editing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import tomli_w

from scenarios import traces
from scenarios.loader import (
    LoadedScenario,
    ScenarioError,
    apply_override,
    attach_inputs,
    load_data,
    parse_override,
)
from scenarios.traces import CSV_NAMES

FILES = ("orders.txt", "couriers.txt", "restaurants.txt", "instance_parameters.txt")
#: The order-log and roster columns (``scenarios.traces``) an instance's columns are read as.
RENAMED = {
    "placed_min": "placement_time",
    "ready_min": "ready_time",
    "on_min": "on_time",
    "off_min": "off_time",
}
#: Kitchen slots per restaurant: enough that no MDRP order ever queues for a kitchen, since an
#: instance's ready times are exact.
KITCHEN_SLOTS = 1000
#: ``rolling_horizon``'s assignment horizon for an instance, minutes.
HORIZON_MIN = 30.0
#: Rule timers the MDRP does not have, set beyond any instance's day (minutes).
NEVER_MIN = 7 * 24 * 60.0
CITATION = (
    "Grubhub MDRP instance (grubhub/mdrplib; Reyes, Erera, Savelsbergh, Sahasrabudhe, O'Neil, "
    "'The Meal Delivery Routing Problem', Optimization Online, 2018)"
)


def is_instance_dir(path: Path) -> bool:
    return path.is_dir() and all((path / name).is_file() for name in FILES)


def _read(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ScenarioError(f"{path}: cannot be read as a tab-separated table: {exc}") from None


def _parameters(directory: Path) -> dict[str, float]:
    path = directory / "instance_parameters.txt"
    frame = _read(path)
    columns = {
        "meters_per_minute": "metres_per_minute",
        "pickup service minutes": "pickup_min",
        "dropoff service minutes": "dropoff_min",
        "target click-to-door": "target_min",
        "maximum click-to-door": "max_min",
        "pay per order": "pay_per_order",
        "guaranteed pay per hour": "pay_per_hour",
    }
    missing = [c for c in columns if c not in frame.columns]
    if missing or len(frame) != 1:
        raise ScenarioError(
            f"{path}: expected one row with columns {', '.join(columns)}"
            + (f" (missing: {', '.join(missing)})" if missing else f" (got {len(frame)} rows)")
        )
    out: dict[str, float] = {}
    for column, name in columns.items():
        raw = str(frame.at[0, column]).strip()
        try:
            value = float(raw)
        except ValueError:
            raise ScenarioError(
                f"{path}: row 1, column {column}: expected a number, got {raw!r}"
            ) from None
        if not math.isfinite(value) or value < 0 or (name == "metres_per_minute" and value == 0):
            raise ScenarioError(f"{path}: row 1, column {column}: must be positive, got {raw!r}")
        out[name] = value
    return out


def read_instance(directory: Path) -> tuple[dict[str, Any], traces.Inputs]:
    """The scenario table (as TOML would give it) and the data of an instance directory."""
    params = _parameters(directory)
    rest_path, order_path, courier_path = (
        directory / "restaurants.txt",
        directory / "orders.txt",
        directory / "couriers.txt",
    )
    restaurants = _read(rest_path)
    as_ours = {v: k for k, v in RENAMED.items()}
    orders = _read(order_path).rename(columns=as_ours)
    couriers = _read(courier_path).rename(columns=as_ours)
    # The day runs to the last courier's off-time (or just past the last placement).
    try:
        last = max(
            pd.to_numeric(couriers.get("off_min", pd.Series(dtype=str)), errors="coerce").max(),
            pd.to_numeric(orders.get("placed_min", pd.Series(dtype=str)), errors="coerce").max()
            + 1,
        )
    except TypeError:
        last = math.nan
    if not math.isfinite(last) or last <= 0:
        raise ScenarioError(
            f"{directory}: no usable times: orders.txt needs placement_time and couriers.txt "
            "off_time, with at least one row each"
        )
    period_min = float(math.ceil(last))
    try:
        places = traces.restaurants_from(restaurants, str(rest_path), planar=True)
        trace = traces.orders_from(
            orders, str(order_path), places, planar=True, period_min=period_min
        )
        roster = traces.roster_from(couriers, str(courier_path), planar=True, period_min=period_min)
    except traces.TraceError as exc:
        # name the instance's own columns, not the order-log names they were read as
        text = str(exc)
        for ours, original in RENAMED.items():
            text = text.replace(ours, original)
        raise ScenarioError(text) from None
    name = directory.resolve().name
    data: dict[str, Any] = {
        "name": name,
        "description": f"{CITATION}: {name}",
        "seed": 1,
        "replications": 1,
        "period": {"start": "00:00", "duration_h": period_min / 60.0, "drain_h": 3.0},
        "demand": {"orders_file": CSV_NAMES["demand.orders_file"]},
        "city": {"geometry": "planar", "metres_per_minute": params["metres_per_minute"]},
        "vendors": {
            "restaurants_file": CSV_NAMES["vendors.restaurants_file"],
            "kitchen_slots": KITCHEN_SLOTS,
            "confirm_delay": {"dist": "constant", "value_min": 0.0},
        },
        "payment": {"online_share": 0.0},
        "fleet": {
            "roster_file": CSV_NAMES["fleet.roster_file"],
            "pickup_service": {"dist": "constant", "value_min": params["pickup_min"]},
            "dropoff_service": {"dist": "constant", "value_min": params["dropoff_min"]},
            "service_model": "split",
        },
        "dispatch": {"policy": "rolling_horizon"},
        "auto_cancel": {"confirm_timeout_min": NEVER_MIN, "pickup_timeout_min": NEVER_MIN},
        "sla": {"click_to_door_min": params["target_min"]},
        "mdrp": {
            "instance": name,
            "target_click_to_door_min": params["target_min"],
            "max_click_to_door_min": params["max_min"],
            "pay_per_order": params["pay_per_order"],
            "guaranteed_pay_per_hour": params["pay_per_hour"],
        },
    }
    return data, traces.Inputs(trace, places, roster)


def load_instance(directory: Path, overrides: Iterable[str] = ()) -> LoadedScenario:
    """An instance directory as a loaded scenario (``--set`` overrides apply as to a file)."""
    data, inputs = read_instance(directory)
    source = str(directory)
    sets = tuple(overrides)
    for item in sets:
        path, value = parse_override(item)
        apply_override(data, path, value, f"{source} (--set {item})")
    dispatch = data.get("dispatch")
    if isinstance(dispatch, dict) and dispatch.get("policy") == "rolling_horizon":
        # The horizon covers the instances' longest rides (up to ~40 min between points), so a
        # courier far away is sent early enough; docs/validation.md has the comparison.
        dispatch.setdefault("horizon_min", HORIZON_MIN)
    # Validate the tables without reading files (the data is in hand), then attach it.
    loaded = load_data(data, source, (), base=None, read_files=False)
    return LoadedScenario(attach_inputs(loaded.scenario, inputs, source), source, sets)


def write_scenario(loaded: LoadedScenario, out: Path) -> list[Path]:
    """The scenario as a TOML file at ``out`` and its data as CSVs beside it; the paths
    written. The TOML names the CSVs relative to itself, so the directory moves as a whole."""
    from scenarios.loader import resolved_with_files

    s = loaded.scenario
    if s.inputs is None:
        raise ScenarioError(f"{loaded.source}: the scenario reads no data files")
    out.parent.mkdir(parents=True, exist_ok=True)
    data, written = resolved_with_files(s, out.parent, out.parent, prefix=f"{out.stem}-")
    header = f"# {s.description}\n# Written by orderflow import-mdrp; data files beside this one.\n"
    out.write_text(header + tomli_w.dumps(data), encoding="utf-8")
    return [out, *written]
