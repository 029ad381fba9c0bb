"""The glue between Locust's runner and our schedule, for each kind of Locust process:

* standalone: builds the plan, runs all of it, writes and finalizes the run directory;
* master: builds the plan (for the user pool size and planned.parquet), sends each worker its
  share of the orders (with the identities and the schedule's start instant: a worker needs no
  file of the master's), writes the rows the workers send as parts of the run directory, stops
  when every worker reports its share complete or lost, then merges the parts;
* worker: runs its share and sends its rows to the master (it may share no disk with it).

The split is by order index (share i of n takes orders with ``index % n == i``), decided by the
master over the workers connected at test start, so no order runs twice and none is skipped.
A worker that stops answering Locust's heartbeats is recorded as lost: its unfinished journeys
are counted, the run is marked incomplete, and the run ends without waiting for it.
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
from loadtest.hdr import Histograms
from loadtest.identities import Identities, IdentityError
from loadtest.minting import resolve_identities
from loadtest.options import (
    PARENT_ENV,
    LoadOptions,
    MissingFileError,
    OptionError,
    default_out,
    from_namespace,
)
from loadtest.outcome import run_outcome
from loadtest.plan import Plan, PlanError
from loadtest.preflight import build_plan
from loadtest.recorder import (
    ROWS_MSG,
    MessageWriter,
    PartReceiver,
    PartWriter,
    RowWriter,
    merge_parts,
    table_from_dicts,
    write_histograms,
)
from loadtest.summary import format_summary, summarize
from loadtest.tables import PLANNED
from loadtest.wire import decode_share, encode_share
from scenarios.exit_codes import ExitCode

log = logging.getLogger("orderflow.loadtest")

SHARE_MSG = "orderflow_share"
DONE_MSG = "orderflow_done"
STOP_MSG = "orderflow_stop"
LEAD_S = 1.0  # the schedule starts this long after test start, so users are spawned in time
#: Seconds a worker may stay missing (Locust marks it so after ~4 s without a heartbeat, and
#: clears it when heartbeats resume) before its share is given up as lost: a worker paused by
#: a busy machine, or a master slow to read its messages, is not a dead one.
LOST_GRACE_S = 10.0


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
        self.final_shares: set[int] = set()  # sent their rows after the test stopped
        self.lost_shares: set[int] = set()
        self.missing_since: dict[int, float] = {}
        self.share_clients: dict[int, str] = {}
        self.sent_counts: dict[int, dict[str, int]] = {}
        self.receiver: PartReceiver | None = None
        self.histograms: Histograms | None = None
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
            runner.register_message(ROWS_MSG, self._on_rows)
        elif isinstance(runner, WorkerRunner):
            self.kind = "worker"
            runner.register_message(SHARE_MSG, self._on_share)
            runner.register_message(STOP_MSG, self._on_stop)
        if self.kind != "worker" and environment.parsed_options is not None:
            try:
                self._prepare(environment.parsed_options)
            except (IdentityError, PlanError, MissingFileError) as exc:
                print(f"orderflow load test: {exc}", file=sys.stderr)
                sys.exit(ExitCode.BAD_INPUT)
            except OptionError as exc:
                print(f"orderflow load test: {exc}", file=sys.stderr)
                sys.exit(ExitCode.USAGE)

    def _prepare(self, ns: Any) -> None:
        self.opts = from_namespace(ns)
        self.identities = resolve_identities(self.opts.tokens)
        self.plan = build_plan(self.opts, self.identities)
        self.pool = self.plan.pool_size()
        self._freeze()

    @staticmethod
    def _freeze() -> None:
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
        share = int(msg.data["share"])
        self.sent_counts[share] = {str(k): int(v) for k, v in msg.data["counts"].items()}
        self.done_shares.add(share)
        self._heard_from(share)
        if msg.data.get("final"):
            self.final_shares.add(share)
        if self.finalized:  # its last rows came after the run was written: write it again
            self._write_outputs()

    def _on_rows(self, environment: Any, msg: Any, **_: Any) -> None:
        if self.receiver is None:
            log.error("orderflow: rows from a worker before the test started; dropped")
            return
        self.receiver.receive(msg.data)
        self._heard_from(int(msg.data["writer"]))

    def _heard_from(self, share: int) -> None:
        """A share given up as lost that speaks again was only slow."""
        if share in self.lost_shares:
            log.warning("orderflow: worker share %d is back; no longer counted lost", share)
        self.lost_shares.discard(share)
        self.missing_since.pop(share, None)

    # ------------------------------------------------------------------ test start
    def test_start(self, environment: Any) -> None:
        self.finalized = False
        self._reported_done = False
        self._stop_sent = False
        self.done_shares = set()
        self.final_shares = set()
        self.lost_shares = set()
        self.missing_since = {}
        self.sent_counts = {}
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
            self.share_clients = dict(enumerate(clients))
            self.receiver = PartReceiver(self.run_dir)
            self.histograms = self.receiver.histograms
            assert self.identities is not None
            for i, client_id in enumerate(clients):
                environment.runner.send_message(
                    SHARE_MSG,
                    {
                        "share": i,
                        "of": self.shares,
                        "t0": self.t0,
                        "hard_stop": self.hard_stop,
                        "plan": encode_share(
                            self.plan, i, self.shares, self.identities, self.opts.tokens is not None
                        ),
                    },
                    client_id,
                )
        else:
            self.shares = 1
            writer = PartWriter(self.run_dir, 0)
            self.histograms = writer.histograms
            self._make_ctx(0, 1, writer, self.opts.max_requests)
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
        try:
            self.opts = from_namespace(environment.parsed_options, check_files=False)
            self.plan, self.identities = decode_share(self.share["plan"])
        except (OptionError, IdentityError, ValueError, KeyError) as exc:
            log.error("orderflow: unusable share from the master (%s); this worker stays idle", exc)
            return
        self._freeze()
        share = self.share
        self.t0 = float(share["t0"])
        self.hard_stop = float(share["hard_stop"])
        self.shares = int(share["of"])
        bound = self.opts.max_requests
        if bound:
            bound = bound // self.shares + (1 if int(share["share"]) < bound % self.shares else 0)
        index = int(share["share"])
        writer = MessageWriter(self.env.runner.send_message, index)
        self._make_ctx(index, self.shares, writer, bound)

    def _make_ctx(self, share: int, of: int, writer: RowWriter, max_requests: int) -> None:
        assert self.plan is not None and self.identities is not None and self.opts is not None
        self.ctx = RunContext(
            plan=self.plan,
            orders=self.plan.share(share, of),
            share=share,
            shares=of,
            t0=self.t0,
            identities=self.identities,
            writer=writer,
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
                if self.ctx.bounds.exhausted:
                    self.ctx.drain_unstarted()
                self._report_done()

    def _report_done(self, *, final: bool = False) -> None:
        if self.ctx is None or self._reported_done:
            return
        self._reported_done = True
        self.ctx.writer.mark_done()
        if self.kind == "worker":
            self.env.runner.send_message(
                DONE_MSG, {"share": self.ctx.share, "counts": self.ctx.writer.counts,
                           "final": final}
            )  # fmt: skip
        else:
            self.done_shares.add(0)
            self.final_shares.add(0)

    # ------------------------------------------------------------------ shape
    def tick(self) -> tuple[int, float] | None:
        if self.plan is None:
            return (1, 1.0)
        if not self.t0:
            return (self.pool, self.spawn_rate)
        now = time.time()
        if self.kind == "master":
            self._check_workers()
        if len(self.done_shares | self.lost_shares) >= self.shares or now >= self.hard_stop + 15.0:
            return None
        if now >= self.hard_stop:
            if self.kind != "master":
                return None
            if not self._stop_sent:  # workers end their journeys and report done
                self._stop_sent = True
                for client_id in list(self.env.runner.clients.keys()):
                    self.env.runner.send_message(STOP_MSG, None, client_id)
        return (self.pool, self.spawn_rate)

    def _check_workers(self) -> None:
        """A share whose worker Locust has removed, or has heard nothing from for
        ``LOST_GRACE_S`` since marking it missing, is lost (until it speaks again)."""
        from locust.runners import STATE_MISSING

        clients = self.env.runner.clients
        now = time.time()
        for share, client_id in self.share_clients.items():
            if share in self.final_shares or share in self.lost_shares:
                continue
            node = clients.get(client_id)
            if node is not None and node.state != STATE_MISSING:
                self.missing_since.pop(share, None)
                continue
            since = self.missing_since.setdefault(share, now)
            if node is None or now - since >= LOST_GRACE_S:
                self.lost_shares.add(share)
                log.error("orderflow: worker %s (share %d) was lost; the run is incomplete",
                          client_id, share)  # fmt: skip

    # ------------------------------------------------------------------ stop
    def test_stop(self, environment: Any) -> None:
        if self._monitor is not None:
            self._monitor.kill(block=False)
            self._monitor = None
        if self.ctx is not None:
            if self.ctx.bounds.exhausted:
                self.ctx.drain_unstarted()
            self._reported_done = False  # rows may have come in since; flush and report again
            self._report_done(final=True)
            self.ctx = None
        if self.kind == "worker":
            self.share = None  # a next test gets a new share
            return
        if self.kind == "master":
            # Locust tells the workers to stop only after this returns: ask them now, so their
            # last rows and final counts arrive while finalize waits for them.
            for share, client_id in self.share_clients.items():
                if share not in self.final_shares:
                    self.env.runner.send_message(STOP_MSG, None, client_id)
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
        while time.time() < deadline:  # every worker still there sends its last rows
            if self.kind == "master":
                self._check_workers()
            if set(range(self.shares)) <= self.final_shares | self.lost_shares:
                break
            gevent.sleep(0.1)
        if self.kind == "master":
            self._check_workers()
            for share in range(self.shares):  # stopped answering while we waited
                if share not in self.final_shares and share not in self.done_shares:
                    self.lost_shares.add(share)
        self.finalized = True
        code, reasons, summary = self._write_outputs()
        if summary is None:
            return
        print(format_summary(summary, self.run_dir), file=sys.stderr, flush=True)
        for reason in reasons:
            print(f"orderflow: {reason}", file=sys.stderr, flush=True)
        self.env.process_exit_code = code

    def _write_outputs(self) -> tuple[int, list[str], dict[str, Any] | None]:
        """Merge the parts and write the histograms, manifest and summary, all from the same
        rows (again when a worker's last rows arrive after the run was first written)."""
        assert self.run_dir is not None
        merge_parts(self.run_dir)
        if self.histograms is not None:
            write_histograms(self.run_dir, self.histograms)
        self._write_manifest(final=True)
        try:
            summary = summarize(self.run_dir)
        except Exception as exc:  # a summary problem must not lose the run directory
            log.error("orderflow: could not summarize %s: %s", self.run_dir, exc)
            return ExitCode.RUN_FAILED, [f"could not summarize: {exc}"], None
        (self.run_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
        code, reasons = run_outcome(self.run_dir, summary)
        if self.env is not None:
            self.env.process_exit_code = code
        return code, reasons, summary

    # ------------------------------------------------------------------ files
    def _write_planned(self) -> None:
        assert self.plan is not None and self.run_dir is not None
        rows = list(self.plan.planned_rows(self.t0, self.shares))
        pq.write_table(table_from_dicts(PLANNED, rows), self.run_dir / "planned.parquet")

    def _workers_record(self) -> dict[str, Any]:
        """Which shares were lost and how many of their journeys never ran, and whether every
        worker's rows arrived exactly (the master's count against the worker's own)."""
        assert self.plan is not None and self.run_dir is not None
        out: dict[str, Any] = {"lost": sorted(self.lost_shares), "lost_journeys": 0}
        if self.lost_shares:
            f = self.run_dir / "journeys.parquet"
            ran = set(pq.read_table(f, columns=["journey_id"]).column(0).to_pylist()) if (
                f.exists()) else set()  # fmt: skip
            out["lost_journeys"] = sum(
                1 for o in self.plan.orders
                if o.index % self.shares in self.lost_shares and o.key not in ran
            )  # fmt: skip
        if self.receiver is not None:
            received = self.receiver.rows
            out["rows_received"] = {str(k): v for k, v in sorted(received.items())}
            out["mismatched"] = sorted(
                share for share, sent in self.sent_counts.items()
                if share not in self.lost_shares
                and sent != received.get(share, dict.fromkeys(sent, 0))
            )  # fmt: skip
        return out

    def _write_manifest(self, *, final: bool) -> None:
        assert self.plan is not None and self.run_dir is not None and self.opts is not None
        counts: dict[str, Any] = {}
        if final:
            for name in ("requests", "journeys", "ws_events", "planned"):
                f = self.run_dir / f"{name}.parquet"
                counts[name] = pq.read_metadata(f).num_rows if f.exists() else 0
        counts["planned_journeys"] = len(self.plan.orders)
        o = self.opts
        workers = self._workers_record() if final else {}
        manifest = {
            "kind": "loadtest",
            "complete": final and not workers.get("lost") and not workers.get("mismatched"),
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
            "finalized": final,
            "lost_workers": workers.get("lost", []),
        }
        if self.receiver is not None:
            manifest["transport"] = {
                k: v for k, v in workers.items() if k not in ("lost", "lost_journeys")
            }
        counts["lost_journeys"] = workers.get("lost_journeys", 0)
        tmp = self.run_dir / ".manifest.json.tmp"
        tmp.write_text(json.dumps(manifest, indent=1) + "\n")
        tmp.replace(self.run_dir / "manifest.json")


SESSION = Session()
