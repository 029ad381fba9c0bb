"""Rider updates (an extension: the spec implies them): going on or off duty, and the periodic
position report that is pushed to the current order's watchers."""

from __future__ import annotations

from typing import Any

from reference_api import events as ev
from reference_api.errors import NotFound, ValidationFailed
from reference_api.model import Rider
from reference_api.presenters import rider_location, rider_view
from reference_api.roles import Actor
from reference_api.service import parsing
from reference_api.service.core import Core, Part
from reference_api.service.dispatching import Dispatching


class Riders(Part):
    def __init__(self, core: Core, dispatching: Dispatching) -> None:
        super().__init__(core)
        self.dispatching = dispatching

    def set_availability(
        self,
        actor: Actor,
        available: bool,
        latitude: object,
        longitude: object,
        until: object = None,
    ) -> dict[str, Any]:
        self.authorize(actor, "rider_update")
        planar = self.policy.metres_per_minute > 0
        ends = None if until is None else parsing.instant(until, "available_until")
        with self.store.transaction():
            rider = self._rider(actor)
            if latitude is not None or longitude is not None:
                rider.latitude, rider.longitude = parsing.point(latitude, longitude, planar=planar)
                rider.location_updated_at = self.clock.now()
            if available and rider.latitude is None:
                raise ValidationFailed(
                    "latitude/longitude: a rider going available must report a position",
                    field="latitude",
                )
            rider.available = bool(available)
            rider.available_until = ends if rider.available else None
            self.store.save_rider(rider)
            if rider.dispatchable:
                self.dispatching.offer(rider)
            else:
                self.dispatching.rider_off(rider)
            return rider_view(rider)

    def update_location(self, actor: Actor, latitude: object, longitude: object) -> dict[str, Any]:
        self.authorize(actor, "rider_update")
        with self.store.transaction():
            rider = self._rider(actor)
            planar = self.policy.metres_per_minute > 0
            rider.latitude, rider.longitude = parsing.point(latitude, longitude, planar=planar)
            now = self.clock.now()
            rider.location_updated_at = now
            self.store.save_rider(rider)
            self.dispatching.rider_moved(rider)
            if self.sinks:
                for order_id in rider.order_ids:  # every order of a bundle is watched
                    order = self.store.get_order(order_id)
                    if order is not None:
                        data = rider_location(rider)
                        self.publish(
                            ev.LOCATION_UPDATED, order, order.status, now, actor.display, data
                        )
            return rider_view(rider)

    def _rider(self, actor: Actor) -> Rider:
        rider = self.store.get_rider(actor.user_id)
        if rider is None:
            raise NotFound(f"rider {actor.user_id} not found")
        return rider
