"""Aggregate a load-test run directory into the tables its report shows.

Everything is reduced to per-endpoint and per-time-bucket figures with pandas/numpy, so the page
and the CSVs grow with the number of endpoints and buckets, not with the number of requests.
Three clocks per request (wrk2's coordinated-omission correction): service time = end - start,
latency = end - intended, start lateness = start - intended. Requests are bucketed by their
intended send time, so a slow interval is shown where the load that suffered it was scheduled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from reports.evaluate import FloatArray, MetricData
from reports.percentiles import Definition, group_percentiles, percentile
from reports.rundir import RunDir, RunDirError
from reports.timebuckets import auto_bucket, bucket_index, pct_label
from scenarios.thresholds import Unit

REQUEST_COLUMNS = ("intended_ts", "start_ts", "end_ts", "endpoint", "status")
#: Load-test metric names beside the endpoint template names, with what they measure.
LOAD_METRICS: dict[str, str] = {
    "requests": "service time (end - start) of every request",
    "latency": "time from the intended send to the response (end - intended), every request",
    "late_starts": "start lateness (start - intended) of every request",
    "errors": "requests that failed (connection error, HTTP >= 400 or marked as an error)",
    "ws_delay": "WebSocket event delay, from the acknowledged change to its receipt",
    "journeys": "journeys: duration (values) and failures (rate)",
}


@dataclass
class LoadAnalysis:
    t0: float
    span_s: float
    bucket_s: float
    percentiles: tuple[float, ...]
    overall: dict[str, float | int]
    endpoints: pd.DataFrame  # one row per endpoint
    series: pd.DataFrame  # one row per (endpoint, bucket)
    totals: pd.DataFrame  # one row per bucket, all endpoints
    histograms: dict[str, tuple[FloatArray, FloatArray]]  # endpoint → (edges ms, counts)
    lateness_hist: tuple[FloatArray, FloatArray]
    ws: pd.DataFrame | None
    ws_hist: tuple[FloatArray, FloatArray] | None
    journeys: pd.DataFrame | None
    planned: pd.DataFrame | None  # one row per (endpoint, bucket): planned, observed
    metrics: dict[str, MetricData] = field(default_factory=dict)


def error_flags(frame: pd.DataFrame) -> pd.Series:
    """A request failed if it got no response (status 0), a server error (5xx), or the load test
    marked it failed (non-empty ``error``: a response the journey did not expect). A 4xx the
    journey expected (a wrong OTP on purpose, a throttled resend) is not an error; without an
    ``error`` column every 4xx counts."""
    status = frame["status"].astype("int64")
    if "error" not in frame.columns:
        return (status == 0) | (status >= 400)
    err = frame["error"]
    marked = err.notna() & (err.astype("string").str.len().fillna(0) > 0)
    return (status == 0) | (status >= 500) | marked


def _hist(values: FloatArray, bins: int = 40) -> tuple[FloatArray, FloatArray]:
    """Log-spaced histogram (latencies span orders of magnitude); empty input → empty arrays."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.zeros(0), np.zeros(0)
    lo = max(float(values.min()), 0.01)
    hi = max(float(values.max()), lo * 1.01)
    edges = np.geomspace(lo, hi, bins + 1)
    counts, _ = np.histogram(np.clip(values, lo, hi), bins=edges)
    return edges, counts.astype(np.float64)


def _stats(values: FloatArray, percentiles: Sequence[float], prefix: str) -> dict[str, float]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {}
    out = {f"{prefix}_{pct_label(p)}": percentile(values, p, Definition.HDR) for p in percentiles}
    out[f"{prefix}_mean"] = float(values.mean())
    out[f"{prefix}_max"] = float(values.max())
    return out


