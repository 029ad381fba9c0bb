"""Charts of a simulation run, each returned as an inline SVG string."""

from __future__ import annotations

import numpy as np

from reports.charts import SLA_COLOUR, figure, grid, hide_if_empty, to_svg
from reports.simrun import FUNNEL_PATH, SimAnalysis
from sim.kpis import HEADLINE_KPIS


def phase_distributions(s: SimAnalysis) -> str:
    """Box per phase (whiskers p5-p95), SLA target as a red tick on the phase's row."""
    names = [n for n, v in s.phase_minutes.items() if v.size]
    fig = figure(height=0.45 * max(len(names), 2) + 1.0)
    ax = fig.add_subplot()
    ax.set_title("phase times (box: p25-p75, whiskers: p5-p95) against SLA targets (red)")
    if hide_if_empty(ax, names):
        return to_svg(fig)
    data = [s.phase_minutes[n] for n in names]
    ax.boxplot(data, orientation="horizontal", whis=(5, 95), showfliers=False, tick_labels=names)
    for i, name in enumerate(names, start=1):
        target = s.sla_min.get(name)
        if target is not None:
            ax.plot([target, target], [i - 0.4, i + 0.4], color=SLA_COLOUR, lw=2)
            ax.annotate(f"SLA {target:g}", (target, i + 0.42), color=SLA_COLOUR, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("minutes")
    return to_svg(fig)


def states_over_time(s: SimAnalysis) -> str:
    fig = figure()
    ax = fig.add_subplot()
    assert s.states is not None
    states = [c for c in s.states.columns if c != "t_s" and s.states[c].any()]
    hours = (s.states["t_s"].to_numpy(np.float64) + s.clock_offset_s) / 3600.0
    ax.stackplot(hours, *(s.states[c].to_numpy(np.float64) for c in states), labels=states)
    ax.set_title(f"orders in each state (replication {s.replications[0]})")
    ax.set_xlabel("time of day (h)")
    ax.set_ylabel("orders")
    ax.legend(loc="upper left", ncol=3)
    return to_svg(fig)


def utilisation(s: SimAnalysis) -> str:
    fig = figure()
    ax = fig.add_subplot()
    ax.set_title("rider and kitchen utilisation (mean over replications)")
    u = s.utilisation_curve
    if u is None or hide_if_empty(ax, u):
        return to_svg(fig)
    hours = (u["t_s"].to_numpy(np.float64) + s.clock_offset_s) / 3600.0
    for col in ("rider_utilisation", "kitchen_utilisation"):
        if col in u.columns:
            ax.plot(hours, u[col].to_numpy(np.float64) * 100.0, lw=1.2, label=col.replace("_", " "))
    ax.set_ylim(0, 105)
    ax.set_ylabel("%")
    ax.set_xlabel("time of day (h)")
    ax.legend(loc="upper left")
    return to_svg(fig)


def breach_by_hour(s: SimAnalysis) -> str:
    fig = figure(height=2.8)
    ax = fig.add_subplot()
    ax.set_title("SLA breach rate by hour of placement")
    cols = [c for c in s.by_hour.columns if c.endswith("_breach_rate")]
    if hide_if_empty(ax, cols, "no SLA targets in the scenario"):
        return to_svg(fig)
    hours = s.by_hour.index.to_numpy()
    width = 0.8 / len(cols)
    for i, col in enumerate(cols):
        values = s.by_hour[col].to_numpy(np.float64) * 100.0
        ax.bar(
            hours + (i - (len(cols) - 1) / 2) * width,
            values,
            width,
            label=col.removesuffix("_breach_rate"),
        )
    ax.set_xticks(hours, [f"{h:02d}:00" for h in hours])
    ax.set_ylabel("% of orders over target")
    ax.legend(loc="upper left")
    return to_svg(fig)


def funnel(s: SimAnalysis) -> str:
    fig = figure(height=3.2)
    ax = fig.add_subplot()
    ax.set_title("order funnel, cancellations and refunds")
    stages = [str(i) for i in s.funnel.index]
    values = s.funnel["orders"].to_numpy(np.float64)
    colours = ["#1f77b4" if i < FUNNEL_PATH else "#d62728" for i in range(len(stages))]
    ax.barh(stages, values, color=colours)
    for y, v in enumerate(values):
        ax.annotate(
            f"{v:,.0f}", (v, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7
        )
    ax.invert_yaxis()
    ax.set_xlabel("orders (measured window, all replications)")
    return to_svg(fig)


def kpi_intervals(s: SimAnalysis) -> str:
    """One small panel per KPI: each replication's value (grey) and the mean's 95% interval."""
    kpis = [k for k in HEADLINE_KPIS if k in s.kpis.index and k in s.kpi_by_replication.columns]
    fig, axes = grid(len(kpis), cols=2, cell_h=1.2, width=10.0)
    for ax, kpi in zip(axes, kpis, strict=True):
        mean, lo, hi = s.kpis.loc[kpi, ["mean", "ci_low", "ci_high"]].to_numpy(np.float64)
        reps = s.kpi_by_replication[kpi].to_numpy(np.float64)
        ax.plot(reps, np.zeros_like(reps), "o", ms=3, color="#7f7f7f")
        if np.isfinite(mean):
            ax.errorbar([mean], [0], xerr=[[mean - lo], [hi - mean]], fmt="s", capsize=4)
        ax.set_title(kpi, loc="left")
        ax.set_yticks([])
        ax.grid(axis="y", visible=False)
    return to_svg(fig)
