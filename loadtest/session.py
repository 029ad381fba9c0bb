"""The glue between Locust's runner and our schedule, for each kind of Locust process:

* standalone: builds the plan, runs all of it, writes and finalizes the run directory;
* master: builds the plan (for the user pool size and planned.parquet), tells each worker its
  share, the schedule's start instant and the run directory, stops when every worker reports its
  share complete, then merges the workers' parts;
* worker: runs its share and writes its parts.

The split is by order index (share i of n takes orders with ``index % n == i``), decided by the
master over the workers connected at test start, so no order runs twice and none is skipped.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import gevent
import pyarrow.parquet as pq

from loadtest.context import Bounds, RunContext
from loadtest.identities import Identities, IdentityError
from loadtest.minting import resolve_identities
from loadtest.options import PARENT_ENV, LoadOptions, OptionError, default_out, from_namespace
from loadtest.plan import Plan, PlanError
from loadtest.preflight import build_plan
from loadtest.recorder import PartWriter, done_writers, merge_parts, table_from_dicts
from loadtest.summary import format_summary, summarize
from loadtest.tables import PLANNED

log = logging.getLogger("orderflow.loadtest")

SHARE_MSG = "orderflow_share"
DONE_MSG = "orderflow_done"
STOP_MSG = "orderflow_stop"
LEAD_S = 1.0  # the schedule starts this long after test start, so users are spawned in time


class Session:
    def __init__(self) -> None:
        self.env: Any = None
        self.opts: LoadOptions | None = None
        self.identities: Identities | None = None
        self.plan: Plan | None = None
        self.run_dir: Path | None = None
        self.ctx: RunContext | None = None
        self.kind = "local"
        self.share: dict[str, Any] | None = None
        self.shares = 1
        self.done_shares: set[int] = set()
        self.t0 = 0.0
        self.hard_stop = 0.0
        self.started_at = 0.0
        self.pool = 1
        self.finalized = False
        self._monitor: gevent.Greenlet | None = None
        self._reported_done = False
        self._stop_sent = False

    # ------------------------------------------------------------------ setup
    def init(self, environment: Any) -> None:
        from locust.runners import MasterRunner, WorkerRunner

        self.env = environment
        parent = os.environ.get(PARENT_ENV)
        if parent and parent.isdigit():
            gevent.spawn(self._orphan_guard, int(parent))
        runner = environment.runner
        if isinstance(runner, MasterRunner):
            self.kind = "master"
            runner.register_message(DONE_MSG, self._on_done)
        elif isinstance(runner, WorkerRunner):
            self.kind = "worker"
            runner.register_message(SHARE_MSG, self._on_share)
            runner.register_message(STOP_MSG, self._on_stop)
        if self.kind != "worker" and environment.parsed_options is not None:
            try:
                self._prepare(environment.parsed_options)
            except (OptionError, IdentityError, PlanError) as exc:
                print(f"orderflow load test: {exc}", file=sys.stderr)
                sys.exit(2)

    def _prepare(self, ns: Any) -> None:
        self.opts = from_namespace(ns)
        self.identities = resolve_identities(self.opts.tokens)
        self.plan = build_plan(self.opts, self.identities)
        self.pool = self.plan.pool_size()
        # The plan (every order's calls) lives as long as the process: frozen out of the cyclic
        # GC's sight, so a full collection during the run does not walk it and stall requests.
        gc.collect()
        gc.freeze()

    def _orphan_guard(self, parent: int) -> None:
        """Started by `orderflow loadtest`: if it dies (even by SIGKILL), stop generating load
        and quit as after Ctrl-C, rather than run on unattended."""
        while True:
            gevent.sleep(1.0)
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                log.error("orderflow: `orderflow loadtest` (pid %d) is gone; quitting", parent)
                os.kill(os.getpid(), signal.SIGTERM)
                return
            except PermissionError:
                continue

    def _on_share(self, environment: Any, msg: Any, **_: Any) -> None:
        self.share = dict(msg.data)

    def _on_stop(self, environment: Any, msg: Any, **_: Any) -> None:
        """The master's time bound passed: end our journeys, flush, report done."""
        gevent.spawn(environment.runner.stop)

    def _on_done(self, environment: Any, msg: Any, **_: Any) -> None:
        self.done_shares.add(int(msg.data["share"]))

    # ------------------------------------------------------------------ test start
    def test_start(self, environment: Any) -> None:
        self.finalized = False
        self._reported_done = False
        self._stop_sent = False
        self.done_shares = set()
        if self.kind == "worker":
            self._start_worker(environment)
            return
        assert self.opts is not None and self.plan is not None
        self.run_dir = self._fresh_dir(self.opts.out or default_out())
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.started_at = time.time()
        self.t0 = self.started_at + LEAD_S + self.pool / self.spawn_rate
        last = max((o.arrival_s for o in self.plan.orders), default=0.0) / self.plan.speedup
        drain = (
            self.opts.drain
            if self.opts.drain is not None
            else (self.plan.wall_window() - last + 10.0)
        )
        self.hard_stop = self.t0 + max(last, self.opts.duration) + drain
        if self.kind == "master":
            clients = sorted(environment.runner.clients.keys())
            self.shares = max(1, len(clients))
            for i, client_id in enumerate(clients):
                environment.runner.send_message(
                    SHARE_MSG,
                    {
                        "share": i,
                        "of": self.shares,
                        "t0": self.t0,
                        "hard_stop": self.hard_stop,
                        "run_dir": str(self.run_dir.resolve()),
                    },
                    client_id,
                )
        else:
            self.shares = 1
            self._make_ctx(0, 1, self.run_dir, self.opts.max_requests)
        self._write_planned()
        self._write_manifest(final=False)
        log.info(
            "orderflow: %d journeys planned (%s), pool %d users, run dir %s",
            len(self.plan.orders),
            self.plan.source,
            self.pool,
            self.run_dir,
        )

    @property
    def spawn_rate(self) -> float:
        return max(10.0, self.pool * 2.0)

    @staticmethod
    def _fresh_dir(path: Path) -> Path:
        """A second test in one Locust session (web UI) gets its own directory."""
        if not (path / "manifest.json").exists():
            return path
        n = 2
        while (path.parent / f"{path.name}-{n}" / "manifest.json").exists():
            n += 1
        return path.parent / f"{path.name}-{n}"

    def _start_worker(self, environment: Any) -> None:
        deadline = time.time() + 10
        while self.share is None and time.time() < deadline:
            gevent.sleep(0.05)
        if self.share is None:
            log.error("orderflow: no schedule share from the master; this worker stays idle")
            return
        self._prepare(environment.parsed_options)
        assert self.opts is not None
        share = self.share
        self.t0 = float(share["t0"])
        self.hard_stop = float(share["hard_stop"])
        self.shares = int(share["of"])
        bound = self.opts.max_requests
        if bound:
            bound = bound // self.shares + (1 if int(share["share"]) < bound % self.shares else 0)
        self._make_ctx(int(share["share"]), self.shares, Path(share["run_dir"]), bound)

    def _make_ctx(self, share: int, of: int, run_dir: Path, max_requests: int) -> None:
        assert self.plan is not None and self.identities is not None and self.opts is not None
        self.run_dir = run_dir
        self.ctx = RunContext(
            plan=self.plan,
            orders=self.plan.share(share, of),
            share=share,
            shares=of,
            t0=self.t0,
            identities=self.identities,
            writer=PartWriter(run_dir, share),
            bounds=Bounds(max_requests, self.hard_stop),
            rider_wait_s=self.opts.rider_wait,
        )
        self._monitor = gevent.spawn(self._watch)

    def _watch(self) -> None:
        """Flush rows every second; say when this process's share is complete."""
        while self.ctx is not None:
            gevent.sleep(1.0)
            self.ctx.writer.flush()
            if self.ctx.complete and not self._reported_done:
                self._report_done()

    def _report_done(self) -> None:
        if self.ctx is None or self._reported_done:
            return
        self._reported_done = True
        self.ctx.writer.mark_done()
        if self.kind == "worker":
            self.env.runner.send_message(DONE_MSG, {"share": self.ctx.share})
        else:
            self.done_shares.add(0)

    # ------------------------------------------------------------------ shape
    def tick(self) -> tuple[int, float] | None:
        if self.plan is None:
            return (1, 1.0)
        if not self.t0:
            return (self.pool, self.spawn_rate)
        now = time.time()
        if len(self.done_shares) >= self.shares or now >= self.hard_stop + 15.0:
            return None
        if now >= self.hard_stop:
            if self.kind != "master":
                return None
            if not self._stop_sent:  # workers end their journeys and report done
                self._stop_sent = True
                for client_id in list(self.env.runner.clients.keys()):
                    self.env.runner.send_message(STOP_MSG, None, client_id)
        return (self.pool, self.spawn_rate)

    # ------------------------------------------------------------------ stop
    def test_stop(self, environment: Any) -> None:
        if self._monitor is not None:
            self._monitor.kill(block=False)
            self._monitor = None
        if self.ctx is not None:
            self._reported_done = False  # rows may have come in since; flush and report again
            self._report_done()
            self.ctx = None
        if self.kind != "worker":
            self.finalize()

    def quitting(self, environment: Any) -> None:
        runner = environment.runner
        if self.kind == "worker" or runner is None or self.run_dir is None:
            return
        if not self.finalized and runner.state not in ("stopped", "ready"):
            runner.stop()  # Ctrl-C: stop the users (they record what they were doing) first
        if not self.finalized:
            self.finalize()

    def finalize(self) -> None:
        if self.finalized or self.run_dir is None:
            return
        deadline = time.time() + 15.0
        while time.time() < deadline:
            if set(range(self.shares)) <= done_writers(self.run_dir):
                break
            gevent.sleep(0.1)
        merge_parts(self.run_dir)
        self.finalized = True
        self._write_manifest(final=True)
        try:
            summary = summarize(self.run_dir)
        except Exception as exc:  # a summary problem must not lose the run directory
            log.error("orderflow: could not summarize %s: %s", self.run_dir, exc)
            return
        (self.run_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
        print(format_summary(summary, self.run_dir), file=sys.stderr, flush=True)

    # ------------------------------------------------------------------ files
    def _write_planned(self) -> None:
        assert self.plan is not None and self.run_dir is not None
        rows = list(self.plan.planned_rows(self.t0, self.shares))
        pq.write_table(table_from_dicts(PLANNED, rows), self.run_dir / "planned.parquet")

    def _write_manifest(self, *, final: bool) -> None:
        assert self.plan is not None and self.run_dir is not None and self.opts is not None
        counts: dict[str, Any] = {}
        if final:
            for name in ("requests", "journeys", "ws_events", "planned"):
                f = self.run_dir / f"{name}.parquet"
                counts[name] = pq.read_metadata(f).num_rows if f.exists() else 0
        counts["planned_journeys"] = len(self.plan.orders)
        o = self.opts
        manifest = {
            "kind": "loadtest",
            "complete": final,
            "host": self.env.host if self.env is not None else None,
            "scenario": None if o.trace else o.scenario,
            "trace": str(o.trace) if o.trace else None,
            "source": self.plan.source,
            "speedup": o.speedup,
            "duration": o.duration,
            "workers": self.shares,
            "pool_users": self.pool,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started_at)),
            "schedule_t0": self.t0,
            "bounds": {
                "max_requests": o.max_requests,
                "hard_stop_ts": self.hard_stop,
                "time_bound_s": self.hard_stop - self.t0,
            },
            "background": self.plan.background,
            "tokens": str(o.tokens) if o.tokens else "minted for the reference server",
            "counts": counts,
        }
        tmp = self.run_dir / ".manifest.json.tmp"
        tmp.write_text(json.dumps(manifest, indent=1) + "\n")
        tmp.replace(self.run_dir / "manifest.json")


SESSION = Session()
