"""The service's timers (auto-cancel, payment timeout, refund steps) applied in wall time.

Timers are rows in the store, so they survive a restart; this task only decides when to ask the
service to fire what is due. It sleeps until the earliest due timer and is woken early when the
service schedules an earlier one, rather than polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from reference_api.clock import Clock
from reference_api.http.runner import ServiceRunner

log = logging.getLogger("orderflow.timers")


class TimerLoop:
    def __init__(self, runner: ServiceRunner, clock: Clock, *, max_sleep_s: float = 5.0) -> None:
        self._runner = runner
        self._clock = clock
        self._max_sleep = max_sleep_s
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next_due: float | None = None
        self.fired = 0
        runner.service.timer_listeners.append(self._scheduled)

    def _scheduled(self, due: float) -> None:
        """Service hook (worker thread): a timer was added; wake up if it is the earliest."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if self._next_due is None or due < self._next_due:
            loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        service = self._runner.service
        while True:
            self._wake.clear()
            try:
                fired = await self._runner.call(service.process_due_timers)
                self.fired += len(fired)
                self._next_due = await self._runner.call(service.next_timer_due)
            except Exception:
                log.exception("processing due timers failed; retrying")
                self._next_due = None
            delay = self._max_sleep
            if self._next_due is not None:
                delay = min(delay, max(0.0, self._next_due - self._clock.now()))
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
