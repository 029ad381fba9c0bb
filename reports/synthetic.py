"""Synthetic load-run directories of any size, for the report benchmark and unit tests.

The real load test needs a server and takes wall time; a million-row run to measure the report's
cost does not. The tables follow the load test's run-directory format (docs/run-directories.md),
with a known slow interval so breach intervals have something to find.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from reference_api.endpoints import ENDPOINTS


def _where(mask: npt.NDArray[np.bool_], text: str) -> pd.Series:
    """``text`` where ``mask``, null elsewhere (as the load test writes an absent error)."""
    out = pd.Series(pd.NA, index=range(mask.size), dtype="string")
    out[mask] = text
    return out


def write_load_run(
    out: Path,
    rows: int,
    duration_s: float = 600.0,
    seed: int = 7,
    slow_window: tuple[float, float] = (0.4, 0.5),
    error_rate: float = 0.005,
    trace: bool = False,
) -> Path:
    """Write ``manifest.json``, ``requests.parquet``, ``journeys.parquet``, ``ws_events.parquet``
    (and ``planned.parquet`` when ``trace``) for ``rows`` requests over ``duration_s``.

    Requests whose intended time falls in ``slow_window`` (fractions of the run) are 5x slower.
    """
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    names = [e.name for e in ENDPOINTS.values() if e.method != "WS"]
    weights = rng.dirichlet(np.ones(len(names)) * 2.0)
    t0 = 1_700_000_000.0
    intended = np.sort(t0 + rng.uniform(0.0, duration_s, rows))
    endpoint_idx = rng.choice(len(names), size=rows, p=weights)
    base_ms = 5.0 + 40.0 * rng.random(len(names))
    service_ms = base_ms[endpoint_idx] * rng.lognormal(0.0, 0.5, rows)
    frac = (intended - t0) / duration_s
    slow = (frac >= slow_window[0]) & (frac < slow_window[1])
    service_ms[slow] *= 5.0
    start = intended + rng.exponential(0.002, rows)
    end = start + service_ms / 1000.0
    failed = rng.random(rows) < error_rate
    status = np.where(failed, 500, 200).astype(np.int32)
    status[failed & (rng.random(rows) < 0.2)] = 0
    requests = pd.DataFrame(
        {
            "intended_ts": intended,
            "start_ts": start,
            "end_ts": end,
            "endpoint": np.array(names, dtype=object)[endpoint_idx],
            "method": np.array([n.split(" ", 1)[0] for n in names], dtype=object)[endpoint_idx],
            "role": "customer",
            "status": status,
            "bytes": rng.integers(200, 2000, rows),
            "error": _where(failed, "HTTP 500"),
            "journey": "happy_path",
            "journey_id": (np.arange(rows) // 8).astype(str),
            "order_id": (np.arange(rows) // 8).astype(str),
            "worker": (np.arange(rows) % 2).astype(np.int32),
        }
    )
    requests.to_parquet(out / "requests.parquet", index=False)
    n_j = max(1, rows // 8)
    j_start = t0 + np.sort(rng.uniform(0.0, duration_s, n_j))
    outcome = rng.choice(["ok", "failed", "unfinished"], size=n_j, p=[0.95, 0.03, 0.02])
    pd.DataFrame(
        {
            "journey_id": np.arange(n_j).astype(str),
            "kind": rng.choice(["happy_path", "cancel_early", "restaurant_reject"], size=n_j),
            "planned_ts": j_start,
            "start_ts": j_start,
            "end_ts": j_start + rng.uniform(1.0, 30.0, n_j),
            "outcome": outcome,
            "final_status": np.where(outcome == "ok", "DELIVERED", "CANCELLED"),
            "order_id": np.arange(n_j).astype(str),
            "failure_reason": _where(outcome == "failed", "unexpected 500"),
        }
    ).to_parquet(out / "journeys.parquet", index=False)
    n_ws = max(1, rows // 4)
    acked = t0 + np.sort(rng.uniform(0.0, duration_s, n_ws))
    delay = rng.lognormal(np.log(15.0), 0.6, n_ws)
    pd.DataFrame(
        {
            "order_id": (np.arange(n_ws) // 4).astype(str),
            "event_type": rng.choice(["order.status_changed", "order.assigned"], size=n_ws),
            "new_status": "PREPARING",
            "acked_ts": acked,
            "received_ts": acked + delay / 1000.0,
            "delay_ms": delay,
        }
    ).to_parquet(out / "ws_events.parquet", index=False)
    manifest: dict[str, object] = {
        "kind": "loadtest",
        "host": "http://127.0.0.1:8000",
        "scenario": None,  # no scenario: thresholds come from --threshold only
        "trace": None,
        "speedup": 1.0,
        "duration": duration_s,
        "started_at": t0,
    }
    if trace:
        keep = rng.random(rows) < 0.97  # a few planned requests were never sent
        pd.DataFrame(
            {"intended_ts": intended[keep], "endpoint": requests["endpoint"].astype(str)[keep]}
        ).to_parquet(out / "planned.parquet", index=False)
        manifest["trace"] = "synthetic-timeline.parquet"
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return out
