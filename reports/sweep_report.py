"""The sweep report: each KPI against the varied parameter with its 95% band, the paired
differences between neighbouring settings (common random numbers make them far tighter than the
bands suggest), and the smallest setting that meets each threshold."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from reports.charts import SLA_COLOUR, grid, to_svg
from reports.kind_report import KindReport
from reports.page import Section, fmt
from reports.rundir import RunDir
from reports.sweeprun import SweepAnalysis
from sim.kpis import HEADLINE_KPIS

#: At most this many KPI panels (every headline KPI when no threshold adds another); the CSV
#: has all of them.
MAX_PANELS = len(HEADLINE_KPIS)


def _series(w: SweepAnalysis) -> list[tuple[str, pd.DataFrame]]:
    """One line per setting of the other varied parameters (the first one is the x axis)."""
    rest = w.parameters[1:]
    if not rest:
        return [("", w.table)]
    out = []
    for key, rows in w.table.groupby(rest, sort=True):
        values = key if isinstance(key, tuple) else (key,)
        out.append((", ".join(f"{p}={v}" for p, v in zip(rest, values, strict=True)), rows))
    return out


def _categories(w: SweepAnalysis) -> list[str] | None:
    """The x axis's values when they are names (``dispatch.policy``), in table order; None for
    a numeric axis."""
    x = w.table[w.parameters[0]]
    if pd.api.types.is_numeric_dtype(x):
        return None
    return list(dict.fromkeys(str(v) for v in x))


def _x(rows: pd.DataFrame, x_name: str, categories: list[str] | None) -> np.ndarray[Any, Any]:
    if categories is None:
        return rows[x_name].to_numpy(np.float64)
    return np.array([categories.index(str(v)) for v in rows[x_name]], dtype=np.float64)


def kpi_bands(w: SweepAnalysis) -> str:
    """One panel per KPI against the first varied parameter: a line and its band for a
    numeric axis; for a categorical one (named settings), each setting's mean and interval
    side by side."""
    x_name = w.parameters[0]
    categories = _categories(w)
    kpis = w.panels[:MAX_PANELS]
    fig, axes = grid(len(kpis), cols=3, cell_h=2.3)
    series = _series(w)
    for ax, kpi in zip(axes, kpis, strict=True):
        for label, rows in series:
            x = _x(rows, x_name, categories)
            if categories is not None:
                mean = rows[kpi].to_numpy(np.float64)
                if f"{kpi}.ci_low" in rows.columns and f"{kpi}.ci_high" in rows.columns:
                    lo = mean - rows[f"{kpi}.ci_low"].to_numpy(np.float64)
                    hi = rows[f"{kpi}.ci_high"].to_numpy(np.float64) - mean
                    ax.errorbar(x, mean, yerr=[lo, hi], fmt="o", ms=4, capsize=3, label=label)
                else:
                    ax.plot(x, mean, "o", ms=4, label=label)
                continue
            line = ax.plot(x, rows[kpi].to_numpy(np.float64), "o-", ms=3, lw=1.2, label=label)
            if f"{kpi}.ci_low" in rows.columns and f"{kpi}.ci_high" in rows.columns:
                lo = rows[f"{kpi}.ci_low"].to_numpy(np.float64)
                hi = rows[f"{kpi}.ci_high"].to_numpy(np.float64)
                ax.fill_between(x, lo, hi, alpha=0.2, lw=0, color=line[0].get_color())
        for _, row in w.choices[w.choices["kpi"] == kpi].iterrows():
            setting = row["smallest_by_mean"]
            if isinstance(setting, str) and len(w.parameters) == 1:
                value = str(setting).partition("=")[2]
                at = float(value) if categories is None else float(categories.index(value))
                ax.axvline(at, color=SLA_COLOUR, lw=1, ls="--")
                ax.annotate(
                    f"meets {row['condition']}",
                    (at, 0.95),
                    xycoords=("data", "axes fraction"),
                    color=SLA_COLOUR,
                    fontsize=7,
                )
        for _metric, target in w.targets.get(kpi, []):
            ax.axhline(target, color=SLA_COLOUR, lw=0.8, ls=":")
        ax.set_title(kpi, loc="left")
        ax.set_xlabel(x_name)
        if categories is not None:
            ax.set_xticks(range(len(categories)), categories, fontsize=6)
            ax.set_xlim(-0.5, len(categories) - 0.5)
    if axes and len(series) > 1:
        axes[0].legend(loc="best", fontsize=6)
    return to_svg(fig)


#: Marks a row of the differences table whose interval excludes 0.
SIGNIFICANT_ROW = ' style="background:#fff3bf"'
DIFFERENCE_SHOWN = ("axis", "from", "to", "at", "kpi", "mean", "ci_low", "ci_high", "n")


def _charted_differences(w: SweepAnalysis) -> pd.DataFrame:
    """The differences of the charted KPIs: by axis, then KPI (in panel order), then pair."""
    d = w.differences
    rank = {k: i for i, k in enumerate(w.panels[:MAX_PANELS])}
    shown = d[d["kpi"].isin(list(rank))]
    keys = pd.DataFrame(
        {
            "axis": shown["axis"].map({p: i for i, p in enumerate(w.parameters)}),
            "kpi": shown["kpi"].map(rank),
        }
    )
    order = keys.sort_values(["axis", "kpi"], kind="stable").index
    return shown.loc[order].reset_index(drop=True)


def _steps(rows: pd.DataFrame) -> list[str]:
    return [f"{a}→{b}" for a, b in zip(rows["from"], rows["to"], strict=True)]


def difference_bars(w: SweepAnalysis) -> str:
    """One panel per charted KPI: the paired difference (next setting minus this one) of each
    neighbouring pair along the first varied parameter, with its 95% interval and a line at 0;
    filled markers are significant (the interval excludes 0), hollow ones are not. With more
    parameters, one series per setting of the others, side by side at each step."""
    x_name = w.parameters[0]
    d = w.differences[w.differences["axis"] == x_name]
    kpis = [k for k in w.panels[:MAX_PANELS] if k in set(d["kpi"])]
    fig, axes = grid(len(kpis), cols=3, cell_h=2.3)
    for ax, kpi in zip(axes, kpis, strict=True):
        rows = d[d["kpi"] == kpi]
        steps = list(dict.fromkeys(_steps(rows)))
        groups = list(dict.fromkeys(rows["at"]))
        width = 0.6 / len(groups)
        for g, at in enumerate(groups):
            part = rows[rows["at"] == at]
            offset = (g - (len(groups) - 1) / 2) * width
            x = np.array([steps.index(s) for s in _steps(part)], dtype=np.float64) + offset
            mean = part["mean"].to_numpy(np.float64)
            lo = np.nan_to_num(mean - part["ci_low"].to_numpy(np.float64))
            hi = np.nan_to_num(part["ci_high"].to_numpy(np.float64) - mean)
            sig = part["significant"].to_numpy(bool)
            colour = f"C{g % 10}"
            ax.errorbar(
                x, mean, yerr=[lo, hi], fmt="none", capsize=3, lw=1, ecolor=colour, label=at or None
            )
            ax.plot(x[sig], mean[sig], "o", ms=5, color=colour)
            ax.plot(x[~sig], mean[~sig], "o", ms=5, mfc="white", color=colour)
        ax.axhline(0.0, color="#555", lw=0.8)
        ax.set_title(kpi, loc="left")
        ax.set_xlabel(f"{x_name} step")
        ax.set_xticks(range(len(steps)), steps, fontsize=6)
        ax.set_xlim(-0.5, len(steps) - 0.5)
    if axes and len(set(d["at"])) > 1:
        axes[0].legend(loc="best", fontsize=6)
    return to_svg(fig)


def differences_html(frame: pd.DataFrame) -> str:
    """The differences table, a significant pair's row highlighted (and ``significant``: yes)."""
    cols = [c for c in DIFFERENCE_SHOWN if c != "at" or frame["at"].astype(bool).any()]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in [*cols, "significant"])
    rows = []
    for rec in frame.to_dict(orient="records"):
        cells = "".join(f"<td>{html.escape(fmt(rec[c]))}</td>" for c in cols)
        mark = "<td><b>yes</b></td>" if rec["significant"] else "<td>no</td>"
        style = SIGNIFICANT_ROW if rec["significant"] else ""
        rows.append(f'<tr class="difference"{style}>{cells}{mark}</tr>')
    return (
        '<div class="scroll"><table class="differences"><thead><tr>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _grid_table(w: SweepAnalysis) -> pd.DataFrame:
    cols = [*w.parameters]
    for kpi in w.panels:
        cols += [c for c in (kpi, f"{kpi}.ci_low", f"{kpi}.ci_high") if c in w.table.columns]
    return w.table[cols]


def build(run: RunDir, w: SweepAnalysis) -> KindReport:
    sections = [
        Section("kpi-vs-parameter", f"KPIs vs {', '.join(w.parameters)}")
        .note(
            "Mean over replications with its 95% confidence interval (a line and band for a "
            "numeric setting, a point and bar for named settings such as dispatch.policy); "
            "dashed red line: the smallest setting that meets the threshold named beside it "
            "(for named settings, the first in alphabetical order)."
        )
        .chart(kpi_bands(w), "kpi_vs_parameter"),
        _differences_section(w),
        Section("smallest-setting", "Smallest setting that meets each threshold").table(
            w.choices, index=False
        ),
        Section("grid", "Grid points")
        .note("Charted KPIs with their 95% intervals; every KPI is in sweep.csv.")
        .table(_grid_table(w), index=False),
    ]
    summary: dict[str, Any] = {
        "parameters": w.parameters,
        "points": len(w.table),
        "kpis": w.kpis,
        "smallest_setting": w.choices.to_dict(orient="records"),
        "grid": _grid_table(w).to_dict(orient="records"),
        "differences": _charted_differences(w).to_dict(orient="records"),
    }
    meta = [("kind", "sweep"), ("run", run.path.name), ("varied", ", ".join(w.parameters))]
    return KindReport(
        title=f"Sweep report: {run.path.name}",
        meta=meta,
        sections=sections,
        summary=summary,
        tables={
            "sweep.csv": w.table,
            "differences.csv": w.differences,
            "smallest_setting.csv": w.choices,
        },
        verdict="A sweep is not gated: each threshold picks the smallest setting that meets it "
        "(below).",
    )


def _differences_section(w: SweepAnalysis) -> Section:
    section = Section("paired-differences", f"Paired differences along {', '.join(w.parameters)}")
    shown = _charted_differences(w)
    if shown.empty:
        return section.note("No neighbouring settings to compare (a single grid point).")
    section.note(
        "Each neighbouring pair of settings (differing in one parameter, consecutive values): "
        "the mean over replications of KPI(to) - KPI(from), replication r of both paired (same "
        "random numbers), with a 95% t interval. Highlighted: significant, the interval "
        "excludes 0. Chart: the first parameter's steps (filled marker: significant). Every KPI "
        "is in differences.csv."
    )
    if not w.differences[w.differences["axis"] == w.parameters[0]].empty:
        section.chart(difference_bars(w), "paired_differences")
    return section.raw(differences_html(shown))
