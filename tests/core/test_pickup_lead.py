"""The pickup lead (D28) in the strategies that time riders to the food: a rider who needs
``pickup_lead_s`` at the restaurant before taking the food (MDRP: walking in; a rider who has
just handed an order over also walks back first) is sent that much earlier by ``just_in_time``
and costed and committed that much later-arriving by ``rolling_horizon``. With no lead both keep
their old timing exactly."""

from __future__ import annotations

from reference_api.dispatch import Assignment, JustInTime
from reference_api.dispatch.rolling_horizon import RollingHorizon
from reference_api.geo import Geometry
from tests.core.planar import PACE
from tests.core.test_dispatch_strategies import _order

PLANAR = Geometry(metres_per_minute=PACE)
REST = (0.0, 0.0)
NEAR = (0.0, 500.0)  # 5 minutes from the restaurant


def test_just_in_time_sends_the_rider_the_lead_earlier() -> None:
    for lead, offer in ((0.0, 1_500.0), (120.0, 1_380.0)):
        jit = JustInTime(PLANAR, slack_s=0.0, pickup_lead_s=lead)
        jit.rider_available("r", *NEAR)
        assert jit.order_waiting(_order("o1", REST, ready=1_800.0), 0.0) is None
        assert jit.due() == offer  # ready - ride (300) - lead
        assert jit.decide(offer) == [Assignment("r", ("o1",))]


def test_rolling_horizon_commits_a_rider_the_lead_earlier() -> None:
    """Food ready at 420, the rider 5 minutes away, rounds every 2 minutes: with no lead the
    ideal departure (120) is beyond the half interval, so the round waits; with a 2-minute lead
    the rider must leave now, and is sent."""
    for lead, committed in ((0.0, False), (120.0, True)):
        rh = RollingHorizon(PLANAR, interval_s=120.0, horizon_s=3_600.0, pickup_lead_s=lead)
        rh.rider_available("r", *NEAR)
        rh.order_waiting(_order("o1", REST, ready=420.0), 0.0)
        assert (rh.decide(0.0) == [Assignment("r", ("o1",))]) is committed, lead
