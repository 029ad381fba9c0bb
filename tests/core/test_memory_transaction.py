"""The memory store's transaction isolates threads that share it (a served memory store) and
nests within one thread (the service opens transactions inside transactions)."""

from __future__ import annotations

import threading

from reference_api.store.memory import MemoryStore


def test_transactions_nest_in_one_thread_and_exclude_other_threads() -> None:
    store = MemoryStore()
    inside = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def holder() -> None:
        with store.transaction(), store.transaction():  # reentrant: no self-deadlock
            order.append("a-in")
            inside.set()
            release.wait(5)
            order.append("a-out")

    def other() -> None:
        with store.transaction():
            order.append("b-in")

    a = threading.Thread(target=holder)
    a.start()
    assert inside.wait(5)
    b = threading.Thread(target=other)
    b.start()
    b.join(0.2)
    assert b.is_alive(), "a second thread entered while the first held the transaction"
    release.set()
    a.join(5)
    b.join(5)
    assert order == ["a-in", "a-out", "b-in"]
