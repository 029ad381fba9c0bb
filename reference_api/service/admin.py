"""Fixtures an operator registers (vendors, users): not endpoints of the spec, but every
deployment and simulation needs them before the first order."""

from __future__ import annotations

from reference_api.model import Rider, User, Vendor
from reference_api.roles import Role
from reference_api.service.core import Part


class Admin(Part):
    def add_vendor(self, vendor: Vendor) -> None:
        """A vendor, and its owner as a restaurant user unless they exist already."""
        with self.store.transaction():
            self.store.add_vendor(vendor)
            if self.store.get_user(vendor.owner_user_id) is None:
                self.store.add_user(User(vendor.owner_user_id, vendor.name, Role.RESTAURANT.value))

    def add_user(self, user: User) -> None:
        """A user; a rider also gets their (off-duty) rider record."""
        with self.store.transaction():
            self.store.add_user(user)
            if user.role == Role.RIDER.value and self.store.get_rider(user.id) is None:
                self.store.save_rider(Rider(user.id, user.name))
