"""The executable specification of the order API: a pure core (statuses, permissions, OTP,
money, ETA), a service layer with one method per endpoint, and stores behind a small port."""

from reference_api.bootstrap import bootstrap
from reference_api.roles import Actor, Role
from reference_api.service import OrderService
from reference_api.statuses import OrderStatus

__all__ = ["Actor", "OrderService", "OrderStatus", "Role", "bootstrap"]
