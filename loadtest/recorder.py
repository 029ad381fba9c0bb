"""Rows go out while the run is going, in batches, so that an interrupted or crashed run still
leaves everything up to the last flush readable. A process that can write the run directory
(standalone, or the master) writes each batch as a small self-contained Parquet part
(``PartWriter``); a worker, which may share no disk with the master, sends each batch to it in a
Locust message instead (``MessageWriter``, Arrow IPC bytes) and the master writes it as the same
part (``PartReceiver``). The parts are merged into one file per table when the run ends
(``merge_parts``). Each batch of request rows also goes into the writer's HdrHistograms (with a
worker, as that batch's own encoded histograms in the same message), so the histograms a run
reports hold exactly the rows the run directory holds."""

from __future__ import annotations

import io
import json
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from loadtest.hdr import Histograms
from loadtest.tables import TABLES

PARTS = "parts"
HISTOGRAMS = "histograms.json"
#: The Locust message a worker's batch of rows travels in.
ROWS_MSG = "orderflow_rows"


class RowWriter(ABC):
    """Buffers rows per table; ``flush`` turns each non-empty buffer into one batch, numbered
    per writer, and hands it to ``_emit``. Rows are kept as tuples in schema order and turned
    into columns at flush time, because building a table from row dicts is a noticeable share
    of a request's cost (docs/performance.md)."""

    def __init__(self, writer: int, flush_rows: int = 20_000) -> None:
        self.writer = writer
        self.histograms = Histograms()
        self.flush_rows = flush_rows
        self.buffers: dict[str, list[tuple[Any, ...]]] = {name: [] for name in TABLES}
        self.names = {name: tuple(schema.names) for name, schema in TABLES.items()}
        self.counts: dict[str, int] = dict.fromkeys(TABLES, 0)
        self.seq = 0

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.add_values(table, tuple(row.get(name) for name in self.names[table]))

    def add_values(self, table: str, values: tuple[Any, ...]) -> None:
        """A row as values in the table's column order (``loadtest.tables``)."""
        buf = self.buffers[table]
        buf.append(values)
        if len(buf) >= self.flush_rows:
            self._write(table)

    def flush(self) -> None:
        for table in TABLES:
            self._write(table)

    def _write(self, table: str) -> None:
        rows = self.buffers[table]
        if not rows:
            return
        self.buffers[table] = []
        schema = TABLES[table]
        columns = zip(*rows, strict=True)
        batch = pa.Table.from_arrays(
            [pa.array(col, type=f.type) for col, f in zip(columns, schema, strict=True)],
            schema=schema,
        )
        self.seq += 1
        self._emit(table, batch, self.seq, record(self.histograms, table, batch))
        self.counts[table] += len(rows)

    @abstractmethod
    def _emit(self, table: str, batch: pa.Table, seq: int, delta: Histograms | None) -> None:
        """Send or store one batch; ``delta`` is the batch's own histograms."""

    @abstractmethod
    def mark_done(self) -> None:
        """Flush everything; the writer may be used again (rows after a stop)."""


def record(into: Histograms, table: str, batch: pa.Table) -> Histograms | None:
    """Add a batch to ``into``; returns the batch's own histograms (None for other tables)."""
    if table not in ("requests", "ws_events"):
        return None
    delta = Histograms()
    if table == "requests":
        delta.add_requests(batch)
    else:
        delta.add_ws(batch)
    into.merge(delta)
    return delta


def part_path(run_dir: Path, table: str, writer: int, seq: int) -> Path:
    return run_dir / PARTS / f"{table}.w{writer:03d}.{seq:06d}.parquet"


def write_part(run_dir: Path, table: str, writer: int, seq: int, batch: pa.Table) -> None:
    """Atomically (written aside, then renamed), so a reader never sees half a part."""
    final = part_path(run_dir, table, writer, seq)
    final.parent.mkdir(parents=True, exist_ok=True)  # a late flush after a merge still lands
    tmp = final.with_suffix(".tmp")
    pq.write_table(batch, tmp)
    os.replace(tmp, final)


def mark_writer_done(run_dir: Path, writer: int) -> None:
    path = run_dir / PARTS / f"done.w{writer:03d}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{time.time()}\n")


class PartWriter(RowWriter):
    """Writes each batch as a Parquet part of the run directory, in this process."""

    def __init__(self, run_dir: Path, writer: int, flush_rows: int = 20_000) -> None:
        super().__init__(writer, flush_rows)
        self.run_dir = run_dir
        (run_dir / PARTS).mkdir(parents=True, exist_ok=True)
        # The first Parquet write of a process has a one-time set-up cost: pay it now, before
        # the schedule starts, not as a stall of every user at the first flush.
        pq.write_table(TABLES["requests"].empty_table(), io.BytesIO())

    def _emit(self, table: str, batch: pa.Table, seq: int, delta: Histograms | None) -> None:
        write_part(self.run_dir, table, self.writer, seq, batch)

    def mark_done(self) -> None:
        """Flush, and say this writer has nothing more."""
        self.flush()
        mark_writer_done(self.run_dir, self.writer)


