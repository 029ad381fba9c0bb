"""Runs the locustfile headless as child processes (one standalone, or a master and N workers on
127.0.0.1), shows progress from the rows the children write, forwards Ctrl-C so they stop and
flush, and always leaves a merged, summarized run directory behind."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pyarrow.parquet as pq
from tqdm import tqdm

from loadtest.options import PARENT_ENV, LoadOptions, to_locust_args
from loadtest.outcome import run_outcome
from loadtest.recorder import PARTS, merge_parts
from loadtest.summary import format_summary, summarize
from scenarios.exit_codes import ExitCode

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: IO[bytes]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(host: str, opts: LoadOptions, workers: int, run_dir: Path) -> list[Child]:
    base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", host]
    ours = to_locust_args(opts)
    stats = ["--csv", str(run_dir / "locust"), "--html", str(run_dir / "locust_report.html")]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", PARENT_ENV: str(os.getpid())}
    children: list[Child] = []

    def start(name: str, args: list[str]) -> None:
        log = (run_dir / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [*base, *args, *ours],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # Ctrl-C reaches them once, forwarded by us, in order
        )
        children.append(Child(name, proc, log))

    if workers <= 1:
        start("locust", ["--headless", "--only-summary", *stats])
        return children
    port = free_port()
    start(
        "locust-master",
        [
            "--master", "--headless", "--only-summary", "--expect-workers", str(workers),
            "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port), *stats,
        ],
    )  # fmt: skip
    for i in range(workers):
        start(f"locust-worker-{i}", ["--worker", "--master-host", "127.0.0.1",
                                     "--master-port", str(port)])  # fmt: skip
    return children


class Progress:
    """Counts journeys and requests from the Parquet parts the children have written."""

    def __init__(self, run_dir: Path, planned: int) -> None:
        self.dir = run_dir / PARTS
        self.seen: set[str] = set()
        self.journeys = self.failed = self.requests = 0
        self.bar = tqdm(total=planned, unit="journey", desc="load test", dynamic_ncols=True)

    def poll(self) -> None:
        if not self.dir.exists():
            return
        for f in sorted(self.dir.glob("*.parquet")):
            if f.name in self.seen:
                continue
            self.seen.add(f.name)
            try:
                if f.name.startswith("journeys."):
                    outcomes = pq.read_table(f, columns=["outcome"]).column(0).to_pylist()
                    self.journeys += len(outcomes)
                    self.failed += sum(1 for o in outcomes if o == "failed")
                    self.bar.update(len(outcomes))
                elif f.name.startswith("requests."):
                    self.requests += pq.read_metadata(f).num_rows
            except (OSError, ValueError):
                self.seen.discard(f.name)  # merged away or being replaced: look again
        self.bar.set_postfix(requests=self.requests, failed=self.failed, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def run(host: str, opts: LoadOptions, workers: int, run_dir: Path, planned: int,
        time_bound_s: float) -> int:  # fmt: skip
    """Run to completion (or Ctrl-C); returns the process exit code for `orderflow loadtest`."""
    run_dir.mkdir(parents=True, exist_ok=True)
    children = launch(host, opts, workers, run_dir)
    progress = Progress(run_dir, planned)
    deadline = time.time() + time_bound_s + 90.0
    interrupted = False
    try:
        while any(c.proc.poll() is None for c in children):
            progress.poll()
            if time.time() > deadline:
                print("\nload test overran its time bound; stopping it", file=sys.stderr)
                _stop(children)
                break
            time.sleep(0.5)
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: stopping Locust and saving what was recorded", file=sys.stderr)
        _stop(children)
    finally:
        progress.poll()
        progress.close()
        for c in children:
            c.log.close()
    merge_parts(run_dir)
    _mark_complete(run_dir, interrupted)
    if not (run_dir / "requests.parquet").exists():
        print(f"Locust did not start; see the logs in {run_dir}/", file=sys.stderr)
        return ExitCode.RUN_FAILED
    summary = summarize(run_dir)
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(format_summary(summary, run_dir))
    if interrupted:
        return ExitCode.INTERRUPTED
    code, reasons = run_outcome(run_dir, summary)
    crashed = [
        f"{c.name} ({c.proc.returncode})"
        for c in children
        if c.proc.returncode not in (ExitCode.OK, ExitCode.RUN_FAILED)
    ]
    if crashed:
        reasons.append(f"Locust process(es) {', '.join(crashed)} ended abnormally; see "
                       f"{run_dir}/*.log")  # fmt: skip
    for reason in reasons:
        print(f"orderflow loadtest: {reason}", file=sys.stderr)
    return ExitCode.RUN_FAILED if reasons else code


def _stop(children: list[Child]) -> None:
    """SIGINT first (Locust stops its users and flushes), then SIGTERM, then kill."""
    for sig, wait in ((signal.SIGINT, 30.0), (signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        alive = [c for c in children if c.proc.poll() is None]
        if not alive:
            return
        for c in alive:
            with contextlib.suppress(ProcessLookupError):
                c.proc.send_signal(sig)
        end = time.time() + wait
        while time.time() < end and any(c.proc.poll() is None for c in alive):
            time.sleep(0.1)


def _mark_complete(run_dir: Path, interrupted: bool) -> None:
    path = run_dir / "manifest.json"
    if not path.exists():
        return
    manifest = json.loads(path.read_text())
    counts = manifest.setdefault("counts", {})
    for name in ("requests", "journeys", "ws_events", "planned"):
        f = run_dir / f"{name}.parquet"
        counts[name] = pq.read_metadata(f).num_rows if f.exists() else 0
    # A Locust process that finalized the run keeps its verdict (false when a worker was
    # lost); if it died first, the parts merged here may lack its last second of rows.
    if not manifest.get("finalized"):
        manifest["complete"] = False
        manifest["finalized_by"] = "orderflow loadtest (the Locust process did not finish)"
    manifest["interrupted"] = interrupted
    path.write_text(json.dumps(manifest, indent=1) + "\n")
