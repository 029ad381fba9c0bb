"""The API-call log: each call the model makes, as four small integers in the recorder's columns,
and the request parameters it logs, coded once per run (a handful of distinct values)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import simpy

from reference_api.roles import Role
from reference_api.service.parsing import PREP_MINUTES
from reference_api.states import PaymentMethod
from scenarios.schema import Scenario
from sim import codes
from sim.codes import OUTCOME
from sim.recorder import EP_SHIFT, OUTCOME_SHIFT, PARAMS_SHIFT, Recorder

R_CUSTOMER, R_RESTAURANT, R_RIDER, R_SYSTEM = (codes.ROLE[r] for r in Role)
OK = OUTCOME["ok"]
#: The method a placed order pays by, indexed by its ``online`` flag.
METHOD = (PaymentMethod.COD, PaymentMethod.ONLINE)
#: What an actor types as the reason of each cancellation or rejection the model makes.
REASON_TEXT = {
    "customer_changed_mind": "Changed my mind",
    "customer_impatient": "Taking too long",
    "restaurant_out_of_stock": "An item ran out",
    "restaurant_rejected": "Kitchen too busy",
}


#: ``CallLog.log``, as the parts of the model hold it.
Log = Callable[[int, int, int, int, int, int], None]


def prep_estimate_min(s: Scenario) -> int:
    """The preparation time a restaurant quotes on confirming: the scenario's mean, in whole
    minutes within the API's bounds."""
    lo, hi = PREP_MINUTES
    return max(lo, min(hi, round(s.vendors.prep_time.mean_s / 60)))


class CallLog:
    """Appends one API call to the recorder's columns. Holds the columns' own ``append``
    methods, since it runs on every call the model makes."""

    __slots__ = ("_env", "_key", "_order", "_rider", "_t")

    def __init__(self, env: simpy.Environment, recorder: Recorder) -> None:
        self._env = env
        self._t, self._order = recorder.call_t.append, recorder.call_order.append
        self._rider, self._key = recorder.call_rider.append, recorder.call_key.append

    def log(self, order: int, rider: int, role: int, ep: int, out: int, params: int) -> None:
        """``order`` and ``rider`` are indices, -1 for none; the rest are ``sim.codes``."""
        self._t(self._env._now)  # see ``SimClock.now``
        self._order(order)
        self._rider(rider)
        self._key(role | ep << EP_SHIFT | out << OUTCOME_SHIFT | params << PARAMS_SHIFT)


class RequestCodes:
    """The parameters code of every request the model logs. Codes are handed out in the order
    they are first asked for, so this class asks for them in one fixed order."""

    __slots__ = (
        "_baskets",
        "_code",
        "_confirms",
        "at",
        "confirm",
        "empty",
        "items",
        "off",
        "on",
        "otp",
        "pay_fail",
        "pay_ok",
        "place",
        "prep_estimate",
        "reason",
        "wrong_otp",
    )

    def __init__(self, s: Scenario, recorder: Recorder) -> None:
        code = recorder.params.code
        price = f"{s.customers.item_price:.2f}"
        #: the basket of each size a customer can order
        self.items: dict[int, list[Mapping[str, Any]]] = {
            q: [{"name": "Meal", "quantity": q, "unit_price": price}]
            for q in range(1, s.customers.basket_items_max + 1)
        }
        self.place = {
            (online, q): code({"payment_method": METHOD[online], "quantity": q})
            for online in (False, True)
            for q in self.items
        }
        self.prep_estimate = prep_estimate_min(s)
        self.confirm = code({"estimated_prep_time": self.prep_estimate})
        self.pay_ok = code({"success": True})
        self.pay_fail = code({"success": False})
        self.otp = {k: code({"otp_type": k}) for k in ("pickup", "delivery")}
        self.wrong_otp = code({"wrong_otp": True})
        self.at = {k: code({"at": k}) for k in ("restaurant", "customer")}
        self.on = code({"available": True})
        self.off = code({"available": False})
        self.reason = {k: code({"reason": v}) for k, v in REASON_TEXT.items()}
        self.empty = recorder.params.EMPTY
        # Per-order values of an order log, coded when first met (after the fixed ones above).
        self._code = code
        self._baskets: dict[float, list[Mapping[str, Any]]] = {}
        self._confirms: dict[int, int] = {self.prep_estimate: self.confirm}

    def basket(self, value: float) -> list[Mapping[str, Any]]:
        """An order log's basket: one item at its value."""
        found = self._baskets.get(value)
        if found is None:
            found = self._baskets[value] = [
                {"name": "Meal", "quantity": 1, "unit_price": f"{value:.2f}"}
            ]
        return found

    def place_basket(self, online: bool, items: list[Mapping[str, Any]]) -> int:
        return self._code(
            {"payment_method": METHOD[online], "quantity": 1, "unit_price": items[0]["unit_price"]}
        )

    def confirm_for(self, minutes: int) -> int:
        """The confirm call's code for a quoted preparation time other than the scenario's."""
        found = self._confirms.get(minutes)
        if found is None:
            found = self._confirms[minutes] = self._code({"estimated_prep_time": minutes})
        return found
