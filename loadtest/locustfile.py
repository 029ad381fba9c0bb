"""orderflow journeys for Locust: ``locust -f loadtest/locustfile.py --host URL [--scenario NAME
| --trace RUN_DIR] [--speedup X] [--duration S]`` (web UI or ``--headless``; ``--master`` /
``--worker`` for distributed runs). Orders start on the schedule, not when a user happens to be
free: users pull the next due journey, the pool is sized from the schedule by the shape below,
and every request records the time it was meant to start. See docs/loadtest.md."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run by path (`locust -f`): make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gevent
from geventhttpclient.client import HTTPClientPool
from locust import FastHttpUser, LoadTestShape, events, task
from locust.env import Environment

from loadtest.journey import Journey
from loadtest.options import add_arguments
from loadtest.sender import Sender
from loadtest.session import SESSION


def _add_options(parser: Any) -> None:
    add_arguments(parser)


def _init(environment: Environment, **_: Any) -> None:
    SESSION.init(environment)


def _test_start(environment: Environment, **_: Any) -> None:
    SESSION.test_start(environment)
    opts = SESSION.opts
    if opts is not None:
        OrderJourneyUser.network_timeout = opts.request_timeout
        OrderJourneyUser.connection_timeout = opts.request_timeout
        if opts.connections:  # one pool for every user: fewer sockets at high rates
            OrderJourneyUser.client_pool = HTTPClientPool(
                concurrency=opts.connections,
                network_timeout=opts.request_timeout,
                connection_timeout=opts.request_timeout,
                insecure=True,
            )


def _test_stop(environment: Environment, **_: Any) -> None:
    SESSION.test_stop(environment)


def _quitting(environment: Environment, **_: Any) -> None:
    SESSION.quitting(environment)


events.init_command_line_parser.add_listener(_add_options)  # type: ignore[no-untyped-call]
events.init.add_listener(_init)  # type: ignore[no-untyped-call]
events.test_start.add_listener(_test_start)  # type: ignore[no-untyped-call]
events.test_stop.add_listener(_test_stop)  # type: ignore[no-untyped-call]
events.quitting.add_listener(_quitting)  # type: ignore[no-untyped-call]


class OrderJourneyUser(FastHttpUser):
    """One slot of the pool: takes the next journey due in this process's share and runs it."""

    host = "http://127.0.0.1:8000"
    network_timeout = 15.0
    connection_timeout = 15.0

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        # One user acts for many identities in turn (customers, restaurants, riders), each
        # authenticated by its bearer token: a per-user cookie jar would carry one identity's
        # cookies into another's requests, and costs a cookie parse on every request.
        self.client.client.cookiejar = None
        # Journeys send through the same connection pool, without the session's per-request
        # bookkeeping (loadtest.sender); Locust's statistics are fed the same events.
        self.sender = Sender(self.client, self.host or "")

    def wait_time(self) -> float:
        return 0.0

    @task
    def next_journey(self) -> None:
        ctx = SESSION.ctx
        order = ctx.next_order() if ctx is not None else None
        if ctx is None or order is None:
            gevent.sleep(0.5)  # nothing due here any more; the shape ends the test
            return
        ctx.running += 1
        try:
            Journey(ctx, order, self.sender, self.host or "").run()
        finally:
            ctx.running -= 1


class ScheduleShape(LoadTestShape):
    """Keeps the pool at the size the schedule needs and ends the test when every share has run
    its journeys or the time bound has passed."""

    def tick(self) -> tuple[int, float] | None:
        return SESSION.tick()
