"""The plan report: each target KPI's estimate and interval against the searched parameter, the
limit, and the recommendation; for an hourly staffing, demand, riders and the KPI per hour."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from reports.charts import SLA_COLOUR, figure, grid, to_svg
from reports.kind_report import KindReport
from reports.page import Section
from reports.planrun import PlanAnalysis
from reports.rundir import RunDir

VERDICT_COLOURS = {"met": "#2ca02c", "failed": SLA_COLOUR, "undecided": "#7f7f7f"}


def _errorbars(ax: Any, rows: pd.DataFrame, x: str) -> None:
    """Each point's mean and interval, coloured by verdict (a null bound draws no bar)."""
    for verdict, part in rows.groupby("verdict", sort=True):
        xs = part[x].to_numpy(np.float64)
        mean = part["mean"].to_numpy(np.float64)
        lo = np.nan_to_num(mean - part["ci_low"].to_numpy(np.float64))
        hi = np.nan_to_num(part["ci_high"].to_numpy(np.float64) - mean)
        ax.errorbar(
            xs,
            mean,
            yerr=[lo, hi],
            fmt="o",
            ms=4,
            capsize=3,
            color=VERDICT_COLOURS.get(str(verdict), "#1f77b4"),
            label=str(verdict),
        )


def candidate_chart(a: PlanAnalysis) -> str:
    """One panel per target: candidates' estimates with their intervals (the one-sided bound
    is the end towards the limit), the limit, and the recommended value."""
    plan, path = a.plan, str(a.plan.get("vary", "value"))
    recommended = (plan.get("recommended") or {}).get(path)
    fig, axes = grid(len(a.targets), cols=min(2, len(a.targets)), cell_h=2.8)
    for ax, target in zip(axes, a.targets, strict=True):
        rows = a.table[a.table["sla"] == target["sla"]].sort_values("value")
        _errorbars(ax, rows, "value")
        ax.axhline(target["limit"], color=SLA_COLOUR, lw=0.9, ls=":")
        ax.annotate(
            f"limit {target['op']} {target['limit']:g}",
            (0.01, target["limit"]),
            xycoords=("axes fraction", "data"),
            color=SLA_COLOUR,
            fontsize=7,
            va="bottom",
        )
        if recommended is not None:
            ax.axvline(recommended, color="#2ca02c", lw=1, ls="--")
            ax.annotate(
                f"recommended {recommended}",
                (recommended, 0.95),
                xycoords=("data", "axes fraction"),
                color="#2ca02c",
                fontsize=7,
            )
        ax.set_title(f"{target['kpi']} ({target['sla']})", loc="left")
        ax.set_xlabel(path)
    if axes:
        axes[0].legend(loc="best", fontsize=6)
    return to_svg(fig)


def staffing_chart(a: PlanAnalysis) -> str:
    """Demand (orders placed per hour), the riders on duty, and each target KPI per hour with
    its interval and limit: the confirmation run of the recommended staffing."""
    hours = a.plan.get("hours") or []
    n = 2 + len(a.targets)
    fig = figure(height=2.1 * n + 0.4)
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    h = np.array([x["hour"] for x in hours], dtype=np.float64)
    labels = [str(x.get("start", x["hour"])) for x in hours]
    axes[0].bar(h, [x.get("orders") or 0.0 for x in hours], color="#1f77b4", width=0.7)
    axes[0].set_title("demand: orders placed per hour (mean over replications)", loc="left")
    axes[1].bar(h, [x["riders"] for x in hours], color="#ff7f0e", width=0.7, label="staffing")
    isa = [x.get("riders_isa") for x in hours]
    if any(v is not None for v in isa):
        axes[1].plot(
            h, [np.nan if v is None else v for v in isa], "x", color="#333", label="ISA start"
        )
    axes[1].set_title("riders on duty", loc="left")
    axes[1].legend(loc="best", fontsize=6)
    for ax, target in zip(axes[2:], a.targets, strict=True):
        rows = a.table[a.table["sla"] == target["sla"]] if not a.table.empty else a.table
        if not rows.empty:
            _errorbars(ax, rows, "hour")
        ax.axhline(target["limit"], color=SLA_COLOUR, lw=0.9, ls=":")
        ax.set_title(f"{target['kpi']} by hour placed ({target['sla']})", loc="left")
        ax.legend(loc="best", fontsize=6)
    axes[-1].set_xticks(h, labels)
    axes[-1].set_xlabel("hour of the period (start)")
    return to_svg(fig)


