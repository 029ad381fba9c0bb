"""Columnar logs of one replication: API calls, tracking history, finished orders and resource
samples. Appends go into ``Column``s (see there), and categorical columns hold small integer
codes from ``sim.codes``; the table methods turn them into Arrow tables with dictionary-encoded
strings once, at the end."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pyarrow as pa

from sim import codes
from sim.codes import PHASES

NAN = math.nan

#: Bit positions of a packed API call (``role | ep << EP_SHIFT | out << OUTCOME_SHIFT | params
#: << PARAMS_SHIFT``, written inline on the model's hot path): role, endpoint and outcome codes
#: take 8 bits each (a few dozen values), the parameters code the 32 above them.
ROLE_SHIFT, EP_SHIFT, OUTCOME_SHIFT, PARAMS_SHIFT = 0, 8, 16, 24


#: A column's appended values move into NumPy once this many are buffered. Few enough that the
#: buffered Python floats and ints are still in the CPU caches when NumPy reads them: with 65,536
#: the spills' reads were about 130 last-level cache misses an order (docs/performance.md).
SPILL_ROWS = 1 << 12
#: Spilled pieces are joined into chunks of this many values, so a city-scale run's columns are
#: a few hundred chunks, not thousands.
CHUNK_ROWS = 1 << 16


class Column:
    """One typed column, appended to a value at a time on the simulation's hot path.

    Appends go to a plain list (``array.array.append`` parses its argument through the C-API's
    format machinery, a cost ``list.append`` does not pay, and a run appends many per order); the
    list moves into a typed NumPy piece every ``SPILL_ROWS`` values (``Recorder.spill``), and
    pieces are joined into chunks of ``CHUNK_ROWS``, so memory stays a few bytes a row.
    ``append`` and ``extend`` are the list's own bound methods, valid for the column's whole life
    (spilling empties the list, never replaces it).

    The tables wrap the chunks as they are (``arrow``: an Arrow chunked array over the same
    memory), so building a table copies nothing and a city-scale run never holds a column twice.
    """

    __slots__ = ("_buf", "_chunks", "_tail", "_tail_rows", "append", "dtype", "extend")

    def __init__(self, dtype: Any) -> None:
        self.dtype = np.dtype(dtype)
        self._buf: list[Any] = []
        self._chunks: list[np.ndarray[Any, Any]] = []
        #: spilled pieces not yet joined into a chunk
        self._tail: list[np.ndarray[Any, Any]] = []
        self._tail_rows = 0
        self.append = self._buf.append
        self.extend = self._buf.extend

    def __len__(self) -> int:
        return len(self._buf) + self._tail_rows + sum(len(c) for c in self._chunks)

    # Replications run in worker processes and send their recorders back pickled: send the
    # values, rebuild the bound methods.
    def __getstate__(self) -> tuple[np.dtype[Any], np.ndarray[Any, Any]]:
        return self.dtype, self.values()

    def __setstate__(self, state: tuple[np.dtype[Any], np.ndarray[Any, Any]]) -> None:
        self.__init__(state[0])  # type: ignore[misc]
        self._chunks.append(state[1])

    def pending(self) -> int:
        return len(self._buf)

    def spill(self) -> None:
        if self._buf:
            self._tail.append(np.array(self._buf, dtype=self.dtype))
            self._tail_rows += len(self._buf)
            self._buf.clear()
            if self._tail_rows >= CHUNK_ROWS:
                self._join_tail()

    def _join_tail(self) -> None:
        if self._tail:
            tail = self._tail
            self._chunks.append(tail[0] if len(tail) == 1 else np.concatenate(tail))
            self._tail, self._tail_rows = [], 0

    def chunks(self) -> list[np.ndarray[Any, Any]]:
        """Every value, as the chunks they were spilled into (the buffer spilled first)."""
        self.spill()
        self._join_tail()
        return self._chunks

    def values(self) -> np.ndarray[Any, Any]:
        """Every value in one array (chunks are joined, once)."""
        chunks = self.chunks()
        if len(chunks) > 1:
            self._chunks = chunks = [np.concatenate(chunks)]
        return chunks[0] if chunks else np.empty(0, dtype=self.dtype)

    def arrow(self) -> pa.ChunkedArray:
        """The values as an Arrow chunked array over the chunks' own memory."""
        return _chunked(self.chunks(), self.dtype)

    def clear(self) -> None:
        """Drop every value (the column's table has taken what it needs)."""
        self._buf.clear()
        self._chunks, self._tail, self._tail_rows = [], [], 0


