"""The figures a load run ends with: per endpoint, service time (start to end) beside latency
from the intended start (coordinated-omission corrected, as wrk2 does) and start lateness, from
full-resolution HdrHistograms rather than Locust's rounded buckets; journey outcomes by kind; and
WebSocket delivery delays.

Start lateness has two causes, reported apart: the journey's previous step had not come back
yet (the target was slow: ``start - intended`` includes it), or the generator itself was late
sending a request it was ready to send (``start - ready``: CPU starved, pool too small)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hdrh.histogram import HdrHistogram

PERCENTILES = (50.0, 90.0, 99.0, 99.9)


def _hist(values_ms: np.ndarray[Any, Any]) -> dict[str, float]:
    if values_ms.size == 0:
        return {}
    h = HdrHistogram(1, 3_600_000_000, 3)  # 1 us .. 1 h, in microseconds, 3 digits
    micros = np.clip(values_ms * 1000.0, 1, 3_600_000_000).astype(np.int64)
    for value, count in zip(*np.unique(micros, return_counts=True), strict=True):
        h.record_value(int(value), int(count))
    by_p = h.get_percentile_to_value_dict(list(PERCENTILES))
    out = {f"p{p:g}": by_p[p] / 1000.0 for p in PERCENTILES}
    out["max"] = h.get_max_value() / 1000.0
    out["mean"] = float(values_ms.mean())
    return out


def latency_block(df: pd.DataFrame) -> dict[str, Any]:
    service = ((df["end_ts"] - df["start_ts"]) * 1000).to_numpy()
    corrected = ((df["end_ts"] - df["intended_ts"]) * 1000).to_numpy()
    late = ((df["start_ts"] - df["intended_ts"]).clip(lower=0) * 1000).to_numpy()
    delay = ((df["start_ts"] - df["ready_ts"]).clip(lower=0) * 1000).to_numpy()
    return {
        "requests": len(df),
        "errors": int(df["error"].notna().sum()),
        "service_ms": _hist(service),
        "corrected_ms": _hist(corrected),
        "start_lateness_ms": _hist(late),
        "send_delay_ms": _hist(delay),
    }


def summarize(run_dir: Path) -> dict[str, Any]:
    req = pd.read_parquet(run_dir / "requests.parquet")
    jrn = pd.read_parquet(run_dir / "journeys.parquet")
    wse = pd.read_parquet(run_dir / "ws_events.parquet")
    out: dict[str, Any] = {"overall": latency_block(req) if len(req) else {"requests": 0}}
    if len(req):
        span = float(req["end_ts"].max() - req["start_ts"].min()) or 1.0
        out["overall"]["requests_per_s"] = len(req) / span
        out["by_endpoint"] = {
            str(name): latency_block(group) for name, group in req.groupby("endpoint")
        }
        out["status_codes"] = {str(k): int(v) for k, v in req["status"].value_counts().items()}
    out["journeys"] = {
        str(kind): {str(k): int(v) for k, v in g["outcome"].value_counts().items()}
        for kind, g in jrn.groupby("kind")
    }
    failures = jrn[jrn["outcome"] == "failed"]["failure_reason"].value_counts().head(10)
    out["top_failure_reasons"] = {str(k): int(v) for k, v in failures.items()}
    delays = wse["delay_ms"].dropna().to_numpy()
    out["ws"] = {"events": len(wse), "delay_ms": _hist(np.clip(delays, 0, None))}
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
    ws = s["ws"]
    if ws["events"]:
        d = ws["delay_ms"]
        p50 = f"{d['p50']:.1f}" if d else "-"
        lines.append(f"  websocket events {ws['events']}, delivery delay p50 {p50} ms")
    return "\n".join(lines)
