"""The replay of a run's API-call log (``sim.replay``, the bench's measure of the API's own cost)
drives a fresh service through exactly what the model's service went through: every logged
outcome, every status change and assignment, at the same simulated times."""

from __future__ import annotations

import pytest

from reference_api.model import Order, Rider
from reference_api.service import OrderService
from reference_api.statuses import OrderStatus
from sim.model import Model
from sim.replay import Replay
from tests.sim.conftest import load


class Moves:
    """Every status change and assignment a service reports, in order."""

    def __init__(self, svc: OrderService) -> None:
        self.seen: list[tuple[str, str, str, float]] = []
        svc.observers.append(self)

    def moved(self, order: Order, previous: OrderStatus, now: float) -> None:
        self.seen.append((order.id, previous.value, order.status.value, now))

    def assigned(self, order: Order, rider: Rider, now: float) -> None:
        self.seen.append((order.id, "assigned", rider.id, now))


@pytest.mark.parametrize(
    ("name", "sets"),
    [
        ("baseline", []),
        ("baseline", ["dispatch.policy=rolling_horizon"]),
        ("baseline", ["dispatch.policy=just_in_time"]),
        ("cancellations", []),  # refusals, wrong and expired OTPs, refunds, every timeout
    ],
)
def test_replay_reproduces_every_call_and_move(name: str, sets: list[str]) -> None:
    model = Model(load(name, sets), seed=3, replication=0)
    ran = Moves(model.svc)
    result = model.run()
    replay = Replay.of(model, result.end_time)
    replayed = Moves(replay.svc)
    done = replay.run()
    assert done.calls == len(result.recorder.call_t) > 100
    assert done.mismatch_count == 0, done.mismatches
    assert replayed.seen == ran.seen
    assert replay.store._orders == {}  # finished orders were forgotten, as the model does
