"""``orderflow serve`` as a child process on 127.0.0.1: start it on a kernel-chosen port, learn
its URL from the line it prints, wait until it answers, and always stop it. The demo, the test
suites and the benchmarks all need exactly this, so it lives here once. ``FactoryProcess`` does
the same for the ASGI entry point under ``uvicorn --factory``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

LISTEN = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
#: uvicorn's own start-up line (it prints the kernel-chosen port when given ``--port 0``).
UVICORN_LISTEN = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")
FACTORY = "reference_api.http.app:create_app"


def stop_process(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """SIGTERM (a clean shutdown), then SIGKILL if it has not ended within ``grace`` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


class ServeFailed(RuntimeError):
    """The server exited or stayed silent before it was ready; the message holds its output."""


class ServedProcess:
    """A reference server in a subprocess. ``extra`` are further ``orderflow serve`` options."""

    #: The line that says the server is listening, and where (group 1 is the URL).
    listen: re.Pattern[str] = LISTEN

    def __init__(
        self,
        db: Path,
        *extra: str,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.db = db
        self.args = [
            sys.executable, "-m", "orderflow", "serve", "--host", "127.0.0.1", "--port", "0",
            "--db", str(db), *extra,
        ]  # fmt: skip
        self.env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        self.cwd = cwd
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.output: list[str] = []

    def start(self, timeout: float = 60.0) -> ServedProcess:
        self.proc = subprocess.Popen(
            self.args,
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            match = self.listen.search(line)
            if match:
                self.url = match.group(1)
                if self._answers(deadline):
                    return self
                break
        self.stop()
        raise ServeFailed(f"{' '.join(self.args[2:4])} did not start:\n" + "".join(self.output))

    def _answers(self, deadline: float) -> bool:
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/openapi.json", timeout=2.0)
                return True
            except httpx.TransportError:
                time.sleep(0.05)
        return False

    def kill(self) -> None:
        """``kill -9``: no shutdown hooks, no flushing."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM (a clean shutdown), then SIGKILL if it does not end within 10 s."""
        if self.proc is None:
            return
        stop_process(self.proc)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> ServedProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class FactoryProcess(ServedProcess):
    """``uvicorn --factory reference_api.http.app:create_app`` in a subprocess on 127.0.0.1, the
    settings in ``ORDERFLOW_*`` variables (``settings``, e.g. ``{"ORDERFLOW_RIDERS": "50"}``;
    ``ORDERFLOW_DB`` is ``db``). The access log is off: nobody reads the pipe once it is up."""

    listen = UVICORN_LISTEN

    def __init__(
        self,
        db: Path,
        settings: Mapping[str, str] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        super().__init__(
            db, env={**(env or {}), **(settings or {}), "ORDERFLOW_DB": str(db)}, cwd=cwd
        )
        self.args = [
            sys.executable, "-m", "uvicorn", "--factory", FACTORY, "--host", "127.0.0.1",
            "--port", "0", "--no-access-log", "--log-level", "info",
        ]  # fmt: skip
