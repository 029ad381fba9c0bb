"""Rows go to disk while the run is going, as small self-contained Parquet parts, so that an
interrupted or crashed run still leaves everything up to the last flush readable; the parts are
merged into one file per table when the run ends (``merge_parts``)."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from loadtest.tables import TABLES

PARTS = "parts"


class PartWriter:
    """Buffers rows per table; ``flush`` writes each non-empty buffer as one Parquet part named
    by table, writer and sequence number (atomically: written aside, then renamed). Rows are
    kept as tuples in schema order and turned into columns at flush time, because building a
    table from row dicts is a noticeable share of a request's cost (docs/performance.md)."""

    def __init__(self, run_dir: Path, writer: int, flush_rows: int = 20_000) -> None:
        self.dir = run_dir / PARTS
        self.dir.mkdir(parents=True, exist_ok=True)
        self.writer = writer
        self.flush_rows = flush_rows
        self.buffers: dict[str, list[tuple[Any, ...]]] = {name: [] for name in TABLES}
        self.names = {name: tuple(schema.names) for name, schema in TABLES.items()}
        self.counts: dict[str, int] = dict.fromkeys(TABLES, 0)
        self.seq = 0
        self.marked_at_seq: int | None = None
        # The first Parquet write of a process has a one-time set-up cost: pay it now, before
        # the schedule starts, not as a stall of every user at the first flush.
        pq.write_table(TABLES["requests"].empty_table(), io.BytesIO())

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
        self.dir.mkdir(parents=True, exist_ok=True)  # a late flush after a merge still lands
        final = self.dir / f"{table}.w{self.writer:03d}.{self.seq:06d}.parquet"
        tmp = final.with_suffix(".tmp")
        pq.write_table(batch, tmp)
        os.replace(tmp, final)
        self.counts[table] += len(rows)

    def mark_done(self) -> None:
        """Flush, and say this writer has nothing more (again only if it wrote since)."""
        self.flush()
        if self.marked_at_seq == self.seq:
            return
        self.marked_at_seq = self.seq
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / f"done.w{self.writer:03d}").write_text(f"{time.time()}\n")


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
