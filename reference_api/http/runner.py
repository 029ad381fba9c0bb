"""Every service call runs here: one at a time, inside one store transaction.

Calls are strictly sequential, so two riders racing for a pickup or a cancel racing a confirm
are decided by the order they arrive, and the loser sees the winner's committed state. The outer
transaction makes each call atomic even where the service opens several (the store's
``transaction()`` is re-entrant), and it commits before the HTTP response is written, so an
acknowledged transition is on disk.

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
    """Runs service calls one at a time, each in one store transaction.

    By default a call runs right on the event loop thread: a call is short (tens of
    microseconds; a WAL commit at ``synchronous=NORMAL`` does not fsync) and never awaits, so
    calls cannot interleave, and handing each one to a thread costs more CPU (GIL hand-offs,
    wake-ups) than the call itself. With ``offload=True`` (for ``synchronous=FULL``, where every
    commit waits for the disk) calls run on one dedicated worker thread instead, still one at a
    time, and the loop keeps serving sockets meanwhile.
    """

    def __init__(
        self,
        service: OrderService,
        *,
        offload: bool = False,
        on_rollback: Callable[[], None] | None = None,
    ) -> None:
        self.service = service
        self.offload = offload
        self._executor = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="orderflow-service")
            if offload
            else None
        )
        self._pending: list[DomainEvent] = []
        self._listeners: list[EventListener] = []
        self._on_rollback = on_rollback
        service.sinks.append(self._pending.append)

    def add_listener(self, listener: EventListener) -> None:
        """``listener`` is called with each committed batch of events (on the thread that ran
        the call)."""
        self._listeners.append(listener)

    async def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        if self._executor is None:
            return self._run(fn, args, kwargs)
        loop = asyncio.get_running_loop()
        job = functools.partial(self._run, fn, args, kwargs)
        return await loop.run_in_executor(self._executor, job)

    async def read(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Like ``call``, one at a time with every other call, but without an outer transaction:
        for a read of committed state (one ``SELECT``, or a service method, which opens its
        own)."""
        if self._executor is None:
            return fn(*args, **kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

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
        if self._executor is not None:
            self._executor.shutdown(wait=True)


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__name__", repr(fn))
