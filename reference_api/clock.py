"""Time as an injected dependency. Rules read ``clock.now()`` (UTC epoch seconds), never the
wall clock, so the same code runs at SimPy time in the simulation and at wall time in the server."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
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
    """RFC 3339 UTC with a ``Z`` suffix, second precision as in the spec's examples.

    Every response formats a few instants, and ``strftime`` per call was the largest single cost
    of a journey; so everything up to the minute is formatted once per minute (cached) and the
    seconds come from a table. Same string as ``datetime.fromtimestamp(int(ts), UTC)
    .strftime("%Y-%m-%dT%H:%M:%SZ")``."""
    minute, second = divmod(int(ts), 60)
    return _iso_minute(minute) + _SECONDS[second]


_SECONDS = tuple(f"{s:02d}Z" for s in range(60))


def from_iso(text: str) -> float:
    """Epoch seconds of an ISO 8601 date-time with a time zone (``Z`` or an offset), as ``iso``
    writes them and RFC 3339 defines them; raises ``ValueError`` for anything else. A time with
    no zone is refused rather than guessed: the server's zone is no client's business."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"no time zone in {text!r}")
    return moment.timestamp()


@lru_cache(maxsize=4096)
def _iso_minute(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:")
