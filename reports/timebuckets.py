"""Time buckets and percentile column names shared by the load and simulation aggregations."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: Bucket widths (seconds) the automatic choice picks from, so axes read in round numbers.
NICE_BUCKETS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)
#: At most this many buckets per chart when the width is chosen automatically: enough for shape,
#: few enough that an hour-long run and a day-long one give pages of the same size.
MAX_BUCKETS = 200


def auto_bucket(span_s: float) -> float:
    for width in NICE_BUCKETS_S:
        if span_s / width <= MAX_BUCKETS:
            return float(width)
    return float(np.ceil(span_s / MAX_BUCKETS))


def pct_label(p: float) -> str:
    return f"p{p:g}"


def parse_percentiles(text: str) -> tuple[float, ...]:
    """``"50,95,99"`` → ``(50.0, 95.0, 99.0)``; errors say which item is wrong."""
    out: list[float] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            value = float(item.removeprefix("p"))
        except ValueError:
            raise ValueError(f"--percentiles: {item!r} is not a number (e.g. 50,95,99)") from None
        if not 0 < value < 100:
            raise ValueError(f"--percentiles: {item!r} must lie strictly between 0 and 100")
        out.append(value)
    if not out:
        raise ValueError("--percentiles: give at least one percentile, e.g. 50,95,99")
    return tuple(sorted(set(out)))


def bucket_index(ts: npt.NDArray[np.float64], t0: float, width: float) -> npt.NDArray[np.int64]:
    return np.floor((ts - t0) / width).astype(np.int64)
