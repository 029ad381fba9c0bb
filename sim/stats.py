"""Confidence intervals and warm-up detection for the simulation's summaries.

Replications are independent, orders within one replication are not (they share riders,
kitchens and the queue), so every interval here treats the *replication* as the unit of
information: a mean KPI gets a Student-t interval on the replication values, and a share pooled
over all orders gets a Wilson interval whose sample size is shrunk by the clustering the
replications reveal. The warm-up of a single run is found with MSER-5.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

FloatArray = np.ndarray[tuple[int], np.dtype[np.float64]]

MSER_BATCH = 5
#: Below this many observations MSER-5 has fewer than two batches to compare: no truncation.
MSER_MIN_OBSERVATIONS = 2 * MSER_BATCH


@dataclass(frozen=True, slots=True)
class Interval:
    """A point estimate with its confidence interval, in the form the summaries write out.

    ``n`` is the number of replications that contributed; the bounds are None when there is
    too little data for an interval (and ``mean`` is None when there is no data at all).
    """

    mean: float | None
    ci_low: float | None
    ci_high: float | None
    half_width: float | None
    n: int
    method: str

    def as_dict(self) -> dict[str, float | int | str | None]:
        """Exactly the keys summary.json carries for a KPI, so writers need not know the class."""
        return {
            "mean": self.mean,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "half_width": self.half_width,
            "n": self.n,
            "method": self.method,
        }


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be in (0, 1), got {level!r}")


def mean_interval(
    values: Sequence[float],
    level: float = 0.95,
    lo: float = -math.inf,
    hi: float = math.inf,
) -> Interval:
    """Student-t interval on replication values, clipped to the KPI's range ``[lo, hi]``.

    NaNs (e.g. a percentile of no orders) are dropped. Clipping keeps a wait or a count from
    showing a negative lower bound with few, skewed replications; ``half_width`` stays the
    unclipped t half-width so it still measures precision, and ``method`` says "t, clipped"
    when a bound was moved.
    """
    _check_level(level)
    if lo > hi:
        raise ValueError(f"empty range: lo={lo!r} > hi={hi!r}")
    xs = np.asarray(values, dtype=float).ravel()
    xs = xs[~np.isnan(xs)]
    n = int(xs.size)
    if n == 0:
        return Interval(None, None, None, None, 0, "t")
    mean = float(xs.mean())
    if n == 1:
        return Interval(mean, None, None, None, 1, "t")
    half = float(sps.t.ppf(0.5 + level / 2, n - 1) * xs.std(ddof=1) / math.sqrt(n))
    raw_low, raw_high = mean - half, mean + half
    # both bounds land inside [lo, hi], even if the mean itself were outside it
    ci_low = min(max(raw_low, lo), hi)
    ci_high = max(min(raw_high, hi), lo)
    clipped = ci_low != raw_low or ci_high != raw_high
    return Interval(mean, ci_low, ci_high, half, n, "t, clipped" if clipped else "t")


def _wilson(p: float, n: float, z: float) -> tuple[float, float]:
    """Wilson score bounds for share ``p`` of ``n`` (``n`` may be fractional: an effective size)."""
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denom
    spread = z * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denom
    # p = 0 (or 1) gives a bound of exactly 0 (or 1) in real arithmetic, not after rounding
    low = 0.0 if p <= 0.0 else max(0.0, centre - spread)
    high = 1.0 if p >= 1.0 else min(1.0, centre + spread)
    return low, high


def share_interval(
    successes: Sequence[float],
    trials: Sequence[float],
    level: float = 0.95,
) -> Interval:
    """A share pooled over replications (``successes[r]`` of ``trials[r]``), with a Wilson
    interval on an effective sample size.

    Orders in one replication are correlated, so the binomial sample size ``sum(trials)``
    overstates the information. Following Korn & Graubard (1998, Survey Methodology 24:193-201),
    the Wilson score interval is computed on an effective sample size ``sum(trials) / deff``.
    Kish's design effect is ``ratio`` = the between-replication variance of the pooled share
    (the ratio-estimator variance with replications as clusters; for equal ``trials``, the sample
    variance of the per-replication shares over R) / the binomial variance
    ``p(1-p)/sum(trials)``, and ``deff = max(1, ratio)`` is what ``method`` reports. Because the
    variance has only R-1 degrees of freedom, the size used also carries Korn & Graubard's
    degrees-of-freedom factor: ``n_eff = min(sum(trials), (z / t_{R-1})**2 * sum(trials) /
    ratio)``; without it five replications under-cover (about 89 % for a 95 % interval), and
    the cap keeps it from ever being narrower than the binomial (deff = 1) interval. A single
    replication has no between-replication variance: plain Wilson. Replications with no trials
    (or NaN) are skipped. ``half_width`` is half the (asymmetric) interval's length.
    """
    _check_level(level)
    ks = np.asarray(successes, dtype=float).ravel()
    ns = np.asarray(trials, dtype=float).ravel()
    if ks.shape != ns.shape:
        raise ValueError(f"{ks.size} success counts for {ns.size} trial counts")
    keep = ~(np.isnan(ks) | np.isnan(ns)) & (ns != 0)
    ks, ns = ks[keep], ns[keep]
    if np.any(ns < 0) or np.any(ks < 0) or np.any(ks > ns):
        raise ValueError("need 0 <= successes <= trials in every replication")
    r = int(ns.size)
    if r == 0:
        return Interval(None, None, None, None, 0, "wilson")
    total = float(ns.sum())
    p = float(ks.sum()) / total
    z = float(sps.norm.ppf(0.5 + level / 2))
    if r == 1:
        low, high = _wilson(p, total, z)
        return Interval(p, low, high, (high - low) / 2, 1, "wilson")
    weights = ns / total
    observed = r / (r - 1) * float(np.sum(weights**2 * (ks / ns - p) ** 2))
    binomial = p * (1.0 - p) / total
    # p of 0 or 1: every replication agrees exactly, so there is no sign of clustering
    ratio = observed / binomial if binomial > 0 else 0.0
    deff = max(1.0, ratio)
    t = float(sps.t.ppf(0.5 + level / 2, r - 1))
    n_eff = min(total, total / ratio * (z / t) ** 2) if ratio > 0 else total
    low, high = _wilson(p, n_eff, z)
    return Interval(p, low, high, (high - low) / 2, r, f"wilson, deff={deff:.2f}")


def mser5(series: Sequence[float]) -> int:
    """MSER-5 truncation point, in observations (White 1997; White, Cobb & Spratt 2000).

    Batch means of 5 observations smooth the noise; for each candidate truncation ``d`` (in
    batches, over the first half so at least half the data stays) the rule scores the remaining
    m-d batch means by ``sum of squared deviations / (m-d)**2`` and keeps the earliest
    minimiser: the cut after which the mean is estimated most precisely, i.e. once the transient
    has stopped inflating the variance. Returns ``d * 5``; a leftover partial batch at the end
    is ignored, and fewer than 10 observations give 0.
    """
    return _mser5(np.asarray(series, dtype=float).ravel())


def _mser5(xs: FloatArray) -> int:
    if not np.all(np.isfinite(xs)):
        raise ValueError("MSER-5 needs finite observations (drop the NaNs first)")
    if xs.size < MSER_MIN_OBSERVATIONS:
        return 0
    m = xs.size // MSER_BATCH
    batches: FloatArray = xs[: m * MSER_BATCH].reshape(m, MSER_BATCH).mean(axis=1)
    batches = batches - batches.mean()  # centred, so the suffix sums below do not cancel
    count = np.arange(m, 0, -1, dtype=float)  # batches left after truncating d = 0..m-1
    suffix_sum = np.cumsum(batches[::-1])[::-1]
    suffix_sq = np.cumsum((batches * batches)[::-1])[::-1]
    squared_dev = np.maximum(suffix_sq - suffix_sum * suffix_sum / count, 0.0)
    candidates = (m + 1) // 2  # d < m/2
    score = squared_dev[:candidates] / count[:candidates] ** 2
    best = float(score.min())
    # earliest of the (numerically) tied minimisers
    d = int(np.flatnonzero(score <= best + 1e-12 * abs(best))[0])
    return d * MSER_BATCH


def suggested_warmup(times: Sequence[float], values: Sequence[float]) -> float:
    """Warm-up length (in the units of ``times``) that MSER-5 suggests for a sampled KPI.

    Samples whose value is NaN (e.g. a window with no orders) are left out before MSER-5 runs;
    the length is measured from the first sample time, so it can be passed straight on as the
    scenario's warm-up when sampling starts at the run's start.
    """
    ts = np.asarray(times, dtype=float).ravel()
    vs = np.asarray(values, dtype=float).ravel()
    if ts.shape != vs.shape:
        raise ValueError(f"{ts.size} sample times for {vs.size} values")
    if ts.size == 0:
        return 0.0
    keep = ~np.isnan(vs)
    if not keep.any():
        return 0.0
    index = _mser5(vs[keep])
    return float(ts[keep][index] - ts[0])
