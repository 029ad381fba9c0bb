"""Schemathesis against the reference server, as ``st run`` runs it: every phase (examples,
coverage, fuzzing, stateful) and every check, aimed at the app in-process (ASGI) or at a real
``orderflow serve``, and judged as the CLI judges a run (its exit code, failures and warnings).

Driven from Python rather than the ``st`` command so one harness serves both transports and the
test can say why a run failed. The engine is Schemathesis's own; its CLI's event loop (from
``schemathesis.cli``, pinned in constraints.txt with the rest) renders the report and collects
the warnings, among them "missing test data" (operations answered mostly 404).

Who calls: each operation is sent with the token of the role that performs it (``ROLES``): the
customer checks out and reads, the restaurant of the order's vendor runs the kitchen, the rider
the order is assigned to picks it up and delivers it, the system records payments and drives the
generic status endpoint. Checkout is pinned to that vendor, so every order the fuzzer places is
one the restaurant, and then a rider, can act on; the rest of each request is Schemathesis's.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from requests.structures import CaseInsensitiveDict
from schemathesis.cli.commands.run.context import ExecutionContext
from schemathesis.cli.commands.run.handlers.output import OutputHandler
from schemathesis.cli.events import LoadingFinished, LoadingStarted
from schemathesis.engine import events, from_schema
from schemathesis.engine.run import PhaseName
from schemathesis.schemas import BaseSchema

from reference_api.fixtures import Fixtures
from reference_api.roles import SYSTEM_ACTOR, Actor, Role
from tests.server.harness import token

PHASES = ("examples", "coverage", "fuzzing", "stateful")
#: Statuses a schema-valid request may get besides a 2xx: the spec answers a move the order's
#: state does not allow, and a wrong or expired code, with 400, and a locked code with 423. Those
#: say nothing about the request's shape; 422 (a request refused on its data) stays a failure.
STATE_REFUSALS = ("400", "423")
ASSIGNED_RIDER = "assigned rider"

#: The role whose token each operation is sent with (``permissions.ACTION_ROLES`` allows it).
ROLES: dict[str, Role | str] = {
    "place_order": Role.CUSTOMER,
    "list_orders": Role.CUSTOMER,
    "get_order": Role.CUSTOMER,
    "history": Role.CUSTOMER,
    "eta": Role.CUSTOMER,
    "cancel": Role.CUSTOMER,
    "available_orders": Role.RIDER,
    "set_rider_availability": Role.RIDER,
    "update_rider_location": Role.RIDER,
    "confirm": Role.RESTAURANT,
    "reject": Role.RESTAURANT,
    "start_preparing": Role.RESTAURANT,
    "mark_ready": Role.RESTAURANT,
    "restaurant_queue": Role.RESTAURANT,
    "pickup": ASSIGNED_RIDER,
    "start_delivery": ASSIGNED_RIDER,
    "complete_delivery": ASSIGNED_RIDER,
    "verify_otp": ASSIGNED_RIDER,
    "record_payment": Role.SYSTEM,
    "update_status": Role.SYSTEM,
    "get_otp": Role.SYSTEM,  # reads either code (the restaurant's pickup, the customer's delivery)
    "resend_otp": Role.SYSTEM,
}


class RoleAuth:
    """A Schemathesis auth provider: the token of the role that performs the case's operation.
    For a rider's action on an order, that order's rider (looked up as the system sees it), so
    the action is the rider's own. An order nobody rides (yet, or any more) is acted on by the
    system, which may do what a rider may (D4): another rider would get the 404 an order of
    someone else gets, which a client following a link from checkout rightly calls a bug."""

    def __init__(self, fx: Fixtures, fetch: Callable[[str], dict[str, Any] | None]) -> None:
        self._fetch = fetch
        self._tokens: dict[str, str] = {}
        self._actors = {
            Role.CUSTOMER: fx.customers[0],
            Role.RESTAURANT: fx.restaurants[0],
            Role.RIDER: fx.riders[-1],  # goes on and off duty; never the one assigned below
            Role.SYSTEM: SYSTEM_ACTOR,
        }
        self._riders = {a.user_id: a for a in fx.riders}
        self.sent: Counter[str] = Counter()

    def _token(self, actor: Actor) -> str:
        known = self._tokens.get(actor.user_id)
        if known is None:
            known = self._tokens[actor.user_id] = token(actor, ttl=86_400)
        return known

    def _assigned(self, order_id: object) -> Actor:
        detail = self._fetch(f"/api/orders/{order_id}/") if isinstance(order_id, str) else None
        rider = self._riders.get(str(detail.get("delivery_person"))) if detail else None
        return rider or SYSTEM_ACTOR

    def get(self, case: schemathesis.Case[Any], ctx: schemathesis.AuthContext) -> str:
        operation = str(ctx.operation.definition.raw.get("operationId"))
        role = ROLES[operation]
        if role == ASSIGNED_RIDER:
            actor = self._assigned((case.path_parameters or {}).get("order_id"))
        else:
            actor = self._actors[Role(role)]
        self.sent[f"{operation} as {actor.role.value}"] += 1
        return self._token(actor)

    def set(self, case: schemathesis.Case[Any], data: str, ctx: schemathesis.AuthContext) -> None:
        if case.headers is None:
            case.headers = CaseInsensitiveDict()
        case.headers["Authorization"] = f"Bearer {data}"


#: Orders made before the run, per operation, in a status that operation can move on from
#: (``STAGES`` names each by the steps that bring a fresh order there), ``ORDERS_PER_STAGE`` of
#: each; an action uses up what it moves, so no two operations share one.
STAGED: dict[str, tuple[str, ...]] = {
    "confirm": ("placed",),
    "reject": ("placed",),
    "cancel": ("placed",),
    "update_status": ("placed", "placed"),
    "record_payment": ("online",),
    "start_preparing": ("confirmed",),
    "mark_ready": ("preparing",),
    "pickup": ("ready",),
    "start_delivery": ("picked_up",),
    "complete_delivery": ("out",),
    "get_otp": ("ready", "out"),
    "verify_otp": ("out",),  # the delivery code: the type a request leaves out
    "resend_otp": ("ready", "out"),
}
STAGES = ("confirmed", "preparing", "ready", "picked_up", "out")
ORDERS_PER_STAGE = 2
#: How often a case takes a staged order rather than an id of its own, and how often a case on
#: a staged order then tells the code the rider was given: mostly, so the code is used before
#: the wrong guesses lock it.
STAGED_SHARE = 0.5
CODE_SHARE = 0.9


@dataclass
class Staged:
    """The staged orders' ids and the codes a rider would be told, per operation."""

    orders: dict[str, list[str]] = field(default_factory=dict)
    codes: dict[str, list[str]] = field(default_factory=dict)


