"""The load-test report: sections, ``summary.json`` content and CSV tables of a load run."""

from __future__ import annotations

from typing import Any

import pandas as pd

from reports import load_charts
from reports.breaches import BreachInterval
from reports.kind_report import KindReport
from reports.loadrun import LoadAnalysis
from reports.page import Section
from reports.rundir import RunDir
from reports.timebuckets import pct_label


def _records(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Rows by index label; ``build_report`` turns the NumPy values into plain JSON."""
    return {str(name): {str(k): v for k, v in row.items()} for name, row in frame.iterrows()}


def summary(run: RunDir, a: LoadAnalysis) -> dict[str, Any]:
    m = run.manifest
    data: dict[str, Any] = {
        "run": {
            k: m.get(k) for k in ("host", "scenario", "trace", "speedup", "duration") if k in m
        },
        "percentiles": list(a.percentiles),
        "bucket_s": a.bucket_s,
        "requests": dict(a.overall),
        "endpoints": _records(a.endpoints),
    }
    if a.ws is not None:
        metric = a.metrics.get("ws_delay")
        data["websocket"] = {
            "events": 0 if metric is None else metric.count,
            "by_event_type": _records(a.ws) if not a.ws.empty else {},
        }
    if a.journeys is not None:
        j = a.journeys
        by_outcome = j.groupby("outcome")["count"].sum()
        data["journeys"] = {
            "count": int(j["count"].sum()),
            "by_outcome": {str(k): int(v) for k, v in by_outcome.items()},
        }
    if a.planned is not None:
        totals = a.planned.groupby("endpoint")[["planned", "observed"]].sum()
        data["planned_vs_observed"] = {
            str(k): {"planned": int(r["planned"]), "observed": int(r["observed"])}
            for k, r in totals.iterrows()
        }
    return data


def endpoint_table(a: LoadAnalysis) -> pd.DataFrame:
    cols = ["count", "errors", "error_rate", "rate_rps"]
    cols += [f"service_ms_{pct_label(p)}" for p in a.percentiles] + ["service_ms_max"]
    cols += [f"latency_ms_{pct_label(p)}" for p in a.percentiles]
    return a.endpoints[cols]


def build(run: RunDir, a: LoadAnalysis, breaches: list[BreachInterval]) -> KindReport:
    top = pct_label(a.percentiles[-1])
    o = a.overall
    sections = [
        Section("overview", "Overview")
        .note(
            f"{o['count']:,} requests over {o['duration_s']:.0f} s "
            f"({o['throughput_rps']:.1f}/s), {o['error_rate'] * 100:.2f}% errors; service "
            f"{top} {o.get(f'service_ms_{top}', float('nan')):.1f} ms, latency from intended "
            f"{top} {o.get(f'latency_ms_{top}', float('nan')):.1f} ms. Time buckets of "
            f"{a.bucket_s:g} s, by intended send time."
        )
        .table(endpoint_table(a)),
        Section("percentiles", "Latency percentiles over time per endpoint")
        .note(
            "Service time (end - start). Red bands: intervals in which a threshold on the "
            "endpoint was breached."
        )
        .chart(load_charts.percentiles_over_time(a, breaches), "percentiles_over_time"),
        Section("coordinated-omission", "Service time vs latency from the intended time")
        .note(
            "When the dashed line rises above the solid one, requests waited to be sent: the "
            "system under test (or the load generator) fell behind the schedule."
        )
        .chart(load_charts.service_vs_latency(a, breaches), "service_vs_latency"),
        Section("throughput", "Throughput and error rate over time").chart(
            load_charts.throughput_errors(a, breaches), "throughput_errors"
        ),
        Section("distribution", "Latency distribution per endpoint")
        .note("Dotted lines: the report's percentiles.")
        .chart(load_charts.latency_distribution(a), "latency_distribution"),
        Section("lateness", "Start lateness").chart(
            load_charts.start_lateness(a, breaches), "start_lateness"
        ),
    ]
    if a.ws is not None:
        ws = Section("websocket", "WebSocket event delay").chart(
            load_charts.ws_delay(a), "ws_delay"
        )
        if not a.ws.empty:
            ws.table(a.ws)
        sections.append(ws)
    if a.journeys is not None:
        sections.append(
            Section("journeys", "Journey outcomes")
            .chart(load_charts.journey_outcomes(a), "journey_outcomes")
            .table(a.journeys, index=False)
        )
    if a.planned is not None:
        totals = a.planned.groupby("endpoint")[["planned", "observed"]].sum()
        sections.append(
            Section("planned", "Planned vs observed request rate per endpoint")
            .note(
                f"Replay of the simulation timeline {run.manifest.get('trace')}; planned "
                "from the timeline, observed from the requests actually sent."
            )
            .chart(load_charts.planned_vs_observed(a), "planned_vs_observed")
            .table(totals)
        )
    if breaches:
        frame = pd.DataFrame([b.as_dict() for b in breaches])
        sections.append(Section("breach-intervals", "Breach intervals").table(frame, index=False))
    tables: dict[str, pd.DataFrame] = {
        "endpoints.csv": a.endpoints.reset_index(),
        "timeseries.csv": a.totals,
        "endpoint_timeseries.csv": a.series,
    }
    if a.ws is not None and not a.ws.empty:
        tables["websocket.csv"] = a.ws.reset_index()
    if a.journeys is not None:
        tables["journeys.csv"] = a.journeys
    if a.planned is not None:
        tables["planned_vs_observed.csv"] = a.planned
    meta = [("kind", "load test"), ("run", run.path.name)]
    meta += [
        (k, str(run.manifest[k]))
        for k in ("host", "scenario", "trace", "speedup")
        if run.manifest.get(k) is not None
    ]
    return KindReport(
        title=f"Load test report: {run.path.name}",
        meta=meta,
        sections=sections,
        summary=summary(run, a),
        tables=tables,
    )
