"""Columnar logs of one replication: API calls, tracking history, finished orders and resource
samples. Appends go into typed ``array.array`` columns (a few bytes a row, no per-row objects),
and categorical columns hold small integer codes from ``sim.codes``; ``tables()`` turns them into
Arrow tables with dictionary-encoded strings once, at the end."""

from __future__ import annotations

import json
import math
from array import array
from typing import Any

import numpy as np
import pyarrow as pa

from sim import codes
from sim.codes import PHASES

NAN = math.nan

#: Bit positions of a packed API call: role, endpoint and outcome codes take 8 bits each (a few
#: dozen values), the parameters code the 32 above them.
ROLE_SHIFT, EP_SHIFT, OUTCOME_SHIFT, PARAMS_SHIFT = 0, 8, 16, 24


def pack_call(role: int, ep: int, out: int, params: int) -> int:
    return role | ep << EP_SHIFT | out << OUTCOME_SHIFT | params << PARAMS_SHIFT


def _dict_column(indices: array[int], labels: tuple[str, ...] | list[str]) -> pa.Array:
    return _codes_column(np.frombuffer(indices, dtype=np.dtype(indices.typecode)), labels)


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
        self.call_t = array("d")
        self.call_order = array("q")
        self.call_rider = array("q")
        #: role, endpoint, outcome and parameters code of a call packed into one integer
        #: (``pack_call``): one append per call instead of four
        self.call_key = array("q")
        # tracking history
        self.ev_order = array("q")
        self.ev_seq = array("q")
        self.ev_t = array("d")
        self.ev_status = array("b")
        self.ev_role = array("b")
        # finished orders
        self.o_idx = array("q")
        #: the phase timestamps of each order, ``len(PHASES)`` values a row, flattened
        self.o_phases = array("d")
        self.o_promised = array("d")
        self.o_status = array("b")
        self.o_reason = array("b")
        self.o_actor = array("b")
        self.o_online = array("b")
        self.o_vendor = array("q")
        self.o_customer = array("q")
        self.o_rider = array("q")
        self.o_refund = array("b")
        self.o_window = array("b")
        # resource samples
        self.res_t = array("d")
        self.res_cols: dict[str, array[int]] = {}

    def call(self, t: float, order: int, rider: int, role: int, ep: int, out: int, p: int) -> None:
        self.call_t.append(t)
        self.call_order.append(order)
        self.call_rider.append(rider)
        self.call_key.append(pack_call(role, ep, out, p))

    def _call_field(self, shift: int, bits: int = 8) -> np.ndarray[Any, Any]:
        keys = np.frombuffer(self.call_key, dtype=np.int64)
        return (keys >> shift) & ((1 << bits) - 1)

    def sample(self, t: float, values: dict[str, int]) -> None:
        self.res_t.append(t)
        cols = self.res_cols
        for name, value in values.items():
            col = cols.get(name)
            if col is None:
                col = cols[name] = array("q")
            col.append(value)

    # -------------------------------------------------------------------- to Arrow
    def _rep(self, n: int) -> pa.Array:
        return pa.array(np.full(n, self.replication, dtype=np.int32))

    def api_calls(self) -> pa.Table:
        n = len(self.call_t)
        return pa.table(
            {
                "replication": self._rep(n),
                "t": pa.array(np.frombuffer(self.call_t, dtype=np.float64)),
                "order_idx": pa.array(np.frombuffer(self.call_order, dtype=np.int64)),
                "rider_idx": pa.array(np.frombuffer(self.call_rider, dtype=np.int64)),
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
                "order_idx": pa.array(np.frombuffer(self.ev_order, dtype=np.int64)),
                "seq": pa.array(np.frombuffer(self.ev_seq, dtype=np.int64).astype(np.int32)),
                "t": pa.array(np.frombuffer(self.ev_t, dtype=np.float64)),
                "status": _dict_column(self.ev_status, codes.STATUSES),
                "actor_role": _dict_column(self.ev_role, codes.ROLES),
            }
        )

    def orders(self) -> pa.Table:
        """One row per order, sorted by order index (rows were appended as orders finished)."""
        idx = np.frombuffer(self.o_idx, dtype=np.int64)
        order = np.argsort(idx, kind="stable")
        n = len(idx)

        def num(col: array[Any], dtype: Any) -> pa.Array:
            return pa.array(np.frombuffer(col, dtype=dtype)[order])

        def cat(col: array[int], labels: tuple[str, ...]) -> pa.Array:
            values = np.frombuffer(col, dtype=np.int8)[order].astype(np.int32)
            return pa.DictionaryArray.from_arrays(pa.array(values), pa.array(list(labels)))

        data: dict[str, pa.Array] = {
            "replication": self._rep(n),
            "order_idx": pa.array(idx[order]),
        }
        phases = np.frombuffer(self.o_phases, dtype=np.float64).reshape(n, len(PHASES))[order]
        for k, name in enumerate(PHASES):
            data[name] = pa.array(np.ascontiguousarray(phases[:, k]))
        data.update(
            {
                "promised_eta": num(self.o_promised, np.float64),
                "final_status": cat(self.o_status, codes.STATUSES),
                "cancel_reason": cat(self.o_reason, codes.REASONS),
                "cancel_actor": cat(self.o_actor, ("", *codes.ROLES)),
                "payment_method": cat(self.o_online, codes.PAYMENT_METHODS),
                "refund_status": cat(self.o_refund, codes.REFUND_STATES),
                "vendor_idx": num(self.o_vendor, np.int64),
                "customer_idx": num(self.o_customer, np.int64),
                "rider_idx": num(self.o_rider, np.int64),
                "in_window": pa.array(np.frombuffer(self.o_window, dtype=np.int8)[order] != 0),
            }
        )
        return pa.table(data)

    def resources(self) -> pa.Table:
        n = len(self.res_t)
        data: dict[str, pa.Array] = {
            "replication": self._rep(n),
            "t": pa.array(np.frombuffer(self.res_t, dtype=np.float64)),
        }
        for name, col in self.res_cols.items():
            data[name] = pa.array(np.frombuffer(col, dtype=np.int64))
        return pa.table(data)
