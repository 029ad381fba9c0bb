"""What every check shares: the driver, the ledger, the identities to act as (``Cast``), the
orders the run created, and the run's options. Built once by the runner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from conformance.driver import Budget, Driver, Who
from conformance.ledger import Ledger
from loadtest.identities import Address, Identities, VendorInfo
from reference_api.roles import Role
from reference_api.statuses import ACTIVE, OrderStatus


class NotTestable(Exception):
    """A check cannot be made on this target; the message says why (it becomes the reason of
    every rule the check would have observed)."""


@dataclass
class Cast:
    """Who the check acts as: one customer, the restaurant of one vendor and the system act on
    every order; the other customer, the other restaurant and the riders not assigned are the
    strangers of the access rules (D4). Riders are found by the id the target assigns (D20)."""

    identities: Identities
    customer: Who
    address: Address
    restaurant: Who
    vendor: VendorInfo
    system: Who
    other_customer: Who | None
    other_restaurant: Who | None
    riders: tuple[Who, ...]

    @classmethod
    def from_identities(cls, ids: Identities) -> Cast:
        customer, address = ids.customer(0)
        vendor = ids.vendor(0)
        restaurant = ids.restaurant_for(vendor.id)
        if restaurant is None:  # ``vendor`` picks only vendors a restaurant token acts for
            raise NotTestable(f"no restaurant token for vendor {vendor.id}")
        other_customer = next((c for c in ids.customers if c.user_id != customer.user_id), None)
        other_restaurant = next(
            (
                (i, r)
                for i, r in enumerate(ids.restaurants)
                if r.vendor_id is not None and r.vendor_id != vendor.id
            ),
            None,
        )
        return cls(
            identities=ids,
            customer=Who("customers[0]", customer),
            address=address,
            restaurant=Who(f"restaurant of vendor {vendor.name}", restaurant),
            vendor=vendor,
            system=Who("system[0]", ids.system[0]),
            other_customer=(
                None
                if other_customer is None
                else Who(f"customers[{ids.customers.index(other_customer)}]", other_customer)
            ),
            other_restaurant=(
                None
                if other_restaurant is None
                else Who(f"restaurants[{other_restaurant[0]}]", other_restaurant[1])
            ),
            riders=tuple(Who(f"riders[{i}]", r) for i, r in enumerate(ids.riders)),
        )

    def rider(self, user_id: str) -> Who | None:
        """The rider the target assigned, if some token acts for them."""
        for who in self.riders:
            if who.user_id == user_id:
                return who
        found = self.identities.rider(user_id)
        return None if found is None else Who(f"rider {user_id[:8]}", found)

    def stranger_rider(self, assigned: str | None) -> Who | None:
        """A rider who is not ``assigned``."""
        return next((r for r in self.riders if r.user_id != assigned), None)

    def owner(self, role: Role) -> Who | None:
        """The identity of ``role`` that owns every order of the run (riders: see ``rider``)."""
        return {
            Role.CUSTOMER: self.customer,
            Role.RESTAURANT: self.restaurant,
            Role.SYSTEM: self.system,
        }.get(role)


@dataclass
class TrackedOrder:
    """An order the run created, as the model of the spec says it stands: its status, the path
    of statuses its history must show, its rider and the codes read for it."""

    id: str
    number: str
    method: str
    status: OrderStatus
    path: list[str]
    rider_id: str | None = None
    pickup_code: str | None = None
    delivery_code: str | None = None
    #: kept out of the per-status clean-up (the deferred OTP checks hold it)
    reserved: bool = False
    #: when it was cancelled (monotonic), for the refund's wait
    cancelled_at: float | None = None
    #: the clean-up could not cancel it: no longer counted as held
    abandoned: bool = False
    #: the user id of whoever checked it out (the lists are judged on the run's own orders)
    placed_by: str = ""

    @property
    def active(self) -> bool:
        return self.status in ACTIVE and not self.abandoned


@dataclass
class Options:
    rider_wait_s: float = 10.0
    event_wait_s: float = 3.0
    machine_examples: int = 10
    machine_steps: int = 20


@dataclass
class Context:
    driver: Driver
    ledger: Ledger
    cast: Cast
    options: Options
    #: the signing secret, when the tokens were minted for a reference server (else None)
    secret: bytes | None = None
    progress: Callable[[str], None] = lambda _message: None
    orders: list[TrackedOrder] = field(default_factory=list)
    refund_order: TrackedOrder | None = None

    @property
    def budget(self) -> Budget:
        return self.driver.budget

    def track(self, order: TrackedOrder) -> TrackedOrder:
        self.orders.append(order)
        self.update_reserve()
        return order

    def update_reserve(self) -> None:
        """One clean-up request is kept back for every order still active."""
        self.budget.reserved = sum(1 for o in self.orders if o.active)
