"""Checkout (an extension: the spec starts after it): price the basket, promise a delivery time,
create the order in its first status and arm its first rule timer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from reference_api.errors import NotFound
from reference_api.model import Address, Order, Vendor
from reference_api.money import order_totals
from reference_api.roles import Actor
from reference_api.service import parsing
from reference_api.service.core import Part
from reference_api.states import PaymentMethod, PaymentStatus, TimerKind
from reference_api.statuses import OrderStatus

S = OrderStatus
_R = TypeVar("_R")


class Checkout(Part):
    def place(
        self,
        actor: Actor,
        vendor_id: str,
        items: list[Mapping[str, Any]],
        delivery_address: Mapping[str, Any],
        payment_method: object,
        render: Callable[[Order], _R],
    ) -> _R:
        self.authorize(actor, "place_order")
        lines = parsing.items(items)
        address = parsing.address(delivery_address, planar=self.policy.metres_per_minute > 0)
        method = parsing.payment_method(payment_method)
        with self.store.transaction():
            vendor = self.store.get_vendor(vendor_id)
            if vendor is None:
                raise NotFound(f"vendor {vendor_id} not found", field="vendor")
            now = self.clock.now()
            policy = self.policy
            subtotal, fee, tax, total = order_totals(
                tuple([(ln.quantity, ln.unit_price) for ln in lines]),
                policy.delivery_fee,
                policy.tax_rate,
            )
            number = self._order_number()
            online = method is PaymentMethod.ONLINE
            order = Order(
                id=self.uuid(),
                order_number=number,
                customer_id=actor.user_id,
                customer_name=actor.display,
                vendor_id=vendor.id,
                vendor_name=vendor.name,
                status=S.PAYMENT_PENDING if online else S.ORDER_PLACED,
                items=lines,
                address=address,
                restaurant_lat=vendor.latitude,
                restaurant_lon=vendor.longitude,
                subtotal=subtotal,
                delivery_fee=fee,
                tax_amount=tax,
                total_amount=total,
                payment_method=method,
                payment_status=PaymentStatus.PENDING,
                placed_at=now,
                estimated_delivery_time=now + self._promise_seconds(vendor, address),
            )
            self.track(order, S.ORDER_PLACED._value_, "Order placed by customer", actor, None, now)
            if online:
                self.track(
                    order, S.PAYMENT_PENDING._value_, "Awaiting online payment", actor, None, now
                )
                self.arm(now + policy.payment_timeout_s, TimerKind.PAYMENT_TIMEOUT, order.id)
            else:
                self.arm(now + policy.confirm_timeout_s, TimerKind.CONFIRM_TIMEOUT, order.id)
            self.store.add_order(order)
            return render(order)

    def _order_number(self) -> str:
        while True:
            number = f"ORD{self.rng.randrange(10_000_000, 100_000_000)}"
            if not self.store.order_number_exists(number):
                return number

    def _promise_seconds(self, vendor: Vendor, address: Address) -> float:
        """The promise at checkout: confirmation allowance, default preparation, the ride and
        the handover (D10)."""
        p = self.policy
        ride = p.geometry.seconds(
            vendor.latitude, vendor.longitude, address.latitude, address.longitude
        )
        return p.confirm_allowance_s + p.default_prep_minutes * 60 + ride + p.handover_s
