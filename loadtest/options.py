"""The load test's own command-line options, shared by the locustfile (Locust adds them to its
parser and forwards them to workers) and `orderflow loadtest` (which passes them on), checked in
one place so a bad value is reported by name before anything starts."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_SCENARIO = "baseline"
#: Set by `orderflow loadtest` for its Locust children: they quit if that process disappears.
PARENT_ENV = "ORDERFLOW_LOADTEST_PARENT"


class OptionError(ValueError):
    """A flag with an unusable value; the message names the flag."""


class MissingFileError(OptionError):
    """A flag naming a file or directory that is not there (bad input, not usage)."""


@dataclass(frozen=True)
class LoadOptions:
    scenario: str
    trace: Path | None
    speedup: float
    duration: float  # wall seconds of arrivals
    max_requests: int  # whole run; 0 = unbounded
    tokens: Path | None
    out: Path | None
    background: float | None  # None = default for the source
    seed: int | None
    rider_wait: float
    drain: float | None  # wall seconds after the last arrival; None = from the schedule
    request_timeout: float = 15.0
    ws_share: float | None = None  # None = default for the source
    connections: int = 0  # 0 = one connection pool per user, as Locust does
    overrides: tuple[str, ...] = ()  # scenario --set path.to.field=value

    @property
    def ws_fraction(self) -> float:
        if self.ws_share is not None:
            return self.ws_share
        return 1.0 if self.trace is not None else 0.5

    @property
    def background_factor(self) -> float:
        if self.background is not None:
            return self.background
        return 0.0 if self.trace is not None else 1.0


def add_arguments(parser: Any, *, scenario_flag: bool = True) -> None:
    """Works on argparse parsers and on Locust's configargparse one alike."""
    g = parser.add_argument_group("orderflow load test")
    if scenario_flag:
        g.add_argument(
            "--scenario", default=DEFAULT_SCENARIO, help="scenario name or file (demand curve)"
        )
    g.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a scenario field, as for `orderflow simulate` (repeatable)",
    )
    g.add_argument("--trace", default="", help="simulation run dir whose timeline to replay")
    g.add_argument(
        "--speedup",
        type=float,
        default=60.0,
        help="scenario seconds per wall second (default %(default)s)",
    )
    g.add_argument(
        "--duration",
        type=float,
        default=60.0,
        help="wall seconds of arrivals (default %(default)s)",
    )
    g.add_argument(
        "--max-requests",
        type=int,
        default=100_000,
        help="stop after this many requests (0: none; default %(default)s)",
    )
    g.add_argument(
        "--tokens",
        default="",
        help="tokens file (JSON/YAML); default: mint for the reference server",
    )
    g.add_argument("--out", default="", help="run directory (default runs/loadtest-TIMESTAMP)")
    g.add_argument(
        "--background",
        type=float,
        default=None,
        help="scale of polling traffic (0 = none; default 1 for a scenario, 0 for --trace)",
    )
    g.add_argument("--seed", type=int, default=None, help="schedule seed (default: scenario's)")
    g.add_argument(
        "--rider-wait",
        type=float,
        default=30.0,
        help="wall seconds to wait for rider assignment, and for the orders before one in its "
        "bundle to make a rider step (default %(default)s; against `serve --dispatch "
        "rolling_horizon` allow one round interval more)",
    )
    g.add_argument(
        "--drain", type=float, default=None, help="wall seconds allowed after the last arrival"
    )
    g.add_argument(
        "--request-timeout",
        type=float,
        default=15.0,
        help="seconds before a request times out (default %(default)s)",
    )
    g.add_argument(
        "--connections",
        type=int,
        default=0,
        help="share N connections among all users of a process (0: each user its own)",
    )
    g.add_argument(
        "--ws-share",
        type=float,
        default=None,
        help="share of orders tracked by WebSocket (default 0.5 for a scenario, 1 for --trace)",
    )


def from_namespace(ns: Any, *, check_files: bool = True) -> LoadOptions:
    """``check_files=False`` on a worker: its paths are the master's, which it never opens."""

    def positive(name: str, value: float) -> float:
        if not value > 0:
            raise OptionError(f"--{name.replace('_', '-')}: must be > 0, got {value}")
        return value

    max_requests = int(ns.max_requests)
    if max_requests < 0:
        raise OptionError(f"--max-requests: must be >= 0, got {max_requests}")
    background = ns.background
    if background is not None and background < 0:
        raise OptionError(f"--background: must be >= 0, got {background}")
    drain = ns.drain
    if drain is not None and drain < 0:
        raise OptionError(f"--drain: must be >= 0, got {drain}")
    ws_share = ns.ws_share
    if ws_share is not None and not 0.0 <= ws_share <= 1.0:
        raise OptionError(f"--ws-share: must be between 0 and 1, got {ws_share}")
    connections = int(ns.connections)
    if connections < 0:
        raise OptionError(f"--connections: must be >= 0, got {connections}")
    trace = Path(ns.trace) if ns.trace else None
    tokens = Path(ns.tokens) if ns.tokens else None
    if check_files and tokens is not None and not tokens.is_file():
        raise MissingFileError(f"--tokens {tokens}: no such file")
    if check_files and trace is not None and not trace.is_dir():
        raise MissingFileError(f"--trace {trace}: no such directory")
    return LoadOptions(
        scenario=str(ns.scenario),
        trace=trace,
        speedup=positive("speedup", float(ns.speedup)),
        duration=positive("duration", float(ns.duration)),
        max_requests=max_requests,
        tokens=tokens,
        out=Path(ns.out) if ns.out else None,
        background=background,
        seed=ns.seed,
        rider_wait=positive("rider_wait", float(ns.rider_wait)),
        drain=drain,
        request_timeout=positive("request_timeout", float(ns.request_timeout)),
        ws_share=ws_share,
        connections=connections,
        overrides=tuple(ns.overrides or ()),
    )


def default_out() -> Path:
    return Path("runs") / time.strftime("loadtest-%Y%m%d-%H%M%S", time.gmtime())


def to_locust_args(o: LoadOptions) -> list[str]:
    """The same options as flags for a `locust -f loadtest/locustfile.py` process."""
    args = [
        "--scenario", o.scenario,
        "--speedup", repr(o.speedup),
        "--duration", repr(o.duration),
        "--max-requests", str(o.max_requests),
        "--rider-wait", repr(o.rider_wait),
        "--request-timeout", repr(o.request_timeout),
    ]  # fmt: skip
    if o.trace is not None:
        args += ["--trace", str(o.trace.resolve())]
    if o.tokens is not None:
        args += ["--tokens", str(o.tokens.resolve())]
    if o.out is not None:
        args += ["--out", str(o.out.resolve())]
    if o.background is not None:
        args += ["--background", repr(o.background)]
    if o.seed is not None:
        args += ["--seed", str(o.seed)]
    if o.drain is not None:
        args += ["--drain", repr(o.drain)]
    if o.ws_share is not None:
        args += ["--ws-share", repr(o.ws_share)]
    if o.connections:
        args += ["--connections", str(o.connections)]
    for item in o.overrides:
        args += ["--set", item]
    return args
