"""The rule core, by concern (``docs/architecture.md``): ``OrderService`` is the facade that
every caller (simulation, HTTP app, tests) uses."""

from reference_api.service.core import TimerListener
from reference_api.service.facade import OrderService
from reference_api.service.refunds import AlwaysSettles, RandomFailures, RefundGateway

__all__ = ["AlwaysSettles", "OrderService", "RandomFailures", "RefundGateway", "TimerListener"]
