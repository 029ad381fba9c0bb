"""What the master sends a worker with its share, so that a worker needs no file of the
master's (no scenario, trace or tokens file, no shared disk): its orders, the run's identities
when they came from a tokens file, and the plan's settings. Plain lists and dicts, because
Locust's messages are msgpack."""

from __future__ import annotations

from typing import Any

from loadtest.identities import Identities, parse_identities
from loadtest.minting import resolve_identities
from loadtest.plan import Plan, PlannedCall, PlannedOrder


def encode_share(plan: Plan, index: int, of: int, identities: Identities,
                 from_tokens_file: bool) -> dict[str, Any]:  # fmt: skip
    """The plan's share ``index`` of ``of``; minted identities are minted again by the worker
    (they hold a resolver for any fixture rider, which does not travel)."""
    orders = [
        [o.key, o.index, o.arrival_s, o.kind, o.payment_method, o.vendor_index,
         o.customer_index, o.ws,
         [[c.offset_s, c.role, c.operation, c.params, c.expected] for c in o.calls]]
        for o in plan.share(index, of)
    ]  # fmt: skip
    return {
        "orders": orders,
        "speedup": plan.speedup,
        "source": plan.source,
        "background": plan.background,
        "identities": identities.as_json() if from_tokens_file else None,
    }


def decode_share(data: dict[str, Any]) -> tuple[Plan, Identities]:
    """The worker's plan (only its own orders) and who to act as."""
    orders = tuple(
        PlannedOrder(
            key=str(key), index=int(index), arrival_s=float(arrival), kind=str(kind),
            payment_method=str(payment), vendor_index=int(vendor),
            customer_index=int(customer), ws=bool(ws),
            calls=tuple(
                PlannedCall(float(off), str(role), str(op), dict(params or {}), str(expected))
                for off, role, op, params, expected in calls
            ),
        )
        for key, index, arrival, kind, payment, vendor, customer, ws, calls in data["orders"]
    )  # fmt: skip
    raw = data.get("identities")
    identities = (
        parse_identities(raw, where="the master's tokens")
        if raw is not None
        else resolve_identities(None)
    )
    plan = Plan(orders, float(data["speedup"]), str(data["source"]), float(data["background"]))
    return plan, identities
