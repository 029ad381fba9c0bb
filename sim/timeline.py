"""The timeline export a load test replays: per order, every API call each role made, with its
offset from the order's placement and the request parameters, in the order they were made.

Built from the API-call log and the orders table with array operations only (a city-scale day
has tens of millions of calls)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def timeline(calls: pa.Table, params: pa.Array, orders: pa.Table) -> pa.Table:
    """From the tables the run directory also holds (``Recorder.api_calls``, ``.orders`` and
    ``.call_params_column``): taking the calls table rather than building another keeps a second
    copy of the largest table out of a city-scale run's peak memory."""
    order_idx = calls.column("order_idx").to_numpy()
    keep = np.flatnonzero(order_idx >= 0)
    # stable sort by order keeps each order's calls in the order they were made
    pos = keep[np.argsort(order_idx[keep], kind="stable")]
    oi = order_idx[pos]
    first = np.searchsorted(oi, oi, side="left")
    seq = (np.arange(len(oi)) - first).astype(np.int32)
    # orders.order_idx is 0..n-1 in order (every placed order has a row)
    ord_idx = orders.column("order_idx").to_numpy()
    assert np.array_equal(ord_idx, np.arange(len(ord_idx))), "orders table must be complete"
    placed = orders.column("placed").to_numpy()[oi]
    take = pa.array(pos)
    return pa.table(
        {
            "replication": calls.column("replication").take(take),
            "order_idx": pa.array(oi),
            "seq": pa.array(seq),
            "role": calls.column("role").take(take),
            "endpoint": calls.column("endpoint").take(take),
            "offset_s": pa.array(calls.column("t").to_numpy()[pos] - placed),
            "arrival_s": pa.array(placed),
            "params": params.take(take),
            "payment_method": pc.take(orders.column("payment_method"), pa.array(oi)),
            "vendor_idx": pa.array(orders.column("vendor_idx").to_numpy()[oi]),
            "customer_idx": pa.array(orders.column("customer_idx").to_numpy()[oi]),
            "expected_outcome": calls.column("outcome").take(take),
        }
    )