def _steps(plan: dict[str, Any]) -> pd.DataFrame:
    cols = ["step", "stage", "staffing", "replications", "first_replication", "met", "verdicts"]
    frame = pd.DataFrame(plan.get("evaluations") or [], columns=cols)
    for col in ("staffing", "verdicts"):
        frame[col] = [" ".join(map(str, v)) for v in frame[col]]
    return frame


def _verdict(a: PlanAnalysis) -> str:
    plan = a.plan
    pct = f"{plan['confidence']:.0%}"
    if a.mode == "staffing":
        if plan.get("staffing") is None:
            return "No staffing inside the bounds met the SLA in every hour: nothing recommended."
        return (
            f"Recommended staffing {plan['staffing']} ({plan.get('rider_hours'):g} rider-hours): "
            f"every hour met with {pct} confidence on fresh replications."
        )
    path = str(plan.get("vary"))
    if plan.get("recommended"):
        value = plan["recommended"][path]
        return f"Recommended {path}={value}: every target met with {pct} confidence."
    lo, hi = plan.get("bounds", [None, None])
    return f"No {path} in {lo}..{hi} met every target with {pct} confidence: nothing recommended."


def build(run: RunDir, a: PlanAnalysis) -> KindReport:
    plan = a.plan
    pct = f"{plan['confidence']:.0%}"
    level = plan.get("interval_level", 2 * plan["confidence"] - 1)
    note = (
        f"Each point: the KPI's mean over the candidate's replications with its two-sided "
        f"{level:.0%} interval, whose end towards the limit is a one-sided {pct} bound; a "
        "target is met when that bound is inside the limit (dotted red line). Green: met, red: "
        "clearly failed (even the other end is outside), grey: undecided at the replication cap."
    )
    if a.mode == "staffing":
        sections = [
            Section("staffing", "Demand, staffing and the SLA by hour")
            .note(note + " Values from the confirmation run on fresh replications.")
            .chart(staffing_chart(a), "staffing_by_hour")
            .table(a.table, index=False),
            Section("evaluations", "Search steps")
            .note(
                "Every staffing the search ran, in order (generous start, ISA, bisection, "
                "repair, descent, confirmation on fresh replications)."
            )
            .table(_steps(plan), index=False),
        ]
        tables = {"hours.csv": a.table}
    else:
        sections = [
            Section("candidates", f"Target KPIs against {plan.get('vary')}")
            .note(note + " Dashed green line: the recommended value.")
            .chart(candidate_chart(a), "plan_candidates"),
            Section("candidate-table", "Candidates").table(
                a.table.sort_values(["value", "sla"]), index=False
            ),
        ]
        tables = {"candidates.csv": a.table}
    sections.insert(0, Section("answer", "Answer").note(_verdict(a)))
    summary: dict[str, Any] = {
        "answer": _verdict(a),
        "mode": a.mode,
        "met": a.met,
        "confidence": plan["confidence"],
        "targets": a.targets,
    }
    if a.mode == "staffing":
        summary |= {"staffing": plan.get("staffing"), "rider_hours": plan.get("rider_hours")}
    else:
        summary |= {"recommended": plan.get("recommended"), "vary": plan.get("vary")}
    meta = [
        ("kind", "plan"),
        ("run", run.path.name),
        ("mode", a.mode),
        ("scenario", str(plan.get("scenario"))),
        ("seed", str(plan.get("seed"))),
        ("confidence", pct),
    ]
    return KindReport(
        title=f"Plan report: {run.path.name}",
        meta=meta,
        sections=sections,
        summary=summary,
        tables=tables,
        verdict=None if a.evaluation.results else _verdict(a),
    )
