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


#: A column's appended values move into a NumPy chunk once this many are buffered.
SPILL_ROWS = 1 << 16


class Column:
    """One typed column, appended to a value at a time on the simulation's hot path.

    Appends go to a plain list (``array.array.append`` parses its argument through the C-API's
    format machinery, a cost ``list.append`` does not pay, and a run appends many per order); the
    list moves into a typed NumPy chunk every ``SPILL_ROWS`` values (``Recorder.spill``), so
    memory stays a few bytes a row. ``append`` and ``extend`` are the list's own bound methods,
    valid for the column's whole life (spilling empties the list, never replaces it).
    """

    __slots__ = ("_buf", "_chunks", "append", "dtype", "extend")

    def __init__(self, dtype: Any) -> None:
        self.dtype = np.dtype(dtype)
        self._buf: list[Any] = []
        self._chunks: list[np.ndarray[Any, Any]] = []
        self.append = self._buf.append
        self.extend = self._buf.extend

    def __len__(self) -> int:
        return len(self._buf) + sum(len(c) for c in self._chunks)

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
            self._chunks.append(np.array(self._buf, dtype=self.dtype))
            self._buf.clear()

    def values(self) -> np.ndarray[Any, Any]:
        self.spill()
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0] if self._chunks else np.empty(0, dtype=self.dtype)


def _dict_column(indices: Column, labels: tuple[str, ...] | list[str]) -> pa.Array:
    return _codes_column(indices.values(), labels)


def _codes_column(indices: np.ndarray[Any, Any], labels: tuple[str, ...] | list[str]) -> pa.Array:
    idx = pa.array(indices.astype(np.int32))
    return pa.DictionaryArray.from_arrays(idx, pa.array(list(labels), pa.string()))


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
    def __init__(self, replication: int) -> None:
        self.replication = replication
        self.params = Params()
        # api calls
        self.call_t = Column(np.float64)
        self.call_order = Column(np.int64)
        self.call_rider = Column(np.int64)
        #: role, endpoint, outcome and parameters code of a call packed into one integer (see
        #: ``ROLE_SHIFT``): one append per call instead of four
        self.call_key = Column(np.int64)
        # tracking history
        self.ev_order = Column(np.int64)
        self.ev_seq = Column(np.int64)
        self.ev_t = Column(np.float64)
        self.ev_status = Column(np.int8)
        self.ev_role = Column(np.int8)
        # finished orders
        self.o_idx = Column(np.int64)
        #: the phase timestamps of each order, ``len(PHASES)`` values a row, flattened
        self.o_phases = Column(np.float64)
        self.o_promised = Column(np.float64)
        self.o_status = Column(np.int8)
        self.o_reason = Column(np.int8)
        self.o_actor = Column(np.int8)
        self.o_online = Column(np.int8)
        self.o_vendor = Column(np.int64)
        self.o_customer = Column(np.int64)
        self.o_rider = Column(np.int64)
        self.o_bundle = Column(np.int8)
        self.o_refund = Column(np.int8)
        self.o_window = Column(np.int8)
        # rider moves (kept only for an MDRP solution): rider, departure, from, to
        self.mv_rider = Column(np.int64)
        self.mv_t = Column(np.float64)
        self.mv_from = Column(np.int64)
        self.mv_to = Column(np.int64)
        # resource samples
        self.res_t = Column(np.float64)
        self.res_cols: dict[str, Column] = {}

    def _call_field(self, shift: int, bits: int = 8) -> np.ndarray[Any, Any]:
        keys = self.call_key.values()
        return (keys >> shift) & ((1 << bits) - 1)

    def spill_if_full(self) -> None:
        """Spill once the busiest columns (calls, history) have ``SPILL_ROWS`` values buffered;
        the model calls this as orders finish, so buffers stay bounded however long the run."""
        if self.call_t.pending() >= SPILL_ROWS or self.ev_t.pending() >= SPILL_ROWS:
            self.spill()

    def spill(self) -> None:
        """Move every column's buffered values into NumPy chunks."""
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
        return pa.array(np.full(n, self.replication, dtype=np.int32))

    def api_calls(self) -> pa.Table:
        n = len(self.call_t)
        return pa.table(
            {
                "replication": self._rep(n),
                "t": pa.array(self.call_t.values()),
                "order_idx": pa.array(self.call_order.values()),
                "rider_idx": pa.array(self.call_rider.values()),
                "role": _codes_column(self._call_field(ROLE_SHIFT), codes.ROLES),
                "endpoint": _codes_column(self._call_field(EP_SHIFT), codes.ENDPOINT_NAMES),
                "outcome": _codes_column(self._call_field(OUTCOME_SHIFT), codes.OUTCOMES),
            }
        )

    def call_params_column(self) -> pa.Array:
        return _codes_column(self._call_field(PARAMS_SHIFT, 32), self.params.texts)

    def events(self) -> pa.Table:
        n = len(self.ev_t)
        return pa.table(
            {
                "replication": self._rep(n),
                "order_idx": pa.array(self.ev_order.values()),
                "seq": pa.array(self.ev_seq.values().astype(np.int32)),
                "t": pa.array(self.ev_t.values()),
                "status": _dict_column(self.ev_status, codes.STATUSES),
                "actor_role": _dict_column(self.ev_role, codes.ROLES),
            }
        )

    def orders(self) -> pa.Table:
        """One row per order, sorted by order index (rows were appended as orders finished)."""
        idx = self.o_idx.values()
        order = np.argsort(idx, kind="stable")
        n = len(idx)

        def num(col: Column) -> pa.Array:
            return pa.array(col.values()[order])

        def cat(col: Column, labels: tuple[str, ...]) -> pa.Array:
            values = col.values()[order].astype(np.int32)
            return pa.DictionaryArray.from_arrays(pa.array(values), pa.array(list(labels)))

        data: dict[str, pa.Array] = {
            "replication": self._rep(n),
            "order_idx": pa.array(idx[order]),
        }
        phases = self.o_phases.values().reshape(n, len(PHASES))[order]
        for k, name in enumerate(PHASES):
            data[name] = pa.array(np.ascontiguousarray(phases[:, k]))
        data.update(
            {
                "promised_eta": num(self.o_promised),
                "final_status": cat(self.o_status, codes.STATUSES),
                "cancel_reason": cat(self.o_reason, codes.REASONS),
                "cancel_actor": cat(self.o_actor, ("", *codes.ROLES)),
                "payment_method": cat(self.o_online, codes.PAYMENT_METHODS),
                "refund_status": cat(self.o_refund, codes.REFUND_STATES),
                "vendor_idx": num(self.o_vendor),
                "customer_idx": num(self.o_customer),
                "rider_idx": num(self.o_rider),
                "bundle_size": num(self.o_bundle),
                "in_window": pa.array(self.o_window.values()[order] != 0),
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
