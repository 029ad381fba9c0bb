"""A cluster bootstrap of a load run's HdrHistogram percentiles and rates, vectorised with NumPy.

Requests of one journey are correlated (one order, one rider, one stretch of the run), so a
resample draws whole journeys with replacement, not requests. A resample is then a vector of
journey weights (how often each was drawn), and a percentile of it is the nearest-rank
percentile of the quantized values weighted by their journey's count: the rule of
``loadtest.hdr.percentile_ms``, so with every weight 1 it is exactly the run's own percentile.
Values are quantized once (``hdr.quantize_ms``) and grouped by journey and distinct value in a
sparse matrix, so a block of resamples is one sparse product and one cumulative sum instead of
a sort per resample, and thousands of resamples of a large run take seconds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from loadtest import hdr

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]
#: Resamples are drawn in blocks of at most this many rows, and this many journey weights.
BLOCK_ROWS = 250
BLOCK_CELLS = 2_000_000


def weight_blocks(rng: np.random.Generator, clusters: int, resamples: int) -> Iterator[FloatArray]:
    """Blocks of resamples, each row the draw counts of every cluster (summing to ``clusters``).
    Block sizes depend only on the two counts, so a seed gives the same draws on any machine."""
    rows = max(1, min(BLOCK_ROWS, BLOCK_CELLS // max(clusters, 1)))
    done = 0
    while done < resamples:
        b = min(rows, resamples - done)
        if clusters == 0:
            yield np.zeros((b, 0))
        else:
            picks = rng.integers(0, clusters, size=(b, clusters))
            picks += (np.arange(b, dtype=np.int64) * clusters)[:, None]
            counts = np.bincount(picks.ravel(), minlength=b * clusters)
            yield counts.reshape(b, clusters).astype(np.float64)
        done += b


@dataclass(frozen=True)
class QuantileSample:
    """Quantized values of one measure, by cluster: what each resample re-weights."""

    quantized: FloatArray  # every value as the histogram holds it (ms), in row order
    levels: FloatArray  # the distinct quantized values, ascending
    by_level: sparse.csr_array  # levels x clusters: how many values of each cluster per level

    @classmethod
    def build(cls, values_ms: FloatArray, cluster: IntArray, clusters: int) -> QuantileSample:
        keep = np.isfinite(values_ms)
        quantized = hdr.quantize_ms(values_ms[keep])
        levels, level = np.unique(quantized, return_inverse=True)
        ones = np.ones(quantized.size)
        by_level = sparse.csr_array(
            (ones, (level.astype(np.int64), cluster[keep])), shape=(levels.size, clusters)
        )
        by_level.sum_duplicates()
        return cls(quantized, levels, by_level)

    @property
    def count(self) -> int:
        return int(self.quantized.size)

    @property
    def clusters(self) -> int:
        """How many clusters hold a value: below a handful, resamples only repeat them."""
        return int(np.count_nonzero(np.asarray(self.by_level.sum(axis=0))))

    def point(self, percentile: float) -> float:
        """The run's own percentile (what its ``summary.json`` reports)."""
        return hdr.percentile_ms(self.quantized, percentile)

    def resampled(self, weights: FloatArray, percentiles: Sequence[float]) -> FloatArray:
        """``len(percentiles) x len(weights)``: each resample's percentiles (NaN when it drew no
        cluster with a value)."""
        out = np.full((len(percentiles), weights.shape[0]), np.nan)
        if not self.levels.size:
            return out
        cum = np.cumsum(self.by_level @ weights.T, axis=0)  # levels x resamples
        total = cum[-1]
        has = total > 0
        for i, p in enumerate(percentiles):
            # hdr.percentile_ms's rank, with the same floating-point operations
            rank = np.maximum(1.0, np.floor(min(p, 100.0) * total / 100.0 + 0.5))
            idx = np.minimum((cum < rank).sum(axis=0), self.levels.size - 1)
            out[i] = np.where(has, self.levels[idx], np.nan)
        return out


@dataclass(frozen=True)
class RatioSample:
    """Numerators and denominators by cluster (errors of requests, failed journeys): a
    resample's ratio is the weighted sum of one over the weighted sum of the other."""

    numerator: FloatArray  # clusters x series
    denominator: FloatArray  # clusters x series

    def point(self) -> FloatArray:
        return _ratio(self.numerator.sum(axis=0), self.denominator.sum(axis=0))

    def clusters(self) -> IntArray:
        """Per series, how many clusters have a denominator."""
        out: IntArray = np.count_nonzero(self.denominator > 0, axis=0).astype(np.int64)
        return out

    def resampled(self, weights: FloatArray) -> FloatArray:
        """``series x resamples``."""
        return _ratio(weights @ self.numerator, weights @ self.denominator).T

    def totals(self, weights: FloatArray) -> FloatArray:
        """``series x resamples``: the weighted denominators (request counts, for a rate)."""
        out: FloatArray = (weights @ self.denominator).T
        return out


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        out: FloatArray = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return out


def interval(draws: FloatArray, confidence: float) -> tuple[float | None, float | None]:
    """The percentile interval of bootstrap draws (NaN draws, resamples without the metric,
    left out); None when there are none."""
    finite = draws[np.isfinite(draws)]
    if not finite.size:
        return None, None
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(finite, [tail, 1.0 - tail])
    return float(lo), float(hi)
