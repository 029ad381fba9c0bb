"""Who is acting: roles and the acting user, as passed into every service call."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    CUSTOMER = "customer"
    RESTAURANT = "restaurant"
    RIDER = "rider"
    SYSTEM = "system"


ROLE_ALIASES: dict[str, Role] = {
    "restaurant_owner": Role.RESTAURANT,
    "vendor": Role.RESTAURANT,
    "delivery_partner": Role.RIDER,
    "delivery_person": Role.RIDER,
    "admin": Role.SYSTEM,
}


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        role = ROLE_ALIASES.get(value)
        if role is None:
            known = ", ".join([*(r.value for r in Role), *ROLE_ALIASES])
            raise ValueError(f"unknown role {value!r}; known roles: {known}") from None
        return role


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated caller. ``vendor_id`` is set for restaurant owners only."""

    role: Role
    user_id: str
    name: str = ""
    vendor_id: str | None = None
    #: how the actor is named in history and events; computed once (read on every transition)
    display: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "display", self.name or f"{self.role.value}:{self.user_id[:8]}")


SYSTEM_ACTOR = Actor(Role.SYSTEM, "00000000-0000-4000-8000-000000000000", "System")