def _chunked(chunks: list[np.ndarray[Any, Any]], dtype: np.dtype[Any]) -> pa.ChunkedArray:
    return pa.chunked_array([pa.array(c) for c in chunks], type=pa.from_numpy_dtype(dtype))


def _dict_column(
    indices: list[np.ndarray[Any, Any]],
    labels: tuple[str, ...] | list[str],
    dtype: np.dtype[Any] | None = None,
) -> pa.ChunkedArray:
    """Codes as a dictionary-encoded string column; the codes' own arrays are its indices
    (of ``dtype``, ``INDEX_DTYPE`` by default)."""
    dictionary = pa.array(list(labels), pa.string())
    index_type = pa.from_numpy_dtype(INDEX_DTYPE if dtype is None else dtype)
    return pa.chunked_array(
        [pa.DictionaryArray.from_arrays(pa.array(c), dictionary) for c in indices],
        type=pa.dictionary(index_type, pa.string()),
    )


#: The index type of a categorical column with a fixed, short list of labels.
INDEX_DTYPE = np.dtype(np.int8)
#: The index type of the request parameters (a handful of values, more with an order log's
#: baskets); one type for every run, so replications' tables always stack.
PARAMS_DTYPE = np.dtype(np.int32)


class Params:
    """Interned JSON strings of request parameters (a handful of distinct values per run)."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self._codes: dict[str, int] = {}
        self.EMPTY = self.code({})

    def code(self, params: dict[str, Any]) -> int:
        text = json.dumps(params, sort_keys=True, separators=(",", ":"))
        found = self._codes.get(text)
        if found is None:
            found = self._codes[text] = len(self.texts)
            self.texts.append(text)
        return found


class Recorder:
    """The logs of one replication. Tables (``api_calls``, ``events``, ``orders``, ...) are
    read once the run is over: they wrap the recorded chunks, and building the calls' categorical
    columns consumes the packed keys they come from."""

    def __init__(self, replication: int) -> None:
        self.replication = replication
        self.params = Params()
        # api calls
        self.call_t = Column(np.float64)
        self.call_order = Column(np.int32)
        self.call_rider = Column(np.int32)
        #: role, endpoint, outcome and parameters code of a call packed into one integer (see
        #: ``ROLE_SHIFT``): one append per call instead of four
        self.call_key = Column(np.int64)
        #: the keys unpacked (``call_codes``): role, endpoint and outcome codes, parameters codes
        self._codes: tuple[list[np.ndarray[Any, Any]], ...] | None = None
        # tracking history
        self.ev_order = Column(np.int32)
        self.ev_seq = Column(np.int16)
        self.ev_t = Column(np.float64)
        self.ev_status = Column(INDEX_DTYPE)
        self.ev_role = Column(INDEX_DTYPE)
        # finished orders: appended as they finish, stored by order index at each spill
        # (``_store_orders``), so the orders table needs no sort and no copy
        self.o_idx = Column(np.int64)
        #: the phase timestamps of each order, ``len(PHASES)`` values a row, flattened
        self.o_phases = Column(np.float64)
        self.o_promised = Column(np.float64)
        self.o_status = Column(INDEX_DTYPE)
        self.o_reason = Column(INDEX_DTYPE)
        self.o_actor = Column(INDEX_DTYPE)
        self.o_online = Column(INDEX_DTYPE)
        self.o_vendor = Column(np.int32)
        self.o_customer = Column(np.int32)
        self.o_rider = Column(np.int32)
        self.o_bundle = Column(np.int8)
        self.o_refund = Column(INDEX_DTYPE)
        self.o_window = Column(np.bool_)
        self._rows = OrderRows(self._order_columns())
        # rider moves (kept only for an MDRP solution): rider, departure, from, to
        self.mv_rider = Column(np.int64)
        self.mv_t = Column(np.float64)
        self.mv_from = Column(np.int64)
        self.mv_to = Column(np.int64)
        # resource samples
        self.res_t = Column(np.float64)
        self.res_cols: dict[str, Column] = {}
        #: ``replication`` for every row of every table: one buffer, sliced per table
        self._rep_buf = np.empty(0, dtype=np.int32)

    def _order_columns(self) -> dict[str, Column]:
        return {
            name: col
            for name, col in vars(self).items()
            if name.startswith("o_") and name not in ("o_idx", "o_phases")
        }

    def reserve_orders(self, n: int) -> None:
        """Room for ``n`` orders' rows (the plan's orders), so storing them never regrows."""
        self._rows.reserve(n)

    def spill_if_full(self) -> None:
        """Spill once the busiest columns (calls, history) have ``SPILL_ROWS`` values buffered;
        the model calls this as orders finish, so buffers stay bounded however long the run."""
        if self.call_t.pending() >= SPILL_ROWS or self.ev_t.pending() >= SPILL_ROWS:
            self.spill()

    def spill(self) -> None:
        """Move every column's buffered values into NumPy chunks (finished orders' rows into
        their places)."""
        self._rows.store(self.o_idx, self.o_phases)
        for value in vars(self).values():
            if isinstance(value, Column):
                value.spill()
        for col in self.res_cols.values():
            col.spill()

    def sample(self, t: float, values: dict[str, int]) -> None:
        self.res_t.append(t)
        cols = self.res_cols
        for name, value in values.items():
            col = cols.get(name)
            if col is None:
                col = cols[name] = Column(np.int64)
            col.append(value)

    # -------------------------------------------------------------------- to Arrow
    def _rep(self, n: int) -> pa.Array:
        if len(self._rep_buf) < n:
            self._rep_buf = np.full(max(n, 2 * len(self._rep_buf)), self.replication, np.int32)
        return pa.array(self._rep_buf[:n])

    def call_codes(self) -> tuple[list[np.ndarray[Any, Any]], ...]:
        """The packed keys, unpacked chunk by chunk into role, endpoint, outcome (int8) and
        parameters codes (``PARAMS_DTYPE``); the keys are then dropped."""
        if self._codes is None:
            fields: tuple[list[np.ndarray[Any, Any]], ...] = ([], [], [], [])
            for keys in self.call_key.chunks():
                for out, shift, bits, dtype in (
                    (fields[0], ROLE_SHIFT, 8, INDEX_DTYPE),
                    (fields[1], EP_SHIFT, 8, INDEX_DTYPE),
                    (fields[2], OUTCOME_SHIFT, 8, INDEX_DTYPE),
                    (fields[3], PARAMS_SHIFT, 32, PARAMS_DTYPE),
                ):
                    out.append(((keys >> shift) & ((1 << bits) - 1)).astype(dtype))
            self.call_key.clear()
            self._codes = fields
        return self._codes

    def api_calls(self) -> pa.Table:
        role, ep, outcome, _ = self.call_codes()
        return pa.table(
            {
                "replication": self._rep(len(self.call_t)),
                "t": self.call_t.arrow(),
                "order_idx": self.call_order.arrow(),
                "rider_idx": self.call_rider.arrow(),
                "role": _dict_column(role, codes.ROLES),
                "endpoint": _dict_column(ep, codes.ENDPOINT_NAMES),
                "outcome": _dict_column(outcome, codes.OUTCOMES),
            }
        )

    def call_params_column(self) -> pa.ChunkedArray:
        return _dict_column(self.call_codes()[3], self.params.texts, PARAMS_DTYPE)

    def events(self) -> pa.Table:
        return pa.table(
            {
                "replication": self._rep(len(self.ev_t)),
                "order_idx": self.ev_order.arrow(),
                "seq": self.ev_seq.arrow(),
                "t": self.ev_t.arrow(),
                "status": _dict_column(self.ev_status.chunks(), codes.STATUSES),
                "actor_role": _dict_column(self.ev_role.chunks(), codes.ROLES),
            }
        )

    def orders(self) -> pa.Table:
        """One row per recorded order, by order index."""
        self.spill()
        idx, cols, phases = self._rows.table_arrays()
        n = len(idx)

        def num(name: str) -> pa.Array:
            return pa.array(cols[name])

        def cat(name: str, labels: tuple[str, ...]) -> pa.Array:
            return pa.DictionaryArray.from_arrays(pa.array(cols[name]), pa.array(list(labels)))

        data: dict[str, pa.Array] = {"replication": self._rep(n), "order_idx": pa.array(idx)}
        for k, name in enumerate(PHASES):
            data[name] = pa.array(phases[k])
        data.update(
            {
                "promised_eta": num("o_promised"),
                "final_status": cat("o_status", codes.STATUSES),
                "cancel_reason": cat("o_reason", codes.REASONS),
                "cancel_actor": cat("o_actor", ("", *codes.ROLES)),
                "payment_method": cat("o_online", codes.PAYMENT_METHODS),
                "refund_status": cat("o_refund", codes.REFUND_STATES),
                "vendor_idx": num("o_vendor"),
                "customer_idx": num("o_customer"),
                "rider_idx": num("o_rider"),
                "bundle_size": num("o_bundle"),
                "in_window": num("o_window"),
            }
        )
        return pa.table(data)

    def move(self, rider: int, t: float, origin: int, to: int) -> None:
        self.mv_rider.append(rider)
        self.mv_t.append(t)
        self.mv_from.append(origin)
        self.mv_to.append(to)

    def moves(self) -> pa.Table:
        """Each departure of a rider: ``origin``/``to`` are -1 (where the shift started), a
        vendor index, or ``-2 - order_idx`` (a customer)."""
        return pa.table(
            {
                "rider_idx": pa.array(self.mv_rider.values()),
                "t": pa.array(self.mv_t.values()),
                "origin": pa.array(self.mv_from.values()),
                "to": pa.array(self.mv_to.values()),
            }
        )

    def resources(self) -> pa.Table:
        n = len(self.res_t)
        data: dict[str, pa.Array] = {
            "replication": self._rep(n),
            "t": pa.array(self.res_t.values()),
        }
        for name, col in self.res_cols.items():
            data[name] = pa.array(col.values())
        return pa.table(data)


class OrderRows:
    """Finished orders' rows, each at its order index. Orders finish out of placement order;
    their values are appended to the recorder's ``o_*`` columns on the hot path and moved here,
    a spill's worth at a time, by one NumPy scatter per column. The phase timestamps are kept
    one array per phase, as the table's columns are."""

    def __init__(self, columns: dict[str, Column]) -> None:
        self._columns = columns
        self._n = 0  #: one past the highest order index stored
        self._cap = 0
        self._arrays: dict[str, np.ndarray[Any, Any]] = {}
        self._phases = np.empty((len(PHASES), 0), dtype=np.float64)
        self._stored = np.empty(0, dtype=np.bool_)
        self.reserve(0)

    def reserve(self, n: int) -> None:
        if n <= self._cap and self._arrays:
            return
        cap = max(n, self._cap)
        arrays = {}
        for name, col in self._columns.items():
            arr = np.zeros(cap, dtype=col.dtype)
            arr[: self._cap] = self._arrays.get(name, arr[:0])
            arrays[name] = arr
        phases = np.full((len(PHASES), cap), NAN)
        phases[:, : self._cap] = self._phases
        stored = np.zeros(cap, dtype=np.bool_)
        stored[: self._cap] = self._stored
        self._arrays, self._phases, self._stored, self._cap = arrays, phases, stored, cap

    def store(self, idx_col: Column, phases_col: Column) -> None:
        """Move the buffered rows (``idx_col``'s pending indices) into place."""
        if not idx_col.pending():
            return
        idx = np.array(idx_col._buf, dtype=np.int64)
        idx_col._buf.clear()
        top = int(idx.max()) + 1
        if top > self._cap:
            self.reserve(max(top, 2 * self._cap))
        for name, col in self._columns.items():
            self._arrays[name][idx] = np.array(col._buf, dtype=col.dtype)
            col._buf.clear()
        flat = np.array(phases_col._buf, dtype=np.float64)
        phases_col._buf.clear()
        self._phases[:, idx] = flat.reshape(len(idx), len(PHASES)).T
        self._stored[idx] = True
        self._n = max(self._n, top)

    def table_arrays(
        self,
    ) -> tuple[np.ndarray[Any, Any], dict[str, np.ndarray[Any, Any]], list[np.ndarray[Any, Any]]]:
        """The stored rows in order index order: their indices, every column and every phase.
        Views of the stored arrays when every index below the highest was stored (a run records
        every order it placed), else copies of the stored rows."""
        n = self._n
        if self._stored[:n].all():
            return (
                np.arange(n, dtype=np.int32),
                {name: arr[:n] for name, arr in self._arrays.items()},
                [row[:n] for row in self._phases],
            )
        rows = np.flatnonzero(self._stored[:n])
        return (
            rows.astype(np.int32),
            {name: arr[rows] for name, arr in self._arrays.items()},
            [row[rows] for row in self._phases],
        )
