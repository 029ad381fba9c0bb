"""The interval methods cover what they claim to, and MSER-5 finds a known transient."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.stats import Interval, mean_interval, mser5, share_interval, suggested_warmup

SEEDS = range(1000)  # coverage is estimated to +-0.7 percentage points (one standard error)
REPLICATIONS = 5
KEYS = {"mean", "ci_low", "ci_high", "half_width", "n", "method"}


# --- mean_interval -------------------------------------------------------------------------


def test_mean_interval_covers_a_skewed_kpi_and_never_leaves_its_range() -> None:
    # gamma with skewness 1.15, non-negative like a wait. The t interval on 5 replications truly
    # covers ~92.7 % here (an exponential KPI would get ~88 %): skew costs coverage at small n.
    shape, scale = 3.0, 2.0
    true_mean = shape * scale
    covered = 0
    clipped = 0
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        ci = mean_interval(rng.gamma(shape, scale, REPLICATIONS).tolist(), lo=0.0)
        assert ci.ci_low is not None and ci.ci_high is not None
        assert ci.ci_low >= 0.0
        assert ci.n == REPLICATIONS
        covered += ci.ci_low <= true_mean <= ci.ci_high
        clipped += ci.method == "t, clipped"
    assert 0.90 <= covered / len(SEEDS) <= 0.99
    assert clipped > 0  # the clipping was actually exercised by this distribution


def test_mean_interval_matches_student_t() -> None:
    ci = mean_interval([1.0, 2.0, 3.0, 4.0])
    half = 3.182446305284263 * math.sqrt(5 / 3) / 2  # t_{0.975, 3} * s / sqrt(n)
    assert ci.mean == pytest.approx(2.5)
    assert ci.half_width == pytest.approx(half)
    assert ci.ci_low == pytest.approx(2.5 - half)
    assert ci.ci_high == pytest.approx(2.5 + half)
    assert ci.method == "t"


def test_mean_interval_clipping_keeps_the_unclipped_half_width() -> None:
    ci = mean_interval([0.0, 0.1, 5.0], lo=0.0, hi=4.0)
    assert ci.method == "t, clipped"
    assert ci.ci_low == 0.0 and ci.ci_high == 4.0
    assert ci.half_width is not None and ci.mean is not None
    assert ci.half_width > ci.mean  # the raw interval went below zero


def test_mean_interval_drops_nans_and_handles_tiny_samples() -> None:
    assert mean_interval([math.nan, 2.0, math.nan, 4.0]) == mean_interval([2.0, 4.0])
    assert mean_interval([]) == Interval(None, None, None, None, 0, "t")
    assert mean_interval([math.nan]) == Interval(None, None, None, None, 0, "t")
    assert mean_interval([3.0, math.nan]) == Interval(3.0, None, None, None, 1, "t")


def test_mean_interval_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        mean_interval([1.0, 2.0], level=1.0)
    with pytest.raises(ValueError):
        mean_interval([1.0, 2.0], lo=1.0, hi=0.0)


def test_as_dict_has_exactly_the_summary_keys() -> None:
    assert set(mean_interval([1.0, 2.0]).as_dict()) == KEYS
    assert mean_interval([]).as_dict() == {
        "mean": None,
        "ci_low": None,
        "ci_high": None,
        "half_width": None,
        "n": 0,
        "method": "t",
    }


# --- share_interval ------------------------------------------------------------------------


def _clustered(rng: np.random.Generator, p: float, orders: int) -> tuple[list[int], list[int]]:
    """Replications whose own share p_r scatters around p (Beta, sd ~0.06), as a busy day or
    a short fleet shifts every order of one replication together."""
    concentration = 40.0
    p_r = rng.beta(p * concentration, (1 - p) * concentration, REPLICATIONS)
    return rng.binomial(orders, p_r).tolist(), [orders] * REPLICATIONS


def test_share_interval_covers_clustered_shares_where_plain_wilson_does_not() -> None:
    p, orders = 0.2, 400
    covered = 0
    naive_covered = 0
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        k, n = _clustered(rng, p, orders)
        ci = share_interval(k, n)
        naive = share_interval([sum(k)], [sum(n)])  # one pooled "replication": deff = 1
        assert ci.ci_low is not None and ci.ci_high is not None
        assert naive.ci_low is not None and naive.ci_high is not None
        assert 0.0 <= ci.ci_low <= ci.ci_high <= 1.0
        assert 0.0 <= naive.ci_low <= naive.ci_high <= 1.0
        assert ci.mean == pytest.approx(sum(k) / sum(n))
        assert ci.n == REPLICATIONS
        assert ci.method.startswith("wilson, deff=")
        covered += ci.ci_low <= p <= ci.ci_high
        naive_covered += naive.ci_low <= p <= naive.ci_high
    assert 0.90 <= covered / len(SEEDS) <= 0.99
    assert naive_covered / len(SEEDS) < 0.80  # ignoring the design effect badly under-covers


def test_share_interval_without_clustering_is_close_to_plain_wilson() -> None:
    rng = np.random.default_rng(7)
    k = rng.binomial(1000, 0.3, REPLICATIONS).tolist()
    n = [1000] * REPLICATIONS
    ci = share_interval(k, n)
    naive = share_interval([sum(k)], [sum(n)])
    assert ci.half_width is not None and naive.half_width is not None
    # never narrower than the binomial interval; at most the degrees-of-freedom factor wider
    assert naive.half_width <= ci.half_width * (1 + 1e-9)
    assert ci.half_width <= naive.half_width * 1.5


def test_share_interval_single_replication_is_plain_wilson() -> None:
    ci = share_interval([30], [100])
    assert ci.method == "wilson" and ci.n == 1
    assert ci.ci_low == pytest.approx(0.21895, abs=1e-5)  # Wilson for 30/100
    assert ci.ci_high == pytest.approx(0.39585, abs=1e-5)


def test_share_interval_zero_successes_has_a_positive_upper_bound() -> None:
    for k, n in (([0], [50]), ([0, 0, 0], [40, 60, 50])):
        ci = share_interval(k, n)
        assert ci.mean == 0.0
        assert ci.ci_low == 0.0
        assert ci.ci_high is not None and 0.0 < ci.ci_high < 0.1
    all_successes = share_interval([50, 60], [50, 60])
    assert all_successes.ci_high == 1.0
    assert all_successes.ci_low is not None and 0.9 < all_successes.ci_low < 1.0


def test_share_interval_skips_replications_without_trials() -> None:
    assert share_interval([3, 0, 5], [10, 0, 20]) == share_interval([3, 5], [10, 20])
    assert share_interval([3, math.nan], [10, 20]) == share_interval([3], [10])
    assert share_interval([0, 0], [0, 0]) == Interval(None, None, None, None, 0, "wilson")
    assert share_interval([], []).as_dict()["mean"] is None


def test_share_interval_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError):
        share_interval([5], [4])
    with pytest.raises(ValueError):
        share_interval([1, 2], [3])


# --- MSER-5 --------------------------------------------------------------------------------


def _transient(rng: np.random.Generator) -> list[float]:
    """50 observations decaying from 10 above the steady level (gone after ~30), then 450
    stationary ones, all with unit noise."""
    t = np.arange(500)
    offset = np.where(t < 50, 10.0 * np.exp(-t / 10.0), 0.0)
    values: list[float] = (offset + rng.normal(0.0, 1.0, t.size)).tolist()
    return values


def test_mser5_truncates_near_the_end_of_a_known_transient() -> None:
    cuts = np.array([mser5(_transient(np.random.default_rng(seed))) for seed in range(40)])
    assert np.all(cuts % 5 == 0)
    assert np.all(cuts >= 15)  # never keeps the biased start
    assert np.mean(cuts <= 80) >= 0.9
    assert 15 <= np.median(cuts) <= 80
    assert 15 <= mser5(_transient(np.random.default_rng(2024))) <= 80


def test_mser5_barely_truncates_a_stationary_series() -> None:
    cuts = np.array(
        [mser5(np.random.default_rng(seed).normal(5.0, 1.0, 500).tolist()) for seed in range(40)]
    )
    assert np.median(cuts) < 25
    assert np.mean(cuts < 25) >= 0.8
    assert np.all(cuts <= 250)  # at most the first half is considered
    assert mser5([3.0] * 100) == 0  # ties go to the earliest truncation


def test_mser5_needs_ten_observations_and_finite_values() -> None:
    assert mser5([]) == 0
    assert mser5([100.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]) == 0
    assert mser5([100.0] * 5 + [0.0, 1.0, 0.0, 1.0, 0.0] * 3) == 5
    with pytest.raises(ValueError):
        mser5([1.0] * 9 + [math.nan] + [1.0] * 10)


def test_suggested_warmup_reports_time_of_the_truncation() -> None:
    values = _transient(np.random.default_rng(2024))
    times = [60.0 + 2.0 * i for i in range(len(values))]  # a sample every 2 minutes from 60
    index = mser5(values)
    assert suggested_warmup(times, values) == pytest.approx(2.0 * index)
    # NaN samples are left out; the length is still measured from the first sample time
    with_gap = [math.nan] * 5 + values
    gap_times = [60.0 + 2.0 * i for i in range(len(with_gap))]
    assert suggested_warmup(gap_times, with_gap) == pytest.approx(2.0 * (index + 5))
    assert suggested_warmup([], []) == 0.0
    assert suggested_warmup([0.0, 1.0], [math.nan, math.nan]) == 0.0
    with pytest.raises(ValueError):
        suggested_warmup([0.0, 1.0], [1.0])
