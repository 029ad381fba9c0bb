"""Two load-test runs side by side: per endpoint and over all requests, the HdrHistogram
percentiles of service time (end - start) and of latency from the intended start (end -
intended, corrected for coordinated omission), the error rate and the throughput, plus the
failed share of journeys and the WebSocket delivery delay; each with a bootstrap interval of
the candidate's difference from the baseline.

Point values are the runs' own numbers (``loadtest.hdr``: what ``summary.json`` reports), and
the intervals resample whole journeys of each run independently (``reports.bootstrap``), with
a seed, so the same two runs give the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reports import bootstrap
from reports.bootstrap import FloatArray, IntArray, QuantileSample, RatioSample
from reports.compare_rows import Row
from reports.compare_spec import Direction, RegressionSpec, Scale, pick
from reports.loadrun import SUCCESS_OUTCOMES, error_flags
from reports.rundir import RunDir, RunDirError
from reports.timebuckets import pct_label
from scenarios.thresholds import ThresholdError

PERCENTILES = (50.0, 90.0, 95.0, 99.0)
#: Names beside the endpoints: every request together, journeys, WebSocket events.
REQUESTS, JOURNEYS, WS_DELAY = "requests", "journeys", "ws_delay"
ERROR_RATE, THROUGHPUT, FAILED_SHARE = "error rate", "throughput", "failed share"
TABLES = ("requests.parquet", "journeys.parquet", "ws_events.parquet")
#: Below this many journeys with a metric in either run, its resamples only shuffle the same
#: few values (one request resampled is always itself): the row gets no interval.
MIN_JOURNEYS = 5
REQUEST_COLUMNS = ("intended_ts", "start_ts", "end_ts", "endpoint", "status", "journey_id")
Key = tuple[str, str]


@dataclass
class LoadSample:
    """One run reduced to what the bootstrap re-weights: clusters are its journeys."""

    clusters: int
    endpoints: list[str]  # ascending; REQUESTS is every request together
    span_s: float
    durations: dict[Key, QuantileSample] = field(default_factory=dict)  # (name, measure)
    requests: RatioSample | None = None  # errors / requests; series: endpoints, then REQUESTS
    journeys: RatioSample | None = None  # failed / journeys; one series


def _cluster_ids(req: pd.DataFrame, journeys: pd.DataFrame, ws_ids: pd.Series) -> pd.Index:
    ids = set(req["journey_id"]) | set(journeys["journey_id"].astype(str)) | set(ws_ids)
    return pd.Index(sorted(ids))


def read_sample(run: RunDir) -> LoadSample:
    """Read a load run's tables into a :class:`LoadSample`; a missing table or column is a
    ``RunDirError`` naming the directory."""
    for name in TABLES:
        if not run.has(name):
            raise RunDirError(
                f"run directory {run.path} has no {name}; compare needs {', '.join(TABLES)} "
                "of a finished load test"
            )
    have = run.columns("requests.parquet")
    cols = [*REQUEST_COLUMNS, *(c for c in ("error", "order_id", "journey") if c in have)]
    req = run.table("requests.parquet", cols)
    if req.empty:
        raise RunDirError(
            f"{run.file('requests.parquet')}: has no rows; the load test sent no request"
        )
    # a request no journey claims is a cluster of its own
    jid = req["journey_id"].astype(object)
    lone = jid.isna()
    req["journey_id"] = jid.where(~lone, [f"request {i}" for i in range(len(req))]).astype(str)
    jrn = run.table("journeys.parquet", ["journey_id", "outcome"])
    ws = run.table("ws_events.parquet", ["order_id", "delay_ms"])
    ws_ids = _ws_clusters(req, ws)
    ids = _cluster_ids(req, jrn, ws_ids)
    cluster: IntArray = ids.get_indexer(pd.Index(req["journey_id"])).astype(np.int64)
    n = len(ids)

    intended = req["intended_ts"].to_numpy(np.float64)
    start = req["start_ts"].to_numpy(np.float64)
    end = req["end_ts"].to_numpy(np.float64)
    values = {"service": (end - start) * 1000.0, "latency": (end - intended) * 1000.0}
    endpoint = req["endpoint"].astype(str).to_numpy()
    names, ep = np.unique(endpoint, return_inverse=True)
    sample = LoadSample(n, [str(x) for x in names], _span(intended, end))
    for measure, ms in values.items():
        sample.durations[(REQUESTS, measure)] = QuantileSample.build(ms, cluster, n)
        for i, name in enumerate(sample.endpoints):
            rows = ep == i
            sample.durations[(name, measure)] = QuantileSample.build(ms[rows], cluster[rows], n)
    delay = np.clip(ws["delay_ms"].to_numpy(np.float64), 0.0, None)
    ws_cluster = ids.get_indexer(pd.Index(ws_ids)).astype(np.int64)
    sample.durations[(WS_DELAY, "delay")] = QuantileSample.build(delay, ws_cluster, n)

    series = len(names) + 1
    errors = error_flags(req).to_numpy(bool)
    cells = cluster * series
    counts = np.bincount(cells + ep, minlength=n * series).reshape(n, series).astype(float)
    errs = np.bincount(cells + ep, weights=errors, minlength=n * series).astype(np.float64)
    errs = errs.reshape(n, series)
    counts[:, -1] = counts[:, :-1].sum(axis=1)
    errs[:, -1] = errs[:, :-1].sum(axis=1)
    sample.requests = RatioSample(errs, counts)

    j_cluster = ids.get_indexer(pd.Index(jrn["journey_id"].astype(str)))
    failed = ~jrn["outcome"].astype(str).str.lower().isin(SUCCESS_OUTCOMES).to_numpy(bool)
    started = np.bincount(j_cluster, minlength=n).astype(float)[:, None]
    fails = np.bincount(j_cluster, weights=failed, minlength=n).astype(np.float64)[:, None]
    sample.journeys = RatioSample(fails, started)
    return sample


def _span(intended: FloatArray, end: FloatArray) -> float:
    """The run's length as its report measures it: first intended start to last response."""
    return max(float(np.nanmax(end)) - float(np.nanmin(intended)), 1e-9)