def analyse(run: RunDir, percentiles: Sequence[float], bucket_s: float | None) -> LoadAnalysis:
    have = run.columns("requests.parquet")
    cols = [*REQUEST_COLUMNS, *(c for c in ("error", "planned") if c in have)]
    req = run.table("requests.parquet", cols)
    if req.empty:
        raise RunDirError(
            f"{run.file('requests.parquet')}: has no rows; the load test sent no request"
        )
    pcts = tuple(percentiles)
    intended = req["intended_ts"].to_numpy(np.float64)
    start = req["start_ts"].to_numpy(np.float64)
    end = req["end_ts"].to_numpy(np.float64)
    frame = pd.DataFrame(
        {
            "endpoint": req["endpoint"].astype("category"),
            "service_ms": (end - start) * 1000.0,
            "latency_ms": (end - intended) * 1000.0,
            "lateness_ms": (start - intended) * 1000.0,
            "error": error_flags(req).to_numpy(),
            "planned": req["planned"].to_numpy(bool) if "planned" in req.columns else True,
        }
    )
    del req
    t0 = float(np.nanmin(intended))
    t_end = float(np.nanmax(end))
    span = max(t_end - t0, 1e-9)
    width = float(bucket_s) if bucket_s else auto_bucket(span)
    frame["bucket"] = bucket_index(intended, t0, width)

    # Per endpoint, whole run.
    by_ep = frame.groupby("endpoint", observed=True, sort=True)
    endpoints = pd.DataFrame({"count": by_ep.size(), "errors": by_ep["error"].sum()})
    endpoints["error_rate"] = endpoints["errors"] / endpoints["count"]
    endpoints["rate_rps"] = endpoints["count"] / span
    for col, prefix in (
        ("service_ms", "service_ms"),
        ("latency_ms", "latency_ms"),
        ("lateness_ms", "lateness_ms"),
    ):
        endpoints = endpoints.join(group_percentiles(frame, ["endpoint"], col, pcts, prefix))
        endpoints[f"{prefix}_mean"] = by_ep[col].mean()
        endpoints[f"{prefix}_max"] = by_ep[col].max()
    endpoints.index = endpoints.index.astype(str)
    endpoints.index.name = "endpoint"

    # Per endpoint and bucket.
    by_eb = frame.groupby(["endpoint", "bucket"], observed=True, sort=True)
    series = pd.DataFrame({"count": by_eb.size(), "errors": by_eb["error"].sum()})
    series = series.join(
        group_percentiles(frame, ["endpoint", "bucket"], "service_ms", pcts, "service_ms")
    )
    series = series.join(
        group_percentiles(frame, ["endpoint", "bucket"], "latency_ms", pcts, "latency_ms")
    )
    series = series.reset_index()
    series["endpoint"] = series["endpoint"].astype(str)
    series["t_s"] = series["bucket"] * width

    # All endpoints per bucket.
    by_b = frame.groupby("bucket", sort=True)
    totals = pd.DataFrame({"count": by_b.size(), "errors": by_b["error"].sum()})
    totals["throughput_rps"] = totals["count"] / width
    totals["error_rate"] = totals["errors"] / totals["count"]
    for col in ("service_ms", "latency_ms", "lateness_ms"):
        totals = totals.join(group_percentiles(frame, ["bucket"], col, pcts, col))
    totals = totals.reset_index()
    totals["t_s"] = totals["bucket"] * width

    service = frame["service_ms"].to_numpy()
    latency = frame["latency_ms"].to_numpy()
    lateness = frame["lateness_ms"].to_numpy()
    errors = frame["error"].to_numpy(bool)
    buckets = frame["bucket"].to_numpy(np.int64)
    overall: dict[str, float | int] = {
        "count": len(frame),
        "errors": int(errors.sum()),
        "error_rate": float(errors.mean()),
        "duration_s": span,
        "throughput_rps": len(frame) / span,
        **_stats(service, pcts, "service_ms"),
        **_stats(latency, pcts, "latency_ms"),
        **_stats(lateness, pcts, "lateness_ms"),
    }

    histograms: dict[str, tuple[FloatArray, FloatArray]] = {}
    metrics: dict[str, MetricData] = {
        "requests": MetricData(
            LOAD_METRICS["requests"], Unit.DURATION, service, errors, len(frame), buckets
        ),
        "latency": MetricData(
            LOAD_METRICS["latency"], Unit.DURATION, latency, None, len(frame), buckets
        ),
        "late_starts": MetricData(
            LOAD_METRICS["late_starts"], Unit.DURATION, lateness, None, len(frame), buckets
        ),
        "errors": MetricData(
            LOAD_METRICS["errors"], Unit.FRACTION, None, errors, int(errors.sum()), buckets
        ),
    }
    codes = frame["endpoint"].cat.codes.to_numpy()
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(frame["endpoint"].cat.categories) + 1))
    for i, name in enumerate(frame["endpoint"].cat.categories):
        idx = order[bounds[i] : bounds[i + 1]]
        if idx.size == 0:
            continue
        ep_service = service[idx]
        histograms[str(name)] = _hist(ep_service)
        metrics[str(name)] = MetricData(
            f"service time of {name}",
            Unit.DURATION,
            ep_service,
            errors[idx],
            int(idx.size),
            buckets[idx],
        )

    ws, ws_hist = _websocket(run, pcts, metrics)
    journeys = _journeys(run, metrics)
    # Request latencies and WebSocket delays follow the run's histograms (summary.json); a
    # journey's duration is not one of them (and may run past their 1 h ceiling).
    for name, m in metrics.items():
        if m.samples is not None and name != "journeys":
            metrics[name] = replace(m, definition=Definition.HDR)
    planned = _planned(run, frame, intended, start, t0, width)
    return LoadAnalysis(
        t0=t0,
        span_s=span,
        bucket_s=width,
        percentiles=pcts,
        overall=overall,
        endpoints=endpoints,
        series=series,
        totals=totals,
        histograms=histograms,
        lateness_hist=_hist(np.abs(lateness)),
        ws=ws,
        ws_hist=ws_hist,
        journeys=journeys,
        planned=planned,
        metrics=metrics,
    )


