"""Every service call runs here: on one worker thread, inside one store transaction.

One thread makes calls strictly sequential, so two riders racing for a pickup or a cancel racing
a confirm are decided by the order they reach the worker, and the loser sees the winner's
committed state. The outer transaction makes each call atomic even where the service opens
several (the store's ``transaction()`` is re-entrant), and it commits before the HTTP response is
written, so an acknowledged transition is on disk. The event loop never blocks on SQLite.

Domain events are held back until the call's transaction has ended: subscribers never hear of a
change that was rolled back.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from reference_api.errors import OrderflowError
from reference_api.events import DomainEvent
from reference_api.service import OrderService

P = ParamSpec("P")
T = TypeVar("T")
EventListener = Callable[[list[DomainEvent]], None]

log = logging.getLogger("orderflow.server")


class ServiceRunner:
    def __init__(self, service: OrderService, *, on_rollback: Callable[[], None] | None = None):
        self.service = service
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orderflow-service")
        self._pending: list[DomainEvent] = []
        self._listeners: list[EventListener] = []
        self._on_rollback = on_rollback
        service.sinks.append(self._pending.append)

    def add_listener(self, listener: EventListener) -> None:
        """``listener`` is called on the worker thread with each committed batch of events."""
        self._listeners.append(listener)

    async def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        job = functools.partial(self._run, fn, args, kwargs)
        return await loop.run_in_executor(self._executor, job)

    def call_sync(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """For code outside the event loop (start-up, tools): same thread, same guarantees."""
        return self._executor.submit(self._run, fn, args, kwargs).result()

    def _run(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        try:
            with self.service.store.transaction():
                result = fn(*args, **kwargs)
        except OrderflowError:
            self._publish()  # committed: the service keeps what it wrote before a domain error
            raise
        except BaseException:
            self._pending.clear()
            log.exception("service call %s failed; transaction rolled back", _name(fn))
            if self._on_rollback is not None:
                self._on_rollback()
            raise
        self._publish()
        return result

    def _publish(self) -> None:
        if not self._pending:
            return
        batch, self._pending[:] = list(self._pending), []
        for listener in self._listeners:
            try:
                listener(batch)
            except Exception:
                log.exception("event listener failed")

    def close(self) -> None:
        self._executor.shutdown(wait=True)


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__name__", repr(fn))