def encode_batch(batch: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as stream:
        stream.write_table(batch)
    return bytes(sink.getvalue().to_pybytes())


def decode_batch(data: bytes, schema: pa.Schema) -> pa.Table:
    table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    if not table.schema.equals(schema):
        raise ValueError(f"a batch with columns {table.schema.names}, expected {schema.names}")
    return table


class MessageWriter(RowWriter):
    """A worker's writer: each batch goes to the master as one message (``ROWS_MSG``) with the
    batch as Arrow IPC bytes and its encoded histograms; nothing touches this machine's disk."""

    def __init__(self, send: Callable[[str, Any], None], writer: int,
                 flush_rows: int = 20_000) -> None:  # fmt: skip
        super().__init__(writer, flush_rows)
        self.send = send

    def _emit(self, table: str, batch: pa.Table, seq: int, delta: Histograms | None) -> None:
        self.send(
            ROWS_MSG,
            {
                "writer": self.writer,
                "table": table,
                "seq": seq,
                "rows": batch.num_rows,
                "ipc": encode_batch(batch),
                "hist": delta.encode() if delta is not None else None,
            },
        )

    def mark_done(self) -> None:
        self.flush()


class PartReceiver:
    """The master's end of ``MessageWriter``: writes each batch as the part the worker would
    have written, once (a batch seen twice is ignored), and merges its histograms."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.histograms = Histograms()
        self.seen: set[tuple[int, str, int]] = set()
        self.rows: dict[int, dict[str, int]] = {}

    def receive(self, data: dict[str, Any]) -> None:
        writer, table, seq = int(data["writer"]), str(data["table"]), int(data["seq"])
        if table not in TABLES:
            raise ValueError(f"a batch for an unknown table {table!r}")
        key = (writer, table, seq)
        if key in self.seen:
            return
        batch = decode_batch(data["ipc"], TABLES[table])
        write_part(self.run_dir, table, writer, seq, batch)
        self.seen.add(key)
        counts = self.rows.setdefault(writer, dict.fromkeys(TABLES, 0))
        counts[table] += batch.num_rows
        if data.get("hist"):
            self.histograms.merge(Histograms.decode(data["hist"]))


def write_histograms(run_dir: Path, histograms: Histograms) -> None:
    tmp = run_dir / f".{HISTOGRAMS}.tmp"
    tmp.write_text(json.dumps(histograms.encode()) + "\n")
    os.replace(tmp, run_dir / HISTOGRAMS)


def read_histograms(run_dir: Path) -> Histograms | None:
    path = run_dir / HISTOGRAMS
    if not path.exists():
        return None
    return Histograms.decode(json.loads(path.read_text()))


def table_from_dicts(schema: pa.Schema, rows: list[dict[str, Any]]) -> pa.Table:
    """Column by column, which is much cheaper than ``pa.Table.from_pylist``."""
    return pa.Table.from_arrays(
        [pa.array([r.get(f.name) for r in rows], type=f.type) for f in schema], schema=schema
    )


def done_writers(run_dir: Path) -> set[int]:
    return {int(p.name.split(".w")[1]) for p in (run_dir / PARTS).glob("done.w*")}


def merge_parts(run_dir: Path, *, keep_parts: bool = False) -> dict[str, int]:
    """Concatenate every part of each table into ``TABLE.parquet`` (sorted by time); tables
    without rows still get a file with the right columns. Returns row counts."""
    parts_dir = run_dir / PARTS
    counts: dict[str, int] = {}
    for table, schema in TABLES.items():
        files = sorted(parts_dir.glob(f"{table}.w*.parquet")) if parts_dir.exists() else []
        pieces = [pq.read_table(f, schema=schema) for f in files]
        existing = run_dir / f"{table}.parquet"
        if existing.exists():
            if not files:
                counts[table] = pq.read_metadata(existing).num_rows
                continue
            pieces.insert(0, pq.read_table(existing, schema=schema))  # rows flushed after a merge
        merged = pa.concat_tables(pieces) if pieces else schema.empty_table()
        sort_key = {"requests": "intended_ts", "journeys": "planned_ts", "ws_events": "received_ts"}
        if merged.num_rows:
            merged = merged.sort_by([(sort_key[table], "ascending")])
        tmp = run_dir / f".{table}.parquet.tmp"
        pq.write_table(merged, tmp)
        os.replace(tmp, existing)
        counts[table] = merged.num_rows
        if not keep_parts:
            for f in files:
                f.unlink()
    if parts_dir.exists() and not keep_parts:
        for f in parts_dir.glob("done.w*"):
            f.unlink()
        for f in parts_dir.glob("*.tmp"):
            f.unlink()
        if not any(parts_dir.iterdir()):
            parts_dir.rmdir()
    return counts
