"""Where a run's schedule comes from: a scenario's demand curve, or a simulation run's timeline
(``RUN_DIR/timeline.parquet``, one row per in-process API call the simulation made). Both end
up as a ``Plan``; problems are ``PlanError`` messages that name the file and the column or field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from loadtest.identities import Identities
from loadtest.journey_mix import Background, build_orders, identity_loops
from loadtest.plan import (
    OPERATION_BY_NAME,
    Plan,
    PlanError,
    PlannedCall,
    PlannedOrder,
    classify,
)

ROLES = frozenset({"customer", "restaurant", "rider", "system"})

#: Timeline columns we read, and the names the simulation may give them.
TIMELINE_COLUMNS: dict[str, tuple[str, ...]] = {
    "order": ("order_idx", "order_key", "order", "order_id", "order_index"),
    "arrival": ("arrival_s", "order_arrival_s", "arrival"),
    "offset": ("offset_s", "offset"),
    "role": ("role",),
    "endpoint": ("endpoint", "endpoint_name", "name"),
    "params": ("params", "params_json"),
    "payment": ("payment_method", "payment"),
    "vendor": ("vendor_idx", "vendor_index", "vendor"),
    "customer": ("customer_idx", "customer_index", "customer"),
    "expected": ("expected_outcome", "expected", "outcome"),
    "replication": ("replication",),
    "seq": ("seq",),
}
OPTIONAL = frozenset({"params", "payment", "vendor", "customer", "expected", "replication", "seq"})


def plan_from_scenario(
    ref: str,
    identities: Identities,
    *,
    speedup: float,
    duration_s: float,
    background: float,
    seed: int | None,
    ws_share: float = 0.5,
    overrides: tuple[str, ...] = (),
) -> Plan:
    from scenarios import ScenarioError, load_scenario

    try:
        loaded = load_scenario(ref, overrides)
    except ScenarioError as exc:
        raise PlanError(str(exc)) from None
    sc = loaded.scenario
    horizon = min(sc.period.duration_s, duration_s * speedup)
    bg = Background(factor=background, ws_share=ws_share)
    orders = build_orders(sc, identities, horizon, bg, sc.seed if seed is None else seed)
    loops = identity_loops(bg, horizon, identities, first_index=len(orders))
    return Plan(tuple(orders + loops), speedup, f"scenario:{loaded.source}", background)


def plan_from_trace(
    run_dir: Path,
    *,
    speedup: float,
    duration_s: float,
    background: float,
    identities: Identities,
    ws_share: float = 1.0,
) -> Plan:
    """Replay a simulation's calls: each order at ``arrival/speedup``, each call at
    ``(arrival + offset)/speedup``. Orders arriving after ``duration_s`` of wall time are cut."""
    import pyarrow.parquet as pq

    path = run_dir / "timeline.parquet"
    if not run_dir.is_dir():
        raise PlanError(f"--trace {run_dir}: not a directory")
    if not path.is_file():
        raise PlanError(
            f"--trace {run_dir}: no timeline.parquet in it (write one with `orderflow simulate`)"
        )
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise PlanError(f"{path}: not a readable Parquet file: {exc}") from None
    names = set(table.column_names)
    cols: dict[str, str] = {}
    for key, options in TIMELINE_COLUMNS.items():
        found = next((c for c in options if c in names), None)
        if found is None and key not in OPTIONAL:
            raise PlanError(
                f"{path}: missing column {options[0]!r} (or one of {', '.join(options[1:])}); "
                f"columns present: {', '.join(sorted(names))}"
            )
        if found is not None:
            cols[key] = found
    rows = table.select(list(cols.values())).to_pylist()
    by_order: dict[Any, list[dict[str, Any]]] = {}
    replication = None
    if "replication" in cols and rows:
        replication = min(row[cols["replication"]] for row in rows)  # replay the first one
    for n, row in enumerate(rows):
        r = {key: row[col] for key, col in cols.items()}
        if replication is not None and r["replication"] != replication:
            continue
        r["_row"] = n
        r.setdefault("seq", n)
        by_order.setdefault(r["order"], []).append(r)
    horizon = duration_s * speedup
    orders: list[PlannedOrder] = []
    firsts = sorted(by_order.items(), key=lambda kv: (_num(path, kv[1][0], "arrival"), str(kv[0])))
    for key, calls_raw in firsts:
        arrival = _num(path, calls_raw[0], "arrival")
        if arrival >= horizon:
            continue
        ordered = sorted(calls_raw, key=lambda r: (_num(path, r, "offset"), r["seq"], r["_row"]))
        calls = [_call(path, r) for r in ordered]
        first = calls_raw[0]
        method = str(first.get("payment") or "cod")
        orders.append(
            PlannedOrder(
                key=str(key),
                index=len(orders),
                arrival_s=arrival,
                kind=classify(calls, method),
                payment_method=method,
                vendor_index=int(first.get("vendor") or 0),
                customer_index=int(first.get("customer") or 0),
                calls=tuple(calls),
                # live tracking by WebSocket (the spec's advice) rather than polling
                ws=ws_share >= 1.0 or (ws_share > 0 and (len(orders) * 0.618034) % 1 < ws_share),
            )
        )
    if not orders:
        raise PlanError(
            f"{path}: no order arrives within the first {duration_s:g} s of wall time at "
            f"speedup {speedup:g} (raise --duration or --speedup)"
        )
    last = max(o.arrival_s + o.length_s for o in orders)
    bg = Background(factor=background)
    loops = identity_loops(bg, min(horizon, last), identities, first_index=len(orders))
    return Plan(tuple(orders + loops), speedup, f"trace:{run_dir}", background)


def _num(path: Path, row: dict[str, Any], key: str) -> float:
    value = row.get(key)
    if not isinstance(value, int | float):
        raise PlanError(f"{path}: row {row['_row']}: {key}: expected a number, got {value!r}")
    return float(value)


def _call(path: Path, row: dict[str, Any]) -> PlannedCall:
    where = f"{path}: row {row['_row']}"
    name = row["endpoint"]
    op = OPERATION_BY_NAME.get(name)
    if op is None:
        raise PlanError(f"{where}: endpoint {name!r} is not in reference_api.endpoints")
    role = row["role"]
    if role not in ROLES:
        raise PlanError(f"{where}: role {role!r}: expected one of {', '.join(sorted(ROLES))}")
    raw = row.get("params")
    params: dict[str, Any] = {}
    if raw:
        try:
            loaded = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError as exc:
            raise PlanError(f"{where}: params: not JSON: {exc.msg}") from None
        if not isinstance(loaded, dict):
            raise PlanError(f"{where}: params: expected a JSON object, got {raw!r}")
        params = loaded
    expected = str(row.get("expected") or "ok")
    return PlannedCall(_num(path, row, "offset"), role, op, params, expected)