def _ws_clusters(req: pd.DataFrame, ws: pd.DataFrame) -> pd.Series:
    """Each WebSocket event's journey: the order's own journey (not a background poller's),
    else the order itself as a cluster."""
    if "order_id" not in req.columns:
        return "order " + ws["order_id"].astype(str)
    own = req[req["order_id"].notna()]
    if "journey" in own.columns:
        own = own.sort_values("journey", key=lambda s: s.astype(str) == "background", kind="stable")
    first = own.drop_duplicates("order_id").set_index("order_id")["journey_id"]
    mapped = ws["order_id"].map(first)
    return mapped.where(mapped.notna(), "order " + ws["order_id"].astype(str)).astype(str)


@dataclass
class Measured:
    """One run's figures: point values and the bootstrap draws of each (name, metric)."""

    points: dict[Key, float] = field(default_factory=dict)
    draws: dict[Key, FloatArray] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    clusters: dict[Key, int] = field(default_factory=dict)  # journeys with a value, per figure


def measure(
    s: LoadSample, percentiles: Sequence[float], rng: np.random.Generator, resamples: int
) -> Measured:
    """Point values and ``resamples`` bootstrap draws of every figure of one run."""
    out = Measured()
    labels = [pct_label(p) for p in percentiles]
    for (name, m), q in s.durations.items():
        for p, label in zip(percentiles, labels, strict=True):
            out.points[(name, f"{m} {label}")] = q.point(p)
            out.clusters[(name, f"{m} {label}")] = q.clusters
        out.counts[name] = q.count
    assert s.requests is not None and s.journeys is not None
    names = [*s.endpoints, REQUESTS]
    rates = s.requests.point()
    totals = s.requests.denominator.sum(axis=0)
    having = s.requests.clusters()
    for i, name in enumerate(names):
        out.points[(name, ERROR_RATE)] = float(rates[i])
        out.points[(name, THROUGHPUT)] = float(totals[i]) / s.span_s
        out.clusters[(name, ERROR_RATE)] = out.clusters[(name, THROUGHPUT)] = int(having[i])
    out.points[(JOURNEYS, FAILED_SHARE)] = float(s.journeys.point()[0])
    out.clusters[(JOURNEYS, FAILED_SHARE)] = int(s.journeys.clusters()[0])
    out.counts[JOURNEYS] = int(s.journeys.denominator.sum())

    parts: dict[Key, list[FloatArray]] = {k: [] for k in out.points}
    for w in bootstrap.weight_blocks(rng, s.clusters, resamples):
        for (name, m), q in s.durations.items():
            draws = q.resampled(w, percentiles)
            for i, label in enumerate(labels):
                parts[(name, f"{m} {label}")].append(draws[i])
        rate = s.requests.resampled(w)
        count = s.requests.totals(w)
        for i, name in enumerate(names):
            parts[(name, ERROR_RATE)].append(rate[i])
            parts[(name, THROUGHPUT)].append(count[i] / s.span_s)
        parts[(JOURNEYS, FAILED_SHARE)].append(s.journeys.resampled(w)[0])
    out.draws = {k: np.concatenate(v) if v else np.zeros(0) for k, v in parts.items()}
    return out


