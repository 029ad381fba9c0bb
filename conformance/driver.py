"""The HTTP and WebSocket client of the check: every request goes through ``Driver``, which
counts it against ``--max-requests``, refuses it past ``--time-limit`` and records it as an
``Exchange`` (tokens redacted) so a failed rule can show the request and response that broke it.

The bounds are a ``Budget``. Orders the check still holds active need one request each to be
cancelled at the end (``reserved``), so ordinary requests stop early enough to leave those, and
the last few seconds of the time limit are kept for that clean-up too.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import ClientConnection, connect

from loadtest.identities import Identity

#: How much of a response body an exchange keeps (a failure report, not an archive).
BODY_LIMIT = 4000
#: One request never waits longer than this, whatever time is left.
REQUEST_TIMEOUT_S = 10.0


class BoundReached(Exception):
    """``--max-requests`` or ``--time-limit`` is used up; the message says which."""


class TargetGone(Exception):
    """The target stopped answering (several transport failures in a row)."""


@dataclass(frozen=True, slots=True)
class Who:
    """An identity as the check acts with it: the token and a label for reports (never the
    token itself)."""

    label: str
    identity: Identity

    @property
    def user_id(self) -> str:
        return self.identity.user_id


@dataclass
class Exchange:
    """One request and what came back (``status`` None when nothing did: see ``error``)."""

    method: str
    url: str
    who: str
    body: Any = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    text: str = ""
    error: str | None = None
    data: Any = None
    #: seconds from sending the request to its answer (or to the failure)
    elapsed: float = 0.0

    def json(self) -> Any:
        return self.data

    def describe(self) -> str:
        lines = [f"{self.method} {self.url}  (as {self.who})"]
        if self.body is not None:
            lines.append("request body: " + json.dumps(self.body, sort_keys=True)[:BODY_LIMIT])
        if self.status is None:
            lines.append(f"no response: {self.error}")
        else:
            shown = {k: v for k, v in self.headers.items() if k in ("retry-after", "allow")}
            extra = f" {shown}" if shown else ""
            lines.append(f"response {self.status}{extra}: {self.text[:BODY_LIMIT]}")
        return "\n".join(lines)


class Budget:
    """The request count and the clock of one run. ``check`` refuses a request that would leave
    too few for the clean-up (``reserved``) or fall past the checks' deadline; ``cleanup=True``
    requests may use the reserve and the last seconds, never more than the bounds."""

    def __init__(
        self, max_requests: int, time_limit_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_requests = max_requests
        self.time_limit_s = time_limit_s
        self.clock = clock
        self.started = clock()
        self.deadline = self.started + time_limit_s
        self.margin = min(5.0, 0.1 * time_limit_s)
        self.sent = 0
        self.reserved = 0
        self.hit: str | None = None

    def elapsed(self) -> float:
        return self.clock() - self.started

    def time_left(self, *, cleanup: bool = False) -> float:
        end = self.deadline if cleanup else self.deadline - self.margin
        return end - self.clock()

    def check(self, *, cleanup: bool = False) -> None:
        if cleanup:
            if self.sent + 1 > self.max_requests or self.time_left(cleanup=True) <= 0:
                raise BoundReached("bound reached during the clean-up")
            return
        if self.sent + 1 + self.reserved > self.max_requests:
            self.hit = self.hit or f"--max-requests {self.max_requests}"
            raise BoundReached(f"bound reached ({self.hit})")
        if self.time_left() <= 0:
            self.out_of_time()

    def out_of_time(self) -> None:
        """The checks' share of ``--time-limit`` is spent: stop them."""
        self.hit = self.hit or f"--time-limit {self.time_limit_s:g}s"
        raise BoundReached(f"bound reached ({self.hit})")

    def wait_ok(self, seconds: float) -> bool:
        """Whether waiting ``seconds`` still leaves the checks some time."""
        return seconds < self.time_left()


def ws_base(host: str) -> str:
    parts = urlsplit(host)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}"


@dataclass
class WsResult:
    """What a subscription saw: the events (JSON objects) and, when it closed, the code."""

    url: str
    who: str
    events: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None
    error: str | None = None

    def describe(self) -> str:
        lines = [f"WS {self.url}  (as {self.who})"]
        if self.error:
            lines.append(f"error: {self.error}")
        if self.close_code is not None:
            lines.append(f"closed with {self.close_code}")
        for event in self.events[-12:]:
            lines.append("event: " + json.dumps(event, sort_keys=True)[:600])
        return "\n".join(lines)


