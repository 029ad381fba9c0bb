"""Small real runs to report on: a simulation, a sweep, and a load test replaying the
simulation's timeline against a reference server started on a free local port.

`orderflow demo`, `make screenshots` and the report tests all drive the others' commands
through here, so each of them exercises the real pipeline rather than a stand-in.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

LISTEN = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


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
    sets = [a for o in overrides for a in ("--set", o)]
    args = ["simulate", scenario, "-r", str(replications), "--jobs", "1", "--out", str(out), *sets]
    _cli([*args, "--quiet"] if quiet else args)
    return out


def sweep(
    out: Path,
    vary: str,
    scenario: str = "baseline",
    replications: int = 2,
    overrides: Sequence[str] = (),
    quiet: bool = True,
) -> Path:
    sets = [a for o in overrides for a in ("--set", o)]
    args = ["sweep", scenario, "--vary", vary, "-r", str(replications), "--jobs", "1"]
    args += ["--out", str(out), *sets]
    _cli([*args, "--quiet"] if quiet else args)
    return out


@contextlib.contextmanager
def served(db: Path, timeout: float = 60.0, riders: int | None = None) -> Iterator[str]:
    """``orderflow serve`` in a subprocess on 127.0.0.1 (port chosen by the kernel); yields its
    base URL and always stops it (terminate, then kill) on exit. ``riders`` sizes the server's
    fleet like the simulated one, so a replay is not held up waiting for riders the
    simulation had."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "orderflow", "serve", "--host", "127.0.0.1", "--port", "0"]
    cmd += ["--db", str(db), "--fresh", "--log-level", "warning"]
    if riders is not None:
        cmd += ["--riders", str(riders)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    try:
        url = _wait_listening(proc, timeout)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _wait_listening(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        m = LISTEN.search(line)
        if m:
            url = m.group(1)
            while time.monotonic() < deadline:
                try:
                    httpx.get(url + "/openapi.json", timeout=2.0)
                    return url
                except httpx.TransportError:
                    time.sleep(0.05)
    raise RunFailed("orderflow serve did not start:\n" + "".join(seen))


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