def stage_orders(session: requests.Session, base_url: str, fx: Fixtures, vendor: int = 0) -> Staged:
    """Walk fresh orders to the statuses ``STAGED`` asks for, through the API itself."""

    def call(actor: Actor, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token(actor, ttl=86_400)}"}
        response = session.request(method, base_url.rstrip("/") + path, headers=headers, **kwargs)
        assert response.status_code in (200, 201), (method, path, response.text)
        return response.json()

    customer, restaurant = fx.customers[0], fx.restaurants[vendor]
    riders = {a.user_id: a for a in fx.riders}
    lat, lon = fx.customer_homes[0]

    def place(method: str) -> str:
        body = {
            "vendor": fx.vendors[vendor].id,
            "items": [{"name": "Margherita", "quantity": 1, "unit_price": "374.00"}],
            "delivery_address": {"latitude": lat, "longitude": lon},
            "payment_method": method,
        }
        order_id: str = call(customer, "POST", "/api/orders/", json=body)["id"]
        return order_id

    def code(order_id: str, kind: str) -> str:
        otp: str = call(SYSTEM_ACTOR, "GET", f"/api/orders/{order_id}/otp/?type={kind}")["otp"]
        return otp

    def walk(stage: str) -> tuple[str, str | None]:
        order_id = place("online" if stage == "online" else "cod")
        if stage in ("placed", "online"):
            return order_id, None
        kitchen = STAGES.index(stage)
        for step in ("confirm", "start-preparing", "mark-ready")[: kitchen + 1]:
            call(restaurant, "POST", f"/api/restaurants/orders/{order_id}/{step}/")
        if stage in ("confirmed", "preparing"):
            return order_id, None
        if stage == "ready":
            return order_id, code(order_id, "pickup")
        rider_id = call(SYSTEM_ACTOR, "GET", f"/api/orders/{order_id}/")["delivery_person"]
        rider = riders.get(rider_id, SYSTEM_ACTOR)
        call(
            rider, "POST", f"/api/orders/{order_id}/pickup/", json={"otp": code(order_id, "pickup")}
        )
        if stage == "picked_up":
            return order_id, None
        call(rider, "POST", f"/api/orders/{order_id}/start-delivery/")
        return order_id, code(order_id, "delivery")

    staged = Staged()
    for operation, stages in STAGED.items():
        for stage in stages:
            for _ in range(ORDERS_PER_STAGE):
                order_id, otp = walk(stage)
                staged.orders.setdefault(operation, []).append(order_id)
                if otp is not None:
                    staged.codes.setdefault(operation, []).append(otp)
    return staged


