"""A SimPy environment whose event heap holds only the near future.

SimPy keeps every scheduled event in one binary heap. A city-scale day has tens of thousands of
events pending at once (prep timers, riders on the road, customers' patience, shift ends), and
each step's ``heappop`` walks the heap's whole depth, comparing tuples scattered across memory:
at a million orders a day the bottom levels no longer fit in the CPU caches and the pops became
the costliest single step of the run.

``BucketedEnvironment`` keeps the heap for the current time bucket only. An event due in a later
bucket waits in a plain list for its bucket (an append, touching nothing else); when the heap runs
dry the next non-empty bucket is heapified and becomes the heap. Events are processed in exactly
SimPy's order, ``(time, priority, event id)``: the bucket of a time is ``int(time / width)``,
which never decreases as time grows, so every event left in a later bucket is strictly later than
everything in the heap. A run gives the same result with either environment, step for step.
"""

from __future__ import annotations

import heapq
import sys
from typing import Any

import simpy
from simpy.core import BoundClass, EmptySchedule, StopSimulation
from simpy.events import NORMAL, Event, EventPriority

#: Bucket width in simulated seconds. A heap of one bucket's events stays small (a few hundred
#: at a million orders a day) while buckets stay few enough that moving between them is cheap.
DEFAULT_WIDTH_S = 10.0


class BucketedEnvironment(simpy.Environment):
    """``simpy.Environment`` with a two-tier schedule; use it anywhere an Environment is used."""

    def __init__(self, initial_time: float = 0, width_s: float = DEFAULT_WIDTH_S) -> None:
        if not width_s > 0:
            raise ValueError(f"bucket width must be a positive number of seconds, got {width_s!r}")
        super().__init__(initial_time)
        # ``BoundClass.bind_early`` binds ``env.timeout``, ``env.event``, ... only for attributes
        # of the instance's own class, not inherited ones: without this, every ``env.timeout``
        # went through the descriptor and built a new bound method.
        for name, obj in vars(simpy.Environment).items():
            if type(obj) is BoundClass:
                setattr(self, name, getattr(self, name))
        self._per_s = 1.0 / width_s
        #: events of buckets at or after this one wait in ``_later``; earlier ones are in the heap
        self._open = int(initial_time * self._per_s) + 1
        self._later: dict[int, list[tuple[float, EventPriority, int, Event]]] = {}
        self._later_keys: list[int] = []  # a heap of the keys of ``_later``

    def schedule(self, event: Event, priority: EventPriority = NORMAL, delay: Any = 0) -> None:
        t = self._now + delay
        try:
            k = int(t * self._per_s)
        except OverflowError:  # a timeout at infinity: after every other bucket
            k = sys.maxsize
        if k < self._open:
            heapq.heappush(self._queue, (t, priority, next(self._eid), event))
            return
        bucket = self._later.get(k)
        if bucket is None:
            bucket = self._later[k] = []
            heapq.heappush(self._later_keys, k)
        bucket.append((t, priority, next(self._eid), event))

    def _open_next(self) -> bool:
        """Make the next non-empty bucket the heap (called only when the heap is empty)."""
        if not self._later_keys:
            return False
        k = heapq.heappop(self._later_keys)
        queue = self._later.pop(k)
        heapq.heapify(queue)
        self._queue = queue
        self._open = k + 1
        return True

    def peek(self) -> float:
        if not self._queue and not self._open_next():
            return simpy.core.Infinity
        return self._queue[0][0]

    def step(self) -> None:
        # SimPy's ``Environment.step`` (simpy 4.1), with the heap refilled from the next bucket
        # when it runs dry; copied rather than wrapped because it runs once per event.
        try:
            self._now, _, _, event = heapq.heappop(self._queue)
        except IndexError:
            if not self._open_next():
                raise EmptySchedule from None
            self._now, _, _, event = heapq.heappop(self._queue)

        callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
        try:
            for callback in callbacks:
                callback(event)
        except StopSimulation:
            event.callbacks = callbacks[callbacks.index(callback) + 1 :]
            self.schedule(event, EventPriority(-1))
            raise

        if not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc
