"""The figures a load run ends with: per endpoint, service time (start to end) beside latency
from the intended start (coordinated-omission corrected, as wrk2 does) and start lateness, from
full-resolution HdrHistograms rather than Locust's rounded buckets; journey outcomes by kind; and
WebSocket delivery delays.

Start lateness has two causes, reported apart: the journey's previous step had not come back
yet (the target was slow: ``start - intended`` includes it), or the generator itself was late
sending a request it was ready to send (``start - ready``: CPU starved, pool too small)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from loadtest.hdr import ALL, Histograms, from_tables
from loadtest.recorder import read_histograms, write_histograms


def run_histograms(run_dir: Path) -> Histograms:
    """The run's histograms: ``histograms.json`` when it holds exactly the run's rows (what the
    processes recorded as they flushed), else rebuilt from the rows and written back (a run
    directory from before histograms, or rows that arrived after the last write)."""
    n_requests = pq.read_metadata(run_dir / "requests.parquet").num_rows
    ws_path = run_dir / "ws_events.parquet"
    ws = pq.read_table(ws_path, columns=["delay_ms"]).column(0) if ws_path.exists() else None
    n_ws = int(np.isfinite(ws.to_numpy(zero_copy_only=False).astype(float)).sum()) if ws else 0
    h = read_histograms(run_dir)
    if h is not None and h.count(ALL) == n_requests and h.ws_count() == n_ws:
        return h
    h = from_tables(
        pq.read_table(run_dir / "requests.parquet"),
        pq.read_table(ws_path) if ws_path.exists() else None,
    )
    write_histograms(run_dir, h)
    return h


def latency_block(df: pd.DataFrame, h: Histograms, endpoint: str = ALL) -> dict[str, Any]:
    return {"requests": len(df), "errors": int(df["error"].notna().sum()), **h.block(endpoint)}


def summarize(run_dir: Path) -> dict[str, Any]:
    req = pd.read_parquet(run_dir / "requests.parquet")
    jrn = pd.read_parquet(run_dir / "journeys.parquet")
    wse = pd.read_parquet(run_dir / "ws_events.parquet")
    h = run_histograms(run_dir)
    out: dict[str, Any] = {
        "percentiles_from": "histograms.json (HdrHistogram, 1 us .. 1 h, 3 digits)",
        "overall": latency_block(req, h) if len(req) else {"requests": 0},
    }
    if len(req):
        span = float(req["end_ts"].max() - req["start_ts"].min()) or 1.0
        out["overall"]["requests_per_s"] = len(req) / span
        out["by_endpoint"] = {
            str(name): latency_block(group, h, str(name)) for name, group in req.groupby("endpoint")
        }
        out["status_codes"] = {str(k): int(v) for k, v in req["status"].value_counts().items()}
    out["journeys"] = {
        str(kind): {str(k): int(v) for k, v in g["outcome"].value_counts().items()}
        for kind, g in jrn.groupby("kind")
    }
    failures = jrn[jrn["outcome"] == "failed"]["failure_reason"].value_counts().head(10)
    out["top_failure_reasons"] = {str(k): int(v) for k, v in failures.items()}
    out["ws"] = {"events": len(wse), "delay_ms": h.ws_block()}
    manifest = run_dir / "manifest.json"
    if manifest.exists():
        m = json.loads(manifest.read_text())
        if m.get("lost_workers"):
            out["incomplete"] = {
                "lost_workers": m["lost_workers"],
                "lost_journeys": m.get("counts", {}).get("lost_journeys", 0),
            }
    return out


def format_summary(s: dict[str, Any], run_dir: Path) -> str:
    o = s["overall"]
    lines = [f"load run finished; files in {run_dir}/"]
    if not o.get("requests"):
        lines.append("  no requests were sent")
        return "\n".join(lines)
    lines.append(
        f"  {o['requests']} requests ({o['requests_per_s']:.1f}/s), {o['errors']} with errors"
    )
    for label, key in (
        ("service time", "service_ms"),
        ("from intended start", "corrected_ms"),
        ("start lateness", "start_lateness_ms"),
        ("generator delay", "send_delay_ms"),
    ):
        h = o[key]
        lines.append(
            f"  {label:<20} p50 {h['p50']:8.1f} ms  p99 {h['p99']:8.1f} ms  max {h['max']:8.1f} ms"
        )
    for kind, outcomes in sorted(s["journeys"].items()):
        parts = ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items()))
        lines.append(f"  journeys {kind:<18} {parts}")
    for reason, n in s["top_failure_reasons"].items():
        lines.append(f"  failed x{n}: {reason}")
    if "incomplete" in s:
        inc = s["incomplete"]
        lines.append(
            f"  INCOMPLETE: worker share(s) {inc['lost_workers']} lost, "
            f"{inc['lost_journeys']} of their journeys never ran"
        )
    ws = s["ws"]
    if ws["events"]:
        d = ws["delay_ms"]
        p50 = f"{d['p50']:.1f}" if d else "-"
        lines.append(f"  websocket events {ws['events']}, delivery delay p50 {p50} ms")
    return "\n".join(lines)