def config(
    *, vendor_id: str, staged: Staged, max_examples: int, seed: int, stateful_steps: int
) -> schemathesis.Config:
    """The run's configuration: every phase, every check (a response time limit too, generous:
    it catches a hang, not a slow machine), the state refusals above, checkout pinned to the
    vendor whose restaurant acts on the orders, and the staged orders and codes offered to the
    operations they are staged for (a dictionary each, drawn from in ``STAGED_SHARE`` of cases)."""
    dictionaries: dict[str, Any] = {}
    operations: list[dict[str, Any]] = [
        {"include-operation-id": "place_order", "parameters": {"body.vendor": vendor_id}}
    ]
    for operation, ids in staged.orders.items():
        parameters: dict[str, Any] = {}
        dictionaries[f"{operation}_orders"] = {"values": ids}
        parameters["path.order_id"] = {
            "dictionary": f"{operation}_orders",
            "probability": STAGED_SHARE,
        }
        if operation in staged.codes and operation != "get_otp":
            dictionaries[f"{operation}_codes"] = {"values": staged.codes[operation]}
            name = "body.otp" if operation != "resend_otp" else None
            if name is not None:
                parameters[name] = {"dictionary": f"{operation}_codes", "probability": CODE_SHARE}
        operations.append({"include-operation-id": operation, "parameters": parameters})
    return schemathesis.Config.from_dict(
        {
            "seed": seed,
            "dictionaries": dictionaries,
            "generation": {"max-examples": max_examples},
            "phases": {"stateful": {"max-steps": stateful_steps}},
            "checks": {
                "max_response_time": 10.0,
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "401", "403", "404", "409", "429", *STATE_REFUSALS]
                },
            },
            "operations": operations,
        }
    )


@dataclass
class PhaseStats:
    status: str = "skip"
    scenarios: int = 0
    cases: int = 0
    seconds: float = 0.0