def _scale(metric: str) -> Scale:
    if metric in (ERROR_RATE, FAILED_SHARE):
        return Scale.FRACTION
    if metric == THROUGHPUT:
        return Scale.NUMBER
    return Scale.DURATION_MS


def _direction(metric: str) -> Direction:
    # fewer requests answered per second is worse; every other figure is worse higher
    return Direction.LOWER_IS_WORSE if metric == THROUGHPUT else Direction.HIGHER_IS_WORSE


def _order(key: Key, endpoints: list[str]) -> tuple[int, str, int, float]:
    """Endpoints by name, then every request, journeys and WebSocket; within a name,
    service, latency, error rate, throughput, failed share, delay; percentiles ascending."""
    name, metric = key
    group = 0 if name in endpoints else {REQUESTS: 1, JOURNEYS: 2, WS_DELAY: 3}.get(name, 4)
    kind, _, pct = metric.partition(" p")
    order = {"service": 0, "latency": 1, ERROR_RATE: 2, THROUGHPUT: 3, FAILED_SHARE: 4}
    rank = order.get(kind if pct else metric, 5)
    return group, name, rank, float(pct) if pct else 0.0


OVERALL_NAMES = (REQUESTS, "latency", "errors", JOURNEYS, WS_DELAY)


def targets(spec: RegressionSpec, endpoints: Sequence[str]) -> list[tuple[Key, int]]:
    """The rows a spec governs, each with its specificity (2 a name, 1 ``*``); an unknown name,
    or an aggregation the metric does not have, is an error naming the flag."""
    name, agg, measure_ = spec.name, spec.aggregation, spec.measure
    where = spec.where
    if name != "*" and name not in endpoints and name not in OVERALL_NAMES:
        from reference_api.endpoints import ENDPOINTS

        if name in {e.name for e in ENDPOINTS.values()}:
            raise ThresholdError(
                f"{where}: neither run has requests to endpoint {name!r}; they have "
                f"{', '.join(endpoints)}"
            )
        raise ThresholdError(
            f"{where}: unknown metric {name!r}; a load-test comparison can name an endpoint of "
            f"the runs ({', '.join(endpoints)}), '*' (each endpoint), requests, latency, errors, "
            "journeys or ws_delay"
        )
    if agg is None:
        raise ThresholdError(
            f"{where}: a load-test metric needs an aggregation before the tolerance: pNN for "
            "a duration (e.g. 'p95 +10%'), rate for errors (e.g. 'rate +1pp')"
        )
    if agg == "avg":
        raise ThresholdError(
            f"{where}: compare reads a load run's percentiles (pNN, med) and rates, not 'avg'"
        )
    pct = spec.percentile
    label = None if pct is None else pct_label(pct)

    def endpoint_key(ep: str) -> Key:
        return (ep, ERROR_RATE) if agg == "rate" else (ep, f"{measure_ or 'service'} {label}")

    if name == "*":
        return [(endpoint_key(ep), 1) for ep in endpoints]
    if name in endpoints or name == REQUESTS:
        return [(endpoint_key(name), 2)]
    if name == "latency":
        if agg == "rate" or measure_ == "service":
            raise ThresholdError(
                f"{where}: 'latency' is every request's latency from the intended start; give "
                "it a percentile (e.g. 'p99 +10%'), or name 'requests' or 'errors'"
            )
        return [((REQUESTS, f"latency {label}"), 2)]
    if name == "errors":
        if agg != "rate":
            raise ThresholdError(f"{where}: 'errors' is a rate; write e.g. 'errors=rate +1pp'")
        return [((REQUESTS, ERROR_RATE), 2)]
    if name == JOURNEYS:
        if agg != "rate":
            raise ThresholdError(
                f"{where}: 'journeys' is the share of journeys that failed; write 'rate +1pp'"
            )
        return [((JOURNEYS, FAILED_SHARE), 2)]
    if agg == "rate" or measure_ is not None:  # WS_DELAY
        raise ThresholdError(f"{where}: 'ws_delay' is a delay; write e.g. 'p95 +20ms'")
    return [((WS_DELAY, f"delay {label}"), 2)]


