"""The bucketed environment must process events exactly as plain SimPy does."""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import Any

import pytest
import simpy

from sim.scheduler import BucketedEnvironment


def _trace(env: simpy.Environment, seed: int) -> list[tuple[float, int, str]]:
    """A random mix of timeouts (near, far, zero, equal times), processes, plain events,
    urgent events and a shared resource; returns what ran, when, in which order."""
    rng = random.Random(seed)
    log: list[tuple[float, int, str]] = []
    res = simpy.Resource(env, capacity=2)

    def note(tag: str) -> Any:
        return lambda ev: log.append((env.now, id(ev) % 1, tag))

    def worker(k: int) -> Generator[simpy.Event, Any, None]:
        for step in range(rng.randint(1, 6)):
            delay = rng.choice([0.0, 1.0, 2.5, rng.uniform(0, 100), rng.uniform(0, 5000), 10.0])
            yield env.timeout(delay)
            log.append((env.now, k, f"w{k}.{step}"))
            if rng.random() < 0.3:
                with res.request() as req:
                    yield req
                    log.append((env.now, k, f"w{k}.got"))
                    yield env.timeout(rng.uniform(0, 30))
            if rng.random() < 0.2:
                ev = env.event()
                env.timeout(rng.uniform(0, 50)).callbacks.append(lambda _e, ev=ev: ev.succeed())
                yield ev
                log.append((env.now, k, f"w{k}.signal"))

    for k in range(60):
        env.timeout(
            rng.choice([0.0, 9.999999, 10.0, 10.000001, rng.uniform(0, 3000)])
        ).callbacks.append(note(f"t{k}"))
        env.process(worker(k))
    env.run()
    return log


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("width", [0.5, 10.0, 1000.0])
def test_same_order_as_plain_simpy(seed: int, width: float) -> None:
    plain = _trace(simpy.Environment(), seed)
    bucketed = _trace(BucketedEnvironment(width_s=width), seed)
    assert len(plain) > 60
    assert bucketed == plain


@pytest.mark.parametrize("make", [simpy.Environment, lambda: BucketedEnvironment(width_s=10.0)])
def test_run_until_a_time_and_peek(make: Any) -> None:
    env = make()
    seen: list[float] = []
    for t in (5.0, 25.0, 25.0, 400.0):
        env.timeout(t).callbacks.append(lambda _e: seen.append(env.now))
    assert env.peek() == 5.0
    env.run(until=100.0)
    assert seen == [5.0, 25.0, 25.0]
    assert env.now == 100.0
    env.step()  # SimPy re-queues the stopping event; then the far bucket is found
    assert env.peek() == 400.0
    env.run()
    assert seen == [5.0, 25.0, 25.0, 400.0]
    assert env.peek() == float("inf")


def test_bad_width_is_refused() -> None:
    with pytest.raises(ValueError, match="bucket width"):
        BucketedEnvironment(width_s=0)
