"""Small real runs to report on: a simulation, a sweep, and a load test replaying the
simulation's timeline against a reference server started on a free local port.

`orderflow demo`, `make screenshots` and the report tests all drive the others' commands
through here, so each of them exercises the real pipeline rather than a stand-in. It lives in
``orderflow`` (the top package) because it drives the CLI; ``reports`` only reads what it wrote.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from orderflow.served import ServedProcess, ServeFailed


class RunFailed(RuntimeError):
    """A command of the pipeline exited non-zero; the message says which and why."""


def _cli(args: Sequence[str]) -> None:
    from orderflow.cli import main

    code = main(list(args))
    if code != 0:
        raise RunFailed(f"orderflow {' '.join(args)} exited with {code}")


def simulate(
    out: Path,
    scenario: str = "baseline",
    replications: int = 2,
    overrides: Sequence[str] = (),
    quiet: bool = True,
) -> Path:
    return _in_one_process(["simulate", scenario], out, replications, overrides, quiet)


def sweep(
    out: Path,
    vary: str,
    scenario: str = "baseline",
    replications: int = 2,
    overrides: Sequence[str] = (),
    quiet: bool = True,
) -> Path:
    return _in_one_process(["sweep", scenario, "--vary", vary], out, replications, overrides, quiet)


def plan(
    out: Path,
    vary: str,
    slas: Sequence[str],
    scenario: str = "baseline",
    replications: int = 3,
    max_replications: int = 10,
) -> Path:
    """``orderflow plan`` with one worker process, writing to ``out`` (a plan that cannot meet
    its targets is still a run: its directory is returned)."""
    args = ["plan", scenario, "--vary", vary, *(a for s in slas for a in ("--sla", s))]
    args += ["-r", str(replications), "--max-replications", str(max_replications)]
    from orderflow.cli import main

    code = main([*args, "--jobs", "1", "--out", str(out), "--quiet"])
    if code not in (0, 3):
        raise RunFailed(f"orderflow {' '.join(args)} exited with {code}")
    return out


def _in_one_process(
    command: list[str], out: Path, replications: int, overrides: Sequence[str], quiet: bool
) -> Path:
    """``orderflow simulate``/``sweep`` with one worker process, writing to ``out``."""
    sets = [a for o in overrides for a in ("--set", o)]
    args = [*command, "-r", str(replications), "--jobs", "1", "--out", str(out), *sets]
    _cli([*args, "--quiet"] if quiet else args)
    return out


@contextlib.contextmanager
def served(db: Path, timeout: float = 60.0, riders: int | None = None) -> Iterator[str]:
    """``orderflow serve`` in a subprocess on 127.0.0.1; yields its base URL and always stops it.
    ``riders`` sizes the server's fleet like the simulated one, so a replay is not held up
    waiting for riders the simulation had."""
    extra = ["--fresh", "--log-level", "warning"]
    if riders is not None:
        extra += ["--riders", str(riders)]
    server = ServedProcess(db, *extra)
    try:
        server.start(timeout)
    except ServeFailed as exc:
        raise RunFailed(str(exc)) from None
    try:
        yield server.url
    finally:
        server.stop()


def loadtest(
    host: str,
    out: Path,
    trace: Path,
    speedup: float = 240.0,
    duration: float = 10.0,
    quiet: bool = False,
    check: bool = False,
) -> Path:
    """Replay ``trace``'s timeline against ``host`` (open model, one Locust process); with
    ``check``, the run's thresholds must hold too (``orderflow loadtest --check``)."""
    args = ["loadtest", "--host", host, "--trace", str(trace), "--speedup", repr(speedup)]
    args += ["--duration", repr(duration), "--out", str(out), *(["--check"] if check else [])]
    if quiet:
        with open(os.devnull, "w") as sink, contextlib.redirect_stderr(sink):
            _cli(args)
    else:
        _cli(args)
    return out
