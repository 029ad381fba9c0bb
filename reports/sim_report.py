"""The simulation report: sections, ``summary.json`` content and CSV tables of a simulation run."""

from __future__ import annotations

from typing import Any

import pandas as pd

from reports import sim_charts
from reports.kind_report import KindReport
from reports.page import Section
from reports.rundir import RunDir
from reports.simrun import SimAnalysis
from sim.kpis import HEADLINE_KPIS


def _table_dict(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Rows as dicts, keeping each column's type (``iterrows`` would turn counts into floats)."""
    out: dict[str, dict[str, Any]] = {}
    for k in frame.index:
        row = {str(c): frame.at[k, c] for c in frame.columns}
        out[str(k)] = {c: v for c, v in row.items() if not (isinstance(v, float) and v != v)}
    return out


def summary(s: SimAnalysis) -> dict[str, Any]:
    return {
        "replications": s.replications,
        "orders": len(s.orders),
        "percentiles": list(s.percentiles),
        "sla_min": s.sla_min,
        "phases": _table_dict(s.phase_table),
        "kpis": _table_dict(s.kpis),
        "funnel": {str(k): int(v) for k, v in s.funnel["orders"].items()},
        "breach_rate_by_hour": _table_dict(s.by_hour),
    }


def build(run: RunDir, s: SimAnalysis) -> KindReport:
    m = run.manifest
    headline = s.kpis.loc[[k for k in HEADLINE_KPIS if k in s.kpis.index]]
    sections = [
        Section("kpis", "KPIs with 95% confidence intervals")
        .note(
            f"{len(s.orders):,} orders placed in the measured window over "
            f"{len(s.replications)} replication(s); the simulation's summary.json, interval: "
            "Student t across replications (all KPIs in kpis.csv)."
        )
        .table(headline)
        .chart(sim_charts.kpi_intervals(s), "kpi_intervals"),
        Section("phases", "Phase times against SLA targets")
        .chart(sim_charts.phase_distributions(s), "phase_distributions")
        .table(s.phase_table),
    ]
    if s.states is not None:
        sections.append(
            Section("states", "Orders in each state over time").chart(
                sim_charts.states_over_time(s), "states_over_time"
            )
        )
    if s.utilisation_curve is not None:
        sections.append(
            Section("utilisation", "Rider and kitchen utilisation").chart(
                sim_charts.utilisation(s), "utilisation"
            )
        )
    sections += [
        Section("breach-by-hour", "SLA breach rate by hour")
        .chart(sim_charts.breach_by_hour(s), "breach_by_hour")
        .table(s.by_hour),
        Section("funnel", "Cancellation and refund funnel")
        .chart(sim_charts.funnel(s), "funnel")
        .table(s.funnel),
    ]
    if not s.cancellations.empty:
        sections[-1].note("Cancellations by actor and reason:").table(s.cancellations, index=False)
    tables = {
        "kpis.csv": s.kpis.reset_index(),
        "kpis_by_replication.csv": s.kpi_by_replication.reset_index(),
        "phases.csv": s.phase_table.reset_index(),
        "breach_by_hour.csv": s.by_hour.reset_index(),
        "funnel.csv": s.funnel.reset_index(),
        "cancellations.csv": s.cancellations,
    }
    if s.utilisation_curve is not None:
        tables["utilisation.csv"] = s.utilisation_curve
    if s.states is not None:
        tables["states.csv"] = s.states
    meta = [("kind", "simulation"), ("run", run.path.name)]
    meta += [(k, str(m[k])) for k in ("scenario", "seed", "replications") if m.get(k) is not None]
    return KindReport(
        title=f"Simulation report: {run.path.name}",
        meta=meta,
        sections=sections,
        summary=summary(s),
        tables=tables,
    )