def compare(
    base: RunDir,
    cand: RunDir,
    specs: Sequence[RegressionSpec],
    seed: int,
    resamples: int,
    confidence: float,
) -> list[Row]:
    """Every row of the two runs, each spec attached to the rows it governs."""
    a, b = read_sample(base), read_sample(cand)
    endpoints = sorted(set(a.endpoints) | set(b.endpoints))
    matches = [(spec, targets(spec, endpoints)) for spec in specs]
    extra = {p for spec in specs if (p := spec.percentile) is not None}
    percentiles = tuple(sorted({*PERCENTILES, *extra}))
    base_seq, cand_seq = np.random.SeedSequence(seed).spawn(2)
    ma = measure(a, percentiles, np.random.default_rng(base_seq), resamples)
    mb = measure(b, percentiles, np.random.default_rng(cand_seq), resamples)
    keys = sorted(set(ma.points) | set(mb.points), key=lambda k: _order(k, endpoints))
    rows: dict[Key, Row] = {}
    for key in keys:
        rows[key] = _row(key, ma, mb, confidence)
    governing: dict[Key, list[tuple[RegressionSpec, int]]] = {}
    for spec, found in matches:
        for key, rank in found:
            if key in rows:
                governing.setdefault(key, []).append((spec, rank))
    for key, row in rows.items():
        row.apply(pick(governing.get(key, [])))
    return list(rows.values())


def _row(key: Key, ma: Measured, mb: Measured, confidence: float) -> Row:
    name, metric = key
    pa, pb = ma.points.get(key), mb.points.get(key)
    da, db = ma.draws.get(key), mb.draws.get(key)
    diff = lo = hi = None
    a_lo = a_hi = b_lo = b_hi = None
    enough = min(ma.clusters.get(key, 0), mb.clusters.get(key, 0)) >= MIN_JOURNEYS
    if pa is not None and pb is not None:
        diff = pb - pa
    if enough and da is not None and db is not None:
        lo, hi = bootstrap.interval(db - da, confidence)
    if ma.clusters.get(key, 0) >= MIN_JOURNEYS and da is not None:
        a_lo, a_hi = bootstrap.interval(da, confidence)
    if mb.clusters.get(key, 0) >= MIN_JOURNEYS and db is not None:
        b_lo, b_hi = bootstrap.interval(db, confidence)
    return Row(
        name=name,
        metric=metric,
        scale=_scale(metric),
        direction=_direction(metric),
        baseline=pa,
        candidate=pb,
        difference=diff,
        ci_low=lo,
        ci_high=hi,
        baseline_low=a_lo,
        baseline_high=a_hi,
        candidate_low=b_lo,
        candidate_high=b_hi,
        n_baseline=ma.counts.get(name, 0),
        n_candidate=mb.counts.get(name, 0),
    )
