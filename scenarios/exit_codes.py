"""The exit codes every `orderflow` command (and a plain `locust -f loadtest/locustfile.py`)
ends with, in one table, so CI can tell a bad command line from a breached gate from a run
that could not be trusted. Kept in the lowest layer every part imports; docs/exit-codes.md
documents it."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    #: A file or value the command could read but not use (scenario, tokens, run directory,
    #: a --set or --threshold expression); the message names where.
    BAD_INPUT = 1
    #: The command line itself: unknown flag, missing argument, a flag out of its range.
    USAGE = 2
    #: A gate the user set was not met: a threshold, an SLA, a regression, a conformance rule.
    BREACHED = 3
    #: The run itself failed: journeys broke the spec's rules, a worker was lost, the target
    #: could not be reached, a simulation replication crashed.
    RUN_FAILED = 4
    #: Stopped by Ctrl-C (what was recorded is kept).
    INTERRUPTED = 130
