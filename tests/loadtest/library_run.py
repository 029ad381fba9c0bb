"""Locust as a library: the locustfile's user and shape classes in a ``locust.env.Environment``
driven from Python (no `locust` command), as a QA engineer would embed them in their own tool.

Run: ``python tests/loadtest/library_run.py HOST OUT_DIR [locust options...]``."""

from __future__ import annotations

import sys

import gevent
from locust import events
from locust.argument_parser import parse_options
from locust.env import Environment

from loadtest.locustfile import OrderJourneyUser, ScheduleShape


def main(host: str, out: str, *extra: str) -> int:
    options = parse_options(["-f", "loadtest/locustfile.py", "--host", host, "--out", out, *extra])
    env = Environment(
        user_classes=[OrderJourneyUser],
        shape_class=ScheduleShape(),
        events=events,
        host=host,
        parsed_options=options,
    )
    runner = env.create_local_runner()
    env.events.init.fire(environment=env, runner=runner, web_ui=None)
    runner.start_shape()
    deadline = gevent.Timeout(120)
    deadline.start()
    try:
        while runner.shape_greenlet is not None or runner.state in ("spawning", "running"):
            gevent.sleep(0.2)
    finally:
        deadline.cancel()
    env.events.quitting.fire(environment=env, reverse=True)
    runner.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
