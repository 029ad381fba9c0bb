"""Recorder columns: buffered appends, spilled chunks and pickling keep every value in order."""

from __future__ import annotations

import pickle

import numpy as np

from sim.recorder import SPILL_ROWS, Column, Recorder


def test_column_keeps_values_across_spills_and_pickling() -> None:
    col = Column(np.int8)
    col.append(1)
    col.extend([2, 3])
    col.spill()
    col.extend(range(4, 10))
    assert len(col) == 9
    copy = pickle.loads(pickle.dumps(col))
    copy.append(10)
    assert copy.values().tolist() == list(range(1, 11))
    assert copy.values().dtype == np.int8
    assert col.values().tolist() == list(range(1, 10))


def test_recorder_spills_when_a_busy_column_is_full() -> None:
    rec = Recorder(0)
    for i in range(SPILL_ROWS - 1):
        rec.call_t.append(float(i))
    rec.spill_if_full()
    assert rec.call_t.pending() == SPILL_ROWS - 1
    rec.call_t.append(-1.0)
    rec.ev_t.append(5.0)
    rec.spill_if_full()
    assert rec.call_t.pending() == 0 and rec.ev_t.pending() == 0
    values = rec.call_t.values()
    assert values.tolist() == [float(i) for i in range(SPILL_ROWS - 1)] + [-1.0]
    assert rec.ev_t.values().tolist() == [5.0]
