"""Charts of a load-test run, each returned as an inline SVG string."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from reports.breaches import BreachInterval
from reports.charts import figure, grid, hide_if_empty, log_x, shade, short, time_axis, to_svg
from reports.loadrun import LoadAnalysis
from reports.timebuckets import pct_label

#: Small multiples show at most this many endpoints (the busiest); the tables list all of them.
MAX_PANELS = 18
OUTCOME_COLOURS = {"ok": "#2ca02c", "failed": "#d62728", "unfinished": "#9e9e9e"}


def _busiest(a: LoadAnalysis) -> list[str]:
    ranked = a.endpoints.sort_values("count", ascending=False, kind="stable")
    return [str(e) for e in ranked.index[:MAX_PANELS]]


def _by_metric(breaches: list[BreachInterval]) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for b in breaches:
        out[b.metric].append((b.start_s, b.end_s))
    return out


def percentiles_over_time(a: LoadAnalysis, breaches: list[BreachInterval]) -> str:
    names = _busiest(a)
    fig, axes = grid(len(names))
    scale, xlabel = time_axis(a.span_s)
    marked = _by_metric(breaches)
    for ax, name in zip(axes, names, strict=True):
        rows = a.series[a.series["endpoint"] == name]
        x = (rows["t_s"] + a.bucket_s / 2) / scale
        for p in a.percentiles:
            ax.plot(x, rows[f"service_ms_{pct_label(p)}"], lw=1, label=pct_label(p))
        shade(ax, marked.get(name, []), scale)
        ax.set_title(short(name))
        ax.set_ylabel("service time (ms)")
        ax.set_xlabel(xlabel)
    if axes:
        axes[0].legend(loc="upper left")
    return to_svg(fig)


def service_vs_latency(a: LoadAnalysis, breaches: list[BreachInterval]) -> str:
    fig = figure()
    ax = fig.add_subplot()
    scale, xlabel = time_axis(a.span_s)
    x = (a.totals["t_s"] + a.bucket_s / 2) / scale
    for p in a.percentiles:
        line = ax.plot(
            x, a.totals[f"service_ms_{pct_label(p)}"], lw=1, label=f"service {pct_label(p)}"
        )
        ax.plot(
            x,
            a.totals[f"latency_ms_{pct_label(p)}"],
            lw=1,
            ls="--",
            color=line[0].get_color(),
            label=f"from intended {pct_label(p)}",
        )
    marked = _by_metric(breaches)
    shade(ax, marked.get("requests", []) + marked.get("latency", []), scale)
    ax.set_ylabel("ms")
    ax.set_xlabel(xlabel)
    ax.set_title(
        "service time (end - start) vs latency from the intended send time (end - intended)"
    )
    ax.legend(ncol=2, loc="upper left")
    return to_svg(fig)


def throughput_errors(a: LoadAnalysis, breaches: list[BreachInterval]) -> str:
    fig = figure(height=4.2)
    top, bottom = fig.subplots(2, 1, sharex=True)
    scale, xlabel = time_axis(a.span_s)
    x = (a.totals["t_s"] + a.bucket_s / 2) / scale
    top.plot(x, a.totals["throughput_rps"], lw=1)
    top.set_ylabel("requests/s")
    top.set_title("throughput and error rate")
    bottom.plot(x, a.totals["error_rate"] * 100.0, lw=1, color="#d62728")
    bottom.set_ylabel("errors (%)")
    bottom.set_xlabel(xlabel)
    shade(bottom, _by_metric(breaches).get("errors", []), scale)
    return to_svg(fig)


def latency_distribution(a: LoadAnalysis) -> str:
    names = _busiest(a)
    fig, axes = grid(len(names), cell_h=1.9)
    for ax, name in zip(axes, names, strict=True):
        row = list(a.endpoints.index).index(name)
        edges, counts = a.histograms.get(name, (np.zeros(0), np.zeros(0)))
        ax.set_title(short(name))
        if hide_if_empty(ax, counts):
            continue
        ax.stairs(counts, edges, fill=True, alpha=0.6)
        log_x(ax)
        ax.set_xlabel("service time (ms, log)")
        ax.set_ylabel("requests")
        for p in a.percentiles:
            v = float(a.endpoints[f"service_ms_{pct_label(p)}"].to_numpy(np.float64)[row])
            ax.axvline(v, color="k", lw=0.6, ls=":")
    return to_svg(fig)


def start_lateness(a: LoadAnalysis, breaches: list[BreachInterval]) -> str:
    fig = figure()
    left, right = fig.subplots(1, 2)
    edges, counts = a.lateness_hist
    left.set_title("start lateness |start - intended|")
    if not hide_if_empty(left, counts):
        left.stairs(counts, edges, fill=True, alpha=0.6)
        log_x(left)
        left.set_xlabel("ms (log)")
        left.set_ylabel("requests")
    scale, xlabel = time_axis(a.span_s)
    x = (a.totals["t_s"] + a.bucket_s / 2) / scale
    for p in a.percentiles:
        right.plot(x, a.totals[f"lateness_ms_{pct_label(p)}"], lw=1, label=pct_label(p))
    shade(right, _by_metric(breaches).get("late_starts", []), scale)
    right.set_title("start lateness over time")
    right.set_ylabel("ms")
    right.set_xlabel(xlabel)
    right.legend(loc="upper left")
    return to_svg(fig)


def ws_delay(a: LoadAnalysis) -> str:
    fig = figure(height=2.8)
    ax = fig.add_subplot()
    ax.set_title("WebSocket event delay (acknowledged change to receipt)")
    if a.ws_hist is None or hide_if_empty(ax, a.ws_hist[1]):
        return to_svg(fig)
    edges, counts = a.ws_hist
    ax.stairs(counts, edges, fill=True, alpha=0.6)
    log_x(ax)
    ax.set_xlabel("delay (ms, log)")
    ax.set_ylabel("events")
    return to_svg(fig)


def journey_outcomes(a: LoadAnalysis) -> str:
    fig = figure(height=2.8)
    ax = fig.add_subplot()
    ax.set_title("journey outcomes by kind")
    j = a.journeys
    if j is None or hide_if_empty(ax, j):
        return to_svg(fig)
    table = j.pivot_table(
        index="kind", columns="outcome", values="count", aggfunc="sum", fill_value=0
    )
    left = np.zeros(len(table))
    for outcome in table.columns:
        values = table[outcome].to_numpy(np.float64)
        colour = OUTCOME_COLOURS.get(str(outcome))
        kinds = [str(k) for k in table.index]
        ax.barh(kinds, values, left=left, label=str(outcome), color=colour)
        left += values
    ax.set_xlabel("journeys")
    ax.legend(loc="lower right")
    return to_svg(fig)


def planned_vs_observed(a: LoadAnalysis) -> str:
    assert a.planned is not None
    names = sorted(set(a.planned["endpoint"]))[:MAX_PANELS]
    fig, axes = grid(len(names), cell_h=1.9)
    scale, xlabel = time_axis(a.span_s)
    for ax, name in zip(axes, names, strict=True):
        rows = a.planned[a.planned["endpoint"] == name]
        x = (rows["t_s"] + a.bucket_s / 2) / scale
        ax.plot(x, rows["planned_rps"], lw=1.2, label="planned")
        ax.plot(x, rows["observed_rps"], lw=1, ls="--", label="observed")
        ax.set_title(short(name))
        ax.set_ylabel("requests/s")
        ax.set_xlabel(xlabel)
    if axes:
        axes[0].legend(loc="upper left")
    return to_svg(fig)