def _websocket(
    run: RunDir, pcts: Sequence[float], metrics: dict[str, MetricData]
) -> tuple[pd.DataFrame | None, tuple[FloatArray, FloatArray] | None]:
    if not run.has("ws_events.parquet"):
        return None, None
    ws = run.table("ws_events.parquet", ["event_type", "delay_ms"])
    delay = ws["delay_ms"].to_numpy(np.float64)
    metrics["ws_delay"] = MetricData(LOAD_METRICS["ws_delay"], Unit.DURATION, delay, None, len(ws))
    if ws.empty:
        return pd.DataFrame(), None
    by = ws.groupby("event_type", sort=True)
    table = pd.DataFrame({"count": by.size()}).join(
        group_percentiles(ws, ["event_type"], "delay_ms", pcts, "delay_ms")
    )
    table["delay_ms_max"] = by["delay_ms"].max()
    table.index.name = "event_type"
    return table, _hist(delay)


#: Journey outcomes that count as success; anything else is a failure for the ``journeys`` metric.
SUCCESS_OUTCOMES = frozenset({"ok", "success", "completed", "delivered", "passed"})


def _journeys(run: RunDir, metrics: dict[str, MetricData]) -> pd.DataFrame | None:
    if not run.has("journeys.parquet"):
        return None
    have = run.columns("journeys.parquet")
    cols = [c for c in ("kind", "outcome", "start_ts", "end_ts", "failure_reason") if c in have]
    if "outcome" not in cols or "kind" not in cols:
        raise RunDirError(
            f"{run.file('journeys.parquet')}: needs columns kind and outcome; "
            f"it has {', '.join(have)}"
        )
    j = run.table("journeys.parquet", cols)
    failed = ~j["outcome"].astype(str).str.lower().isin(SUCCESS_OUTCOMES).to_numpy(bool)
    duration = (
        (j["end_ts"] - j["start_ts"]).to_numpy(np.float64) * 1000.0
        if "end_ts" in cols and "start_ts" in cols
        else None
    )
    metrics["journeys"] = MetricData(
        LOAD_METRICS["journeys"], Unit.DURATION, duration, failed, len(j)
    )
    table = j.groupby(["kind", "outcome"], sort=True).size().rename("count").reset_index()
    return table


def _planned(
    run: RunDir,
    frame: pd.DataFrame,
    intended: FloatArray,
    start: FloatArray,
    t0: float,
    width: float,
) -> pd.DataFrame | None:
    """Planned (simulation timeline) vs observed requests per endpoint and bucket. Observed
    counts the requests sent for planned steps (``planned`` column) when the table marks them,
    so polling and retries do not inflate the comparison."""
    if not run.manifest.get("trace") or not run.has("planned.parquet"):
        return None
    plan = run.table("planned.parquet", ["intended_ts", "endpoint"])
    plan_b = pd.DataFrame(
        {
            "endpoint": plan["endpoint"].astype(str),
            "bucket": bucket_index(plan["intended_ts"].to_numpy(np.float64), t0, width),
        }
    )
    sent = frame["planned"].to_numpy(bool)
    obs_b = pd.DataFrame(
        {
            "endpoint": frame["endpoint"].astype(str)[sent],
            "bucket": bucket_index(start[sent], t0, width),
        }
    )
    planned = plan_b.groupby(["endpoint", "bucket"]).size().rename("planned")
    observed = obs_b.groupby(["endpoint", "bucket"]).size().rename("observed")
    both = pd.concat([planned, observed], axis=1).fillna(0).astype("int64").reset_index()
    both["t_s"] = both["bucket"] * width
    both["planned_rps"] = both["planned"] / width
    both["observed_rps"] = both["observed"] / width
    return both.sort_values(["endpoint", "bucket"]).reset_index(drop=True)