@dataclass
class Outcome:
    """What a run found, as the CLI would report it."""

    exit_code: int
    report: str
    failures: int
    warnings: dict[str, list[str]]
    phases: dict[str, PhaseStats]
    operations_tested: set[str]
    operations_served: set[str]
    seconds: float
    #: (phase, operation, status code) -> responses
    answers: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    sent_as: Counter[str] = field(default_factory=Counter)

    def answers_of(self, operation: str) -> dict[str, dict[int, int]]:
        out: dict[str, dict[int, int]] = {}
        for (phase, label, status), n in sorted(self.answers.items()):
            if label == operation:
                out.setdefault(phase, {})[status] = n
        return out

    def summary(self) -> str:
        parts = [
            f"{name} {p.status}: {p.cases} cases in {p.scenarios} scenarios, {p.seconds:.1f}s"
            for name, p in self.phases.items()
        ]
        return f"{'; '.join(parts)}; total {self.seconds:.1f}s"


_PHASES = {
    PhaseName.EXAMPLES: "examples",
    PhaseName.COVERAGE: "coverage",
    PhaseName.FUZZING: "fuzzing",
    PhaseName.STATEFUL_TESTING: "stateful",
}


def _count(recorder: Any, phase: str, answers: Counter[tuple[str, str, int]]) -> None:
    for key, node in recorder.cases.items():
        interaction = recorder.interactions.get(key)
        response = None if interaction is None else interaction.response
        if response is not None:
            answers[(phase, node.value.operation.label, response.status_code)] += 1


def run(schema: BaseSchema, *, location: str) -> Outcome:
    """Run the engine over ``schema`` and collect what ``st run`` would print and decide."""
    phases = {name: PhaseStats() for name in PHASES}
    answers: Counter[tuple[str, str, int]] = Counter()
    started = time.monotonic()
    ctx = ExecutionContext(config=schema.config)
    handler = OutputHandler(config=schema.config)
    loading = LoadingStarted(location=location)
    loaded = LoadingFinished.from_schema(
        schema, location=location, start_time=loading.timestamp, base_url=schema.get_base_url()
    )
    out = io.StringIO()
    phase_started = started
    with contextlib.redirect_stdout(out):
        handler.start(ctx)
        try:
            for event in _chain([loading, loaded], from_schema(schema).execute()):
                ctx.on_event(event)
                handler.handle_event(ctx, event)
                if isinstance(event, events.PhaseStarted):
                    phase_started = time.monotonic()
                elif isinstance(event, events.PhaseFinished) and event.phase.name in _PHASES:
                    phases[_PHASES[event.phase.name]].seconds += time.monotonic() - phase_started
                elif isinstance(event, events.ScenarioFinished) and event.phase in _PHASES:
                    stats = phases[_PHASES[event.phase]]
                    stats.scenarios += 1
                    stats.cases += len(event.recorder.cases)
                    _count(event.recorder, _PHASES[event.phase], answers)
        finally:
            handler.shutdown(ctx)
    for phase, name in _PHASES.items():
        phases[name].status = ctx.phases[phase][0].value
    return Outcome(
        exit_code=int(ctx.exit_code),
        report=out.getvalue(),
        failures=sum(
            len(group.failures)
            for per_label in ctx.statistic.failures.values()
            for group in per_label.values()
        ),
        warnings={kind: labels for kind, labels in ctx.warnings.as_labels().items() if labels},
        phases=phases,
        operations_tested=set(ctx.statistic.tested_operations),
        operations_served={label for _, label, status in answers if 200 <= status < 300},
        seconds=time.monotonic() - started,
        answers=answers,
    )


def _chain(first: list[events.EngineEvent], rest: Iterator[Any]) -> Iterator[Any]:
    yield from first
    yield from rest


def fetcher(session: requests.Session, base_url: str) -> Callable[[str], dict[str, Any] | None]:
    """Reads as the system sees them, for ``RoleAuth``'s rider lookups."""
    headers = {"Authorization": f"Bearer {token(SYSTEM_ACTOR, ttl=86_400)}"}

    def fetch(path: str) -> dict[str, Any] | None:
        response = session.get(base_url.rstrip("/") + path, headers=headers, timeout=10)
        if response.status_code != 200:
            return None
        body: dict[str, Any] = response.json()
        return body

    return fetch