class Subscription:
    """An open ``/ws/orders/{id}/`` connection that collects events until asked."""

    def __init__(self, conn: ClientConnection | None, result: WsResult, budget: Budget) -> None:
        self.conn = conn
        self.result = result
        self.budget = budget

    def collect(self, until: Callable[[list[dict[str, Any]]], bool], timeout_s: float) -> bool:
        """Read events until ``until(all events so far)`` holds or ``timeout_s`` passes. A wait
        the time limit cuts short is the bound's (``BoundReached``), not a missing event."""
        cut = self.budget.time_left() < timeout_s
        end = time.monotonic() + max(0.0, min(timeout_s, self.budget.time_left()))
        while not until(self.result.events):
            left = end - time.monotonic()
            if left <= 0 or self.conn is None:
                if cut and self.conn is not None:
                    self.budget.out_of_time()
                return False
            try:
                message = self.conn.recv(timeout=left)
            except TimeoutError:
                if cut:
                    self.budget.out_of_time()
                return False
            except ConnectionClosed as exc:
                self.result.close_code = exc.rcvd.code if exc.rcvd is not None else None
                self.conn = None
                return until(self.result.events)
            try:
                payload = json.loads(message)
            except (TypeError, ValueError):
                continue
            if isinstance(payload, dict):
                self.result.events.append(payload)
        return True

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None


class Driver:
    """Requests against one target, within one ``Budget``."""

    def __init__(self, host: str, budget: Budget, *, max_transport_failures: int = 5) -> None:
        self.host = host.rstrip("/")
        self.budget = budget
        self.client = httpx.Client(base_url=self.host, timeout=REQUEST_TIMEOUT_S)
        self.max_transport_failures = max_transport_failures
        self._failures_in_a_row = 0

    def close(self) -> None:
        self.client.close()

    def _timeout(self, cleanup: bool) -> float:
        """How long one request may wait: never past the time limit (the checks' requests
        not past their share of it, the clean-up's not past the limit itself)."""
        return min(REQUEST_TIMEOUT_S, self.budget.time_left(cleanup=cleanup))

    def request(
        self,
        who: Who | None,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        cleanup: bool = False,
    ) -> Exchange:
        self.budget.check(cleanup=cleanup)
        self.budget.sent += 1
        send: dict[str, str] = dict(who.identity.auth) if who is not None else {}
        send.update(headers or {})
        query = "" if not params else "?" + str(httpx.QueryParams(dict(params)))
        exchange = Exchange(method, path + query, who.label if who else "nobody", body)
        if headers and "Authorization" in headers:
            exchange.who = "a hand-made token"
        timeout = self._timeout(cleanup)
        if timeout <= 0:  # no time left for it: not sent (the bound's, not the target's)
            self.budget.sent -= 1
            self.budget.out_of_time()
        began = time.monotonic()
        try:
            resp = self.client.request(
                method,
                path,
                json=body,
                params=dict(params) if params else None,
                headers=send,
                timeout=timeout,
            )
        except httpx.HTTPError as exc:
            exchange.elapsed = time.monotonic() - began
            exchange.error = f"{type(exc).__name__}: {exc}"
            self._failures_in_a_row += 1
            if self._failures_in_a_row >= self.max_transport_failures:
                raise TargetGone(
                    f"{self._failures_in_a_row} requests in a row got no answer; last: "
                    f"{method} {path}: {exchange.error}"
                ) from None
            return exchange
        self._failures_in_a_row = 0
        exchange.elapsed = time.monotonic() - began
        exchange.status = resp.status_code
        exchange.headers = {k.lower(): v for k, v in resp.headers.items()}
        exchange.text = resp.text[:BODY_LIMIT]
        try:
            exchange.data = resp.json()
        except ValueError:
            exchange.data = None
        return exchange

    def subscribe(
        self, who: Who | None, order_id: str, *, token: str | None = None
    ) -> Subscription:
        """Open ``/ws/orders/{order_id}/`` with ``who``'s token (or ``token``, or none)."""
        self.budget.check()
        self.budget.sent += 1
        raw = token if token is not None else (who.identity.token if who is not None else None)
        base = f"{ws_base(self.host)}/ws/orders/{quote(order_id, safe='')}/"
        url = base if raw is None else f"{base}?token={quote(raw, safe='')}"
        label = "a hand-made token" if token is not None else (who.label if who else "nobody")
        result = WsResult(base if raw is None else f"{base}?token=<{label}>", label)
        timeout = self._timeout(False)
        if timeout <= 0:
            self.budget.sent -= 1
            self.budget.out_of_time()
        try:
            conn = connect(url, open_timeout=timeout, close_timeout=2)
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            return Subscription(None, result, self.budget)
        return Subscription(conn, result, self.budget)

    @contextlib.contextmanager
    def watching(self, who: Who, order_id: str) -> Iterator[Subscription]:
        sub = self.subscribe(who, order_id)
        try:
            yield sub
        finally:
            sub.close()
