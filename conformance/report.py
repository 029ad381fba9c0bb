"""The terminal table (every rule, grouped, with why for the ones that did not pass), the short
summary under it, and ``conform.json`` for ``--out``."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from conformance.catalogue import GROUPS
from conformance.ledger import Outcome, Verdict

if TYPE_CHECKING:
    from conformance.runner import RunResult

LABEL = {Outcome.PASS: "pass", Outcome.FAIL: "FAIL", Outcome.UNTESTABLE: "not testable"}


def _counts(verdicts: Iterable[Verdict]) -> dict[Outcome, int]:
    counts = dict.fromkeys(Outcome, 0)
    for v in verdicts:
        counts[v.outcome] += 1
    return counts


def summary_line(result: RunResult) -> str:
    c = _counts(result.verdicts)
    return (
        f"{len(result.verdicts)} rules: {c[Outcome.PASS]} passed, {c[Outcome.FAIL]} failed, "
        f"{c[Outcome.UNTESTABLE]} not testable"
    )


def print_table(result: RunResult, out: TextIO) -> None:
    width = max(len(v.rule.id) for v in result.verdicts)
    for group in GROUPS:
        rows = [v for v in result.verdicts if v.rule.group == group]
        c = _counts(rows)
        parts = [f"{c[o]} {LABEL[o].lower()}" for o in Outcome if c[o]]
        print(f"\n{group} ({len(rows)}): {', '.join(parts)}", file=out)
        for v in rows:
            why = f"  {v.reason}" if v.reason else ""
            print(f"  {LABEL[v.outcome]:<12}  {v.rule.id:<{width}}{why}".rstrip(), file=out)


def print_summary(result: RunResult, out: TextIO) -> None:
    print(f"\norderflow conform {result.host}: {summary_line(result)}", file=out)
    print(
        f"{result.requests} requests (--max-requests {result.max_requests}) in "
        f"{result.seconds:.1f}s (--time-limit {result.time_limit_s:g}s)",
        file=out,
    )
    if result.bound:
        print(f"stopped early: {result.bound}; the rules not reached are not testable", file=out)
    if result.aborted:
        print(f"stopped early: {result.aborted}", file=out)
    for warning in result.warnings:
        print(f"warning: {warning}", file=out)
    failed = [v for v in result.verdicts if v.outcome is Outcome.FAIL]
    if failed:
        print(f"failed ({len(failed)}):", file=out)
        for v in failed:
            print(f"  {v.rule.id}: {v.reason}", file=out)
            for evidence in v.evidence[:1]:
                for line in evidence.splitlines():
                    print(f"      {line[:300]}", file=out)


def as_json(result: RunResult) -> dict[str, Any]:
    c = _counts(result.verdicts)
    return {
        "host": result.host,
        "exit_code": result.exit_code,
        "requests": result.requests,
        "seconds": round(result.seconds, 3),
        "max_requests": result.max_requests,
        "time_limit_s": result.time_limit_s,
        "bound": result.bound,
        "aborted": result.aborted,
        "warnings": result.warnings,
        "summary": {o.value: c[o] for o in Outcome},
        "rules": [
            {
                "id": v.rule.id,
                "group": v.rule.group,
                "description": v.rule.description,
                "outcome": v.outcome.value,
                "reason": v.reason,
                "observations": v.observations,
                "evidence": v.evidence,
            }
            for v in result.verdicts
        ],
    }


def write_text(path: Path, text: str) -> None:
    """Write ``text`` whole or not at all (a temporary file renamed over the target)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(out_dir: Path, result: RunResult) -> Path:
    path = out_dir / "conform.json"
    write_text(path, json.dumps(as_json(result), indent=2) + "\n")
    return path
