"""The timeline export a load test replays: per order, every API call each role made, with its
offset from the order's placement and the request parameters, in the order they were made.

Built from the API-call log and the orders table with array operations only (a city-scale day
has tens of millions of calls): one sort of the calls by order, then each column taken through
that permutation once, with no full-size temporary kept beyond the step that needs it."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def timeline(calls: pa.Table, params: pa.ChunkedArray, orders: pa.Table) -> pa.Table:
    """From the tables the run directory also holds (``Recorder.api_calls``, ``.orders`` and
    ``.call_params_column``): taking the calls table rather than building another keeps a second
    copy of the largest table out of a city-scale run's peak memory."""
    order_idx = calls.column("order_idx").to_numpy()
    # A stable sort by order keeps each order's calls in the order they were made; the rider
    # calls (order -1) sort first and are dropped as a slice, so no mask or copy of the keys.
    pos = np.argsort(order_idx, kind="stable")
    pos = pos[np.count_nonzero(order_idx < 0) :]
    oi = order_idx[pos]
    del order_idx
    n = len(oi)
    # seq: the call's place within its order (each order's calls are one run now), by a
    # cumulative sum of ones that drops back at every order's first call
    steps = np.ones(n, dtype=np.int16)
    starts = np.flatnonzero(oi[1:] != oi[:-1]) + 1
    if len(starts):
        runs = np.diff(starts, prepend=0)
        steps[starts] = 1 - runs
    seq = np.cumsum(steps, dtype=np.int16)
    seq -= 1
    del steps
    # orders.order_idx is 0..n-1 in order (every placed order has a row)
    ord_idx = orders.column("order_idx").to_numpy()
    assert np.array_equal(ord_idx, np.arange(len(ord_idx))), "orders table must be complete"
    arrival = orders.column("placed").to_numpy()[oi]
    offset = np.take(calls.column("t").to_numpy(), pos)
    offset -= arrival
    take = pa.array(pos)
    which = pa.array(oi)
    return pa.table(
        {
            # every row of the calls' replication column holds the one replication: its first
            # rows serve, with no new buffer
            "replication": calls.column("replication").slice(0, n),
            "order_idx": which,
            "seq": pa.array(seq),
            "role": calls.column("role").take(take),
            "endpoint": calls.column("endpoint").take(take),
            "offset_s": pa.array(offset),
            "arrival_s": pa.array(arrival),
            "params": params.take(take),
            "payment_method": pc.take(orders.column("payment_method"), which),
            "vendor_idx": pa.array(orders.column("vendor_idx").to_numpy()[oi]),
            "customer_idx": pa.array(orders.column("customer_idx").to_numpy()[oi]),
            "expected_outcome": calls.column("outcome").take(take),
        }
    )
