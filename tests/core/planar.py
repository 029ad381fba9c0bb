"""A small town in planar geometry (D27) for service-level tests: one restaurant at the origin,
customers and riders placed in metres where a test wants them, a manual clock, and MDRP's
travel times (whole minutes at ``metres_per_minute``), so every ride is an exact number."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reference_api import bootstrap
from reference_api.clock import ManualClock
from reference_api.dispatch import DispatchSpec
from reference_api.model import Order, User, Vendor
from reference_api.policy import Policy
from reference_api.roles import SYSTEM_ACTOR, Actor, Role
from reference_api.service import OrderService

ITEMS: list[Mapping[str, Any]] = [{"name": "Margherita", "quantity": 1, "unit_price": "374.00"}]
#: MDRP's instances ride at 320 m a minute; an easier number keeps the arithmetic readable.
PACE = 100.0
VENDOR = Vendor("vendor-0", "Pizza Palace", "owner-0", 0.0, 0.0)
RESTAURANT = Actor(Role.RESTAURANT, "owner-0", "Pizza Palace", "vendor-0")
CUSTOMER = Actor(Role.CUSTOMER, "customer-0", "Customer 0")


@dataclass
class Town:
    svc: OrderService
    clock: ManualClock
    riders: dict[str, Actor] = field(default_factory=dict)

    def rider(self, name: str) -> Actor:
        """The rider ``name``, registered (off duty) the first time it is asked for."""
        found = self.riders.get(name)
        if found is None:
            found = self.riders[name] = Actor(Role.RIDER, name, name)
            self.svc.add_user(User(name, name, Role.RIDER.value))
        return found

    def on_duty(
        self, name: str, at: tuple[float, float], until: float | None = None
    ) -> dict[str, Any]:
        """Rider ``name`` goes available at ``at`` (northing, easting metres) until ``until``."""
        lat, lon = at
        return self.svc.set_rider_availability(
            self.rider(name), available=True, latitude=lat, longitude=lon, until=until
        )

    def place(self, to: tuple[float, float] = (0.0, 1000.0)) -> str:
        lat, lon = to
        order = self.svc.place_order(
            CUSTOMER,
            vendor_id=VENDOR.id,
            items=ITEMS,
            delivery_address={"latitude": lat, "longitude": lon},
        )
        return str(order["id"])

    def confirm(self, oid: str, prep_minutes: int = 20) -> None:
        self.svc.confirm(RESTAURANT, oid, estimated_prep_time=prep_minutes)

    def order(self, oid: str) -> Order:
        order = self.svc.store.get_order(oid)
        assert order is not None
        return order

    def rider_of(self, oid: str) -> str | None:
        return self.order(oid).rider_id

    def elapse(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.svc.process_due_timers()

    def eta_minutes(self, oid: str) -> int | None:
        minutes: int | None = self.svc.eta(SYSTEM_ACTOR, oid)["current_eta_minutes"]
        return minutes


def make_town(dispatch: str = "at_confirm", **policy: Any) -> Town:
    """A town whose strategy ``dispatch`` is built from the policy, as the server builds it."""
    settings: dict[str, Any] = {"metres_per_minute": PACE, **policy}
    chosen = Policy().with_overrides(**settings)
    clock = ManualClock()
    svc = bootstrap(
        clock=clock,
        seed=1,
        policy=chosen,
        dispatch=DispatchSpec.parse(dispatch, {}).build(chosen),
    )
    svc.add_vendor(VENDOR)
    svc.add_user(User(CUSTOMER.user_id, CUSTOMER.name, Role.CUSTOMER.value))
    return Town(svc, clock)
