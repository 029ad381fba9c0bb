"""What the model counts while it runs: orders in each active status, riders on shift and busy,
kitchen slots busy. Kept up to date on every change, so utilisation is an exact time integral
and the periodic resource sample only reads counters."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, cast

import simpy

from reference_api.service import OrderService
from reference_api.statuses import ACTIVE, OrderStatus
from sim.recorder import Recorder
from sim.records import RiderState

#: Orders in each active state are sampled; the columns follow the enum's lifecycle order.
COUNTED = tuple(s for s in OrderStatus if s in ACTIVE)


class Gauges:
    __slots__ = (
        "_acc",
        "_acc_t",
        "_env",
        "_snap",
        "_spent",
        "_window",
        "counts",
        "riders_busy",
        "riders_on",
        "slots_busy",
    )

    def __init__(self, env: simpy.Environment, window: tuple[float, float]) -> None:
        self._env = env
        self._window = window
        #: rider-seconds inside the window by what riders did (``spend``)
        self._spent = {"travel": 0.0, "wait": 0.0, "handover": 0.0}
        self.counts: dict[OrderStatus, int] = dict.fromkeys(COUNTED, 0)
        self.riders_on = 0
        self.riders_busy = 0
        self.slots_busy = 0
        # utilisation integrals (rider-seconds busy / on shift, kitchen slot-seconds busy)
        self._acc_t = 0.0
        self._acc = {"busy": 0.0, "on": 0.0, "slots": 0.0}
        self._snap: dict[str, dict[str, float]] = {}

    def _accumulate(self) -> None:
        now = self._env.now
        dt = now - self._acc_t
        if dt > 0:
            acc = self._acc
            acc["busy"] += self.riders_busy * dt
            acc["on"] += self.riders_on * dt
            acc["slots"] += self.slots_busy * dt
            self._acc_t = now

    def set_busy(self, r: RiderState, busy: bool) -> None:
        self._accumulate()
        r.busy = busy
        self.riders_busy += 1 if busy else -1

    def set_on(self, r: RiderState, on: bool) -> None:
        self._accumulate()
        r.on = on
        self.riders_on += 1 if on else -1

    def slots(self, delta: int) -> None:
        self._accumulate()
        self.slots_busy += delta

    def spend(self, kind: str, start: float, end: float) -> None:
        """A rider spent ``start..end`` riding (``travel``), waiting at the restaurant
        (``wait``) or handing over (``handover``); the part inside the window counts."""
        lo, hi = self._window
        if lo <= start and end <= hi:  # nearly always: no clipping to do
            self._spent[kind] += end - start
            return
        part = (end if end < hi else hi) - (start if start > lo else lo)
        if part > 0:
            self._spent[kind] += part

    # ------------------------------------------------------------------ the measured window
    def snapshot_at(self, t: float, name: str) -> None:
        """Keep the integrals as they stand at time ``t`` (the measured window's edges)."""
        self._env.timeout(t, name).callbacks.append(self._snapshot)

    def _snapshot(self, event: simpy.Event) -> None:
        self._accumulate()
        self._snap[cast(str, event.value)] = dict(self._acc)

    def utilisation(self, window: tuple[float, float], slots: int) -> dict[str, float]:
        """Busy and available seconds within ``window`` (empty if the run ended before it
        closed); ``slots`` is the number of kitchen slots in the city."""
        a, b = self._snap.get("start"), self._snap.get("end")
        if a is None or b is None:
            return {}
        return {
            "rider_busy_s": b["busy"] - a["busy"],
            "rider_on_s": b["on"] - a["on"],
            "kitchen_busy_s": b["slots"] - a["slots"],
            "kitchen_capacity_s": slots * (window[1] - window[0]),
            **{f"rider_{kind}_s": s for kind, s in self._spent.items()},
        }

    # ------------------------------------------------------------------ resource samples
    def sampler(
        self,
        interval: float,
        kitchens: list[simpy.Resource],
        riders: int,
        svc: OrderService,
        recorder: Recorder,
        progress: Callable[[float], None] | None,
    ) -> Generator[simpy.Event, Any, None]:
        """The only periodic process, and it only observes: every ``interval`` simulated
        seconds, one resource sample (and the simulated time to ``progress``)."""
        env, counts = self._env, self.counts
        names = [f"orders_{s.value.lower()}" for s in COUNTED]
        while True:
            dispatch = svc.dispatch
            queues = [len(k.queue) for k in kitchens]
            values = {
                "riders_off": riders - self.riders_on,
                "riders_idle": self.riders_on - self.riders_busy,
                "riders_busy": self.riders_busy,
                "kitchen_slots_busy": self.slots_busy,
                "kitchen_queue": sum(queues),
                "kitchen_queue_max": max(queues),
                "orders_waiting_for_rider": dispatch.waiting_count(),
                "dispatch_decisions": dispatch.work.decisions,
                "dispatch_pairs_costed": dispatch.work.pairs_costed,
            }
            for name, status in zip(names, COUNTED, strict=True):
                values[name] = counts[status]
            values["orders_in_system"] = sum(counts.values())
            recorder.sample(env.now, values)
            if progress is not None:
                progress(env.now)
            yield env.timeout(interval)
