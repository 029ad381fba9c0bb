"""Time as an injected dependency. Rules read ``clock.now()`` (UTC epoch seconds), never the
wall clock, so the same code runs at SimPy time in the simulation and at wall time in the server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...


class ManualClock:
    """A clock tests and tools move by hand."""

    __slots__ = ("t",)

    def __init__(self, start: float = 1_705_312_800.0) -> None:  # 2024-01-15T10:00:00Z
        self.t = start

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def iso(ts: float) -> str:
    """RFC 3339 UTC with a ``Z`` suffix, second precision as in the spec's examples."""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_precise(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")
