"""The one definition of a load run's latency percentiles: HdrHistograms (1 us to 1 h, three
significant digits) per endpoint and measure, recorded from the request rows as they are
flushed. Histograms of different processes merge exactly (``merge``: counts add up), so a
distributed run's percentiles are those of one histogram over every request, and the run's
``summary.json``, its report and the terminal all read them from here.

``quantize_ms`` and ``percentile_ms`` give the same percentile from an array of values (what a
bootstrap resamples), so an interval around a percentile agrees with the point value."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
DIGITS = 3
#: The measures a request row gives, as (name, end column, start column, clipped at zero).
MEASURES: tuple[tuple[str, str, str, bool], ...] = (
    ("service_ms", "end_ts", "start_ts", False),
    ("corrected_ms", "end_ts", "intended_ts", False),
    ("start_lateness_ms", "start_ts", "intended_ts", True),
    ("send_delay_ms", "start_ts", "ready_ts", True),
)
#: The key of the histograms over every endpoint, and of WebSocket delivery delays.
ALL = "*"
WS = "ws"
WS_MEASURE = "delay_ms"
PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)


def _micros(values_ms: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    finite = values_ms[np.isfinite(values_ms)]
    micros: np.ndarray[Any, Any] = np.clip(np.rint(finite * 1000.0), LOWEST_US, HIGHEST_US)
    return micros.astype(np.int64)


@dataclass
class Series:
    """One histogram, with the exact sum and maximum of what it holds: HdrHistogram's own mean
    and max are of bucket values; the mean and max we report are the true ones."""

    hist: HdrHistogram = field(default_factory=new_histogram)
    total_ms: float = 0.0
    max_ms: float = 0.0

    def record_ms(self, values_ms: np.ndarray[Any, Any]) -> None:
        finite = values_ms[np.isfinite(values_ms)]
        micros = _micros(finite)
        if not micros.size:
            return
        for value, count in zip(*np.unique(micros, return_counts=True), strict=True):
            self.hist.record_value(int(value), int(count))
        self.total_ms += float(finite.sum())
        self.max_ms = max(self.max_ms, float(finite.max()))

    @property
    def count(self) -> int:
        return int(self.hist.get_total_count())

    def add(self, other: Series) -> None:
        self.hist.add(other.hist)
        self.total_ms += other.total_ms
        self.max_ms = max(self.max_ms, other.max_ms)

    def encode(self) -> dict[str, Any]:
        return {
            "hist": self.hist.encode().decode("ascii"),
            "total_ms": self.total_ms,
            "max_ms": self.max_ms,
        }

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Series:
        hist = HdrHistogram.decode(data["hist"].encode("ascii"))
        return cls(hist, float(data["total_ms"]), float(data.get("max_ms", 0.0)))

    def block(self) -> dict[str, float]:
        """Percentiles (the histogram's), max and mean (exact) in milliseconds; empty when
        nothing was recorded."""
        n = self.count
        if not n:
            return {}
        by_p = self.hist.get_percentile_to_value_dict(list(PERCENTILES))
        out = {f"p{p:g}": by_p[p] / 1000.0 for p in PERCENTILES}
        out["max"] = self.max_ms
        out["mean"] = self.total_ms / n
        return out


class Histograms:
    """Histograms keyed by (endpoint, measure); endpoint ``*`` is every request."""

    def __init__(self) -> None:
        self.series: dict[tuple[str, str], Series] = {}

    def _get(self, endpoint: str, measure: str) -> Series:
        key = (endpoint, measure)
        s = self.series.get(key)
        if s is None:
            s = self.series[key] = Series()
        return s

    def add_requests(self, table: pa.Table) -> None:
        """Record a batch of request rows (``loadtest.tables.REQUESTS``)."""
        if not table.num_rows:
            return
        cols = {n: table.column(n).to_numpy(zero_copy_only=False) for n in
                ("intended_ts", "ready_ts", "start_ts", "end_ts")}  # fmt: skip
        endpoints = np.asarray(table.column("endpoint").to_pylist(), dtype=object)
        names, inverse = np.unique(endpoints.astype(str), return_inverse=True)
        for measure, end, start, clipped in MEASURES:
            ms = (cols[end].astype(float) - cols[start].astype(float)) * 1000.0
            if clipped:
                ms = np.clip(ms, 0.0, None)
            self._get(ALL, measure).record_ms(ms)
            for i, name in enumerate(names):
                self._get(str(name), measure).record_ms(ms[inverse == i])

    def add_ws(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        delays = table.column("delay_ms").to_numpy(zero_copy_only=False).astype(float)
        self._get(WS, WS_MEASURE).record_ms(np.clip(delays, 0.0, None))

    def merge(self, other: Histograms) -> None:
        for (endpoint, measure), s in other.series.items():
            self._get(endpoint, measure).add(s)

    def encode(self) -> dict[str, dict[str, Any]]:
        """JSON- and msgpack-safe: ``{"ENDPOINT|MEASURE": {"hist": base64, "total_ms": x}}``."""
        return {f"{e}|{m}": s.encode() for (e, m), s in sorted(self.series.items())}

    @classmethod
    def decode(cls, data: Mapping[str, Mapping[str, Any]]) -> Histograms:
        out = cls()
        for key, value in data.items():
            endpoint, _, measure = key.rpartition("|")
            out.series[(endpoint, measure)] = Series.decode(value)
        return out

    def endpoints(self) -> list[str]:
        return sorted({e for e, _ in self.series if e not in (ALL, WS)})

    def count(self, endpoint: str = ALL) -> int:
        s = self.series.get((endpoint, MEASURES[0][0]))
        return s.count if s is not None else 0

    def ws_count(self) -> int:
        s = self.series.get((WS, WS_MEASURE))
        return s.count if s is not None else 0

    def block(self, endpoint: str = ALL) -> dict[str, dict[str, float]]:
        """Every measure of one endpoint (or of all), as ``summary.json`` holds them."""
        return {
            m: (self.series[(endpoint, m)].block() if (endpoint, m) in self.series else {})
            for m, *_ in MEASURES
        }

    def ws_block(self) -> dict[str, float]:
        s = self.series.get((WS, WS_MEASURE))
        return s.block() if s is not None else {}


def from_tables(requests: pa.Table, ws_events: pa.Table | None = None) -> Histograms:
    h = Histograms()
    h.add_requests(requests)
    if ws_events is not None:
        h.add_ws(ws_events)
    return h


def quantize_ms(values_ms: Iterable[float] | np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Each value as the histogram holds it (the highest value of its bucket), in ms, so that
    ``percentile_ms`` of the result equals the histogram's percentile exactly. A value that is
    not finite stays NaN (the histogram would not hold it)."""
    values = np.asarray(values_ms, dtype=float)
    out = np.full(values.shape, np.nan)
    finite = np.isfinite(values)
    micros = _micros(values[finite])
    if micros.size:
        h = new_histogram()
        uniq, inverse = np.unique(micros, return_inverse=True)
        top = np.fromiter(
            (h.get_highest_equivalent_value(int(v)) for v in uniq), np.int64, uniq.size
        )
        out[finite] = top[inverse] / 1000.0
    return out


def nearest_rank(n: int, percentile: float) -> int:
    """HdrHistogram's rank of a percentile among ``n`` values (1-based, rounded half up)."""
    return max(1, int(min(percentile, 100.0) * n / 100.0 + 0.5))


def percentile_ms(quantized_ms: np.ndarray[Any, Any], percentile: float) -> float:
    """HdrHistogram's percentile (nearest rank) of quantized values; NaN values are left out."""
    values = quantized_ms[np.isfinite(quantized_ms)]
    if not values.size:
        return float("nan")
    rank = nearest_rank(values.size, percentile)
    return float(np.partition(values, rank - 1)[rank - 1])
