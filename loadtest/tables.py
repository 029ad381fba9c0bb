"""The run directory's tables and their column types, in one place: the writer, the merge and the
documentation (docs/run-directories.md) follow this list, and the reports engineer reads it."""

from __future__ import annotations

import pyarrow as pa

REQUESTS = pa.schema(
    [
        ("intended_ts", pa.float64()),
        ("ready_ts", pa.float64()),
        ("start_ts", pa.float64()),
        ("end_ts", pa.float64()),
        ("endpoint", pa.string()),
        ("method", pa.string()),
        ("role", pa.string()),
        ("status", pa.int32()),
        ("bytes", pa.int64()),
        ("error", pa.string()),
        ("journey", pa.string()),
        ("journey_id", pa.string()),
        ("order_id", pa.string()),
        ("worker", pa.int32()),
        ("planned", pa.bool_()),
    ]
)

JOURNEYS = pa.schema(
    [
        ("journey_id", pa.string()),
        ("kind", pa.string()),
        ("planned_ts", pa.float64()),
        ("start_ts", pa.float64()),
        ("end_ts", pa.float64()),
        ("outcome", pa.string()),
        ("final_status", pa.string()),
        ("order_id", pa.string()),
        ("failure_reason", pa.string()),
        ("worker", pa.int32()),
    ]
)

WS_EVENTS = pa.schema(
    [
        ("order_id", pa.string()),
        ("event_type", pa.string()),
        ("new_status", pa.string()),
        ("acked_ts", pa.float64()),
        ("received_ts", pa.float64()),
        ("delay_ms", pa.float64()),
        ("worker", pa.int32()),
    ]
)

PLANNED = pa.schema(
    [
        ("intended_ts", pa.float64()),
        ("endpoint", pa.string()),
        ("method", pa.string()),
        ("role", pa.string()),
        ("journey", pa.string()),
        ("journey_id", pa.string()),
        ("share", pa.int32()),
        ("params", pa.string()),
    ]
)

TABLES: dict[str, pa.Schema] = {
    "requests": REQUESTS,
    "journeys": JOURNEYS,
    "ws_events": WS_EVENTS,
}

#: Journey outcomes.
OK = "ok"  # ended in the status its kind requires, every response as the spec allows
FAILED = "failed"  # the server did something the spec forbids, or an error stopped it
UNFINISHED = "unfinished"  # the run's time or request bound ended it first
