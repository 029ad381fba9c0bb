"""compare.html: a comparison of two runs as one self-contained page in the style of the
reports (``reports.page``'s CSS and sections, inline SVG from ``reports.charts``, no script).

``reports.page.render`` shows a threshold evaluation and can only show a custom verdict as a
pass, so this page assembles the same skeleton with its own verdict: a regression is a fail.
"""

from __future__ import annotations

import html

import numpy as np
from matplotlib.axes import Axes

from reports.bootstrap import FloatArray
from reports.charts import BREACH_COLOUR, figure, hide_if_empty, log_x, short, to_svg
from reports.compare_rows import (
    BETTER,
    REGRESSION,
    WORSE,
    Comparison,
    Row,
    cells,
)
from reports.compare_spec import Direction, Scale
from reports.page import Section, document
from sim.kpis import HEADLINE_KPIS

BASELINE_COLOUR = "#7f7f7f"
CANDIDATE_COLOUR = "#1f77b4"
VERDICT_CLASS = {REGRESSION: "breach", WORSE: "breach", BETTER: "pass"}


def rows_html(rows: list[Row]) -> str:
    head = ["metric", "baseline", "candidate", "difference", "interval", "change", "tolerance"]
    head.append("verdict")
    body = []
    for r in rows:
        tds = "".join(f"<td>{html.escape(c)}</td>" for c in cells(r))
        cls = VERDICT_CLASS.get(r.verdict, "")
        body.append(f'<tr>{tds}<td class="{cls}">{html.escape(r.verdict)}</td></tr>')
    ths = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return (
        f'<div class="scroll"><table><thead><tr>{ths}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _errorbars(ax: Axes, y: FloatArray, rows: list[Row], which: str, colour: str) -> None:
    """Points of one run (``which``: baseline or candidate) with that run's own interval."""
    x = np.array([getattr(r, which) if getattr(r, which) is not None else np.nan for r in rows])
    lo = np.array([_or_nan(getattr(r, f"{which}_low")) for r in rows])
    hi = np.array([_or_nan(getattr(r, f"{which}_high")) for r in rows])
    err = np.vstack([np.nan_to_num(x - lo), np.nan_to_num(hi - x)]).clip(min=0.0)
    ax.errorbar(x, y, xerr=err, fmt="o", ms=4, capsize=2, lw=1, color=colour, label=which)


#: A gap in a chart: an endpoint only one run called.
_EMPTY = Row("", "", Scale.DURATION_MS, Direction.HIGHER_IS_WORSE, None, None, None, None, None)


def _or_nan(v: float | None) -> float:
    return np.nan if v is None else v


def p95_chart(c: Comparison) -> str:
    """Per endpoint, p95 service time and latency of both runs with each run's interval; the
    endpoints whose p95 regressed are named in red."""
    measures = ("service p95", "latency p95")
    names = sorted({r.name for r in c.rows if r.metric in measures and r.name != "requests"})
    fig = figure(width=11.0, height=0.32 * max(len(names), 2) + 1.3)
    axes = fig.subplots(1, 2, sharey=True)
    by_key = {(r.name, r.metric): r for r in c.rows}
    y = np.arange(len(names), dtype=float)
    regressed = {r.name for r in c.rows if r.metric in measures and r.verdict == REGRESSION}
    for ax, metric in zip(axes, measures, strict=True):
        title = (
            "service time p95 (end - start)"
            if metric == "service p95"
            else "latency p95 (end - intended)"
        )
        ax.set_title(title)
        rows = [by_key.get((n, metric)) for n in names]
        present = [r for r in rows if r is not None]
        if hide_if_empty(ax, present):
            continue
        filled = [r if r is not None else _EMPTY for r in rows]
        _errorbars(ax, y + 0.15, filled, "baseline", BASELINE_COLOUR)
        _errorbars(ax, y - 0.15, filled, "candidate", CANDIDATE_COLOUR)
        log_x(ax)
        ax.set_xlabel("ms (log)")
    axes[0].set_yticks(y, [short(n, 40) for n in names])
    for tick, name in zip(axes[0].get_yticklabels(), names, strict=True):
        if name in regressed:
            tick.set_color(BREACH_COLOUR)
    axes[0].invert_yaxis()
    axes[0].legend(loc="lower right")
    return to_svg(fig)


def kpi_chart(c: Comparison) -> str:
    """The headline KPIs' differences relative to the baseline, with their intervals."""
    rows = [r for r in c.rows if r.name in HEADLINE_KPIS and r.baseline]
    fig = figure(height=0.3 * max(len(rows), 2) + 1.2)
    ax = fig.add_subplot()
    ax.set_title("headline KPIs: candidate minus baseline, % of the baseline, with intervals")
    if hide_if_empty(ax, rows):
        return to_svg(fig)
    y = np.arange(len(rows), dtype=float)
    scale = np.array([100.0 / abs(r.baseline) for r in rows if r.baseline])
    mid = np.array([_or_nan(r.difference) for r in rows]) * scale
    lo = np.array([_or_nan(r.ci_low) for r in rows]) * scale
    hi = np.array([_or_nan(r.ci_high) for r in rows]) * scale
    err = np.vstack([np.nan_to_num(mid - lo), np.nan_to_num(hi - mid)]).clip(min=0.0)
    bad = np.array([r.verdict == REGRESSION for r in rows])
    for pick, colour in ((~bad, CANDIDATE_COLOUR), (bad, BREACH_COLOUR)):
        if pick.any():
            ax.errorbar(
                mid[pick], y[pick], xerr=err[:, pick], fmt="o", ms=4, color=colour, lw=1, capsize=2
            )
    ax.axvline(0.0, color="k", lw=0.6)
    # linear within +-10 %, logarithmic beyond: a KPI that grew 60-fold does not flatten the rest
    ax.set_xscale("symlog", linthresh=10.0)
    ax.set_yticks(y, [r.name for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("% of the baseline (symmetric log beyond +-10 %)")
    return to_svg(fig)


def render(c: Comparison) -> str:
    kind = "load-test" if c.kind == "loadtest" else "simulation"
    title = f"Comparison: {c.baseline} (baseline) vs {c.candidate} (candidate)"
    meta = [("kind", kind), ("baseline", c.baseline), ("candidate", c.candidate)]
    meta.append(("intervals", f"{c.confidence:.0%}"))
    if c.seed is not None:
        meta += [("bootstrap seed", str(c.seed)), ("resamples", str(c.resamples))]
    if c.regressions:
        verdict = (
            f'<div class="verdict fail" id="verdict">FAIL: {len(c.regressions)} regression(s) '
            "beyond tolerance</div>"
        )
    elif c.specs:
        verdict = (
            f'<div class="verdict pass" id="verdict">PASS: no regression beyond tolerance '
            f"({len(c.checked)} row(s) checked)</div>"
        )
    else:
        verdict = '<div class="verdict pass" id="verdict">No --max-regression set</div>'
    overview = Section("method", "Method").note(c.method)
    for n in c.notes:
        overview.note(f"Note: {n}")
    sections = [overview]
    if c.specs:
        checked = Section("tolerances", "Tolerances (--max-regression)")
        checked.note(
            "A regression is a difference whose whole interval lies beyond the tolerance; "
            "'worse' means the interval excludes zero on the worse side, within tolerance."
        )
        checked.raw(rows_html(c.checked))
        sections.append(checked)
    if c.kind == "loadtest":
        chart = Section("p95", "p95 per endpoint, baseline vs candidate").note(
            "Points: each run's p95 (its HdrHistogram); bars: each run's own bootstrap "
            "interval. Endpoint names in red regressed."
        )
        sections.append(chart.chart(p95_chart(c), "p95_per_endpoint"))
    else:
        sections.append(Section("kpis", "Headline KPIs").chart(kpi_chart(c), "kpi_differences"))
    every = Section("rows", "Every row").note(
        "difference = candidate - baseline; change = difference / baseline; shares in %, "
        "their differences in percentage points (pp)."
    )
    sections.append(every.raw(rows_html(c.rows)))
    return document(title, meta, verdict, sections)
