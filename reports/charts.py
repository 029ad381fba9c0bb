"""Matplotlib figures rendered to inline SVG, byte-identical for the same data.

SVG keeps the page self-contained (no files, no network) and sharp when zoomed; text stays text,
which keeps the page small. Determinism: the SVG id salt and the metadata are pinned, so
re-running a report on the same run directory gives the same bytes.
"""

from __future__ import annotations

import io
import weakref
from collections.abc import Iterable, Sized
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullLocator

STYLE: Any = {
    "svg.hashsalt": "orderflow-report",
    "svg.fonttype": "none",
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 8,
    "legend.frameon": False,
}
BREACH_COLOUR = "#d62728"
#: Figures laid out with fixed margins (grids of panels), which ``to_svg`` must not re-layout.
_FIXED_LAYOUT: weakref.WeakSet[Figure] = weakref.WeakSet()
SLA_COLOUR = "#d62728"


def figure(width: float = 9.0, height: float = 3.2) -> Figure:
    with plt.rc_context(STYLE):
        return plt.figure(figsize=(width, height))


def grid(
    n: int, cols: int = 3, cell_h: float = 2.2, width: float = 11.0
) -> tuple[Figure, list[Axes]]:
    """A grid of small multiples, one per item; unused cells are hidden."""
    cols = max(1, min(cols, n))
    rows = max(1, -(-n // cols))
    height = cell_h * rows + 0.4
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(rows, cols, figsize=(width, height), squeeze=False)
    # Fixed margins instead of tight_layout, which is slow on a grid of many panels.
    fig.subplots_adjust(
        left=0.07, right=0.98, bottom=0.55 / height, top=1 - 0.35 / height, wspace=0.3, hspace=0.75
    )
    _FIXED_LAYOUT.add(fig)
    flat = [ax for row in axes for ax in row]
    for ax in flat:
        # Few ticks per small panel: tick drawing dominates the cost of a grid of panels.
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.yaxis.set_major_locator(MaxNLocator(4))
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def to_svg(fig: Figure) -> str:
    """The figure as an ``<svg>`` element (no XML prolog), with pinned metadata."""
    buf = io.StringIO()
    with plt.rc_context(STYLE):
        if fig not in _FIXED_LAYOUT:
            fig.tight_layout()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "orderflow report"})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def log_x(ax: Axes) -> None:
    """Log x axis with decade ticks only (minor log ticks are slow to draw and add nothing)."""
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())


def shade(
    ax: Axes, intervals: Iterable[tuple[float, float]], scale: float, label: bool = True
) -> None:
    """Shade breach intervals (seconds since start, divided by ``scale`` for the axis unit)."""
    first = True
    for start, end in intervals:
        ax.axvspan(
            start / scale,
            end / scale,
            color=BREACH_COLOUR,
            alpha=0.15,
            lw=0,
            label="threshold breached" if first and label else None,
        )
        first = False


def time_axis(span_s: float) -> tuple[float, str]:
    """Divisor and label for an elapsed-time axis that reads well for the run's length."""
    if span_s <= 300:
        return 1.0, "elapsed (s)"
    if span_s <= 6 * 3600:
        return 60.0, "elapsed (min)"
    return 3600.0, "elapsed (h)"


def short(name: str, limit: int = 46) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def hide_if_empty(ax: Axes, values: Sized, message: str = "no data") -> bool:
    if len(values):
        return False
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
    return True
