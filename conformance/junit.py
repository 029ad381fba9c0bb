"""JUnit XML for CI: one ``testsuite`` per rule group and one ``testcase`` per rule. A failed
rule carries the request and response that broke it in its ``failure``; a rule that could not
be tested is ``skipped`` with why. Every rule is there, so a CI's test count is the catalogue's.
Suites carry ``time``, ``timestamp`` and ``hostname``, cases ``time`` (the seconds of the
requests that observed the rule), as Ant's junit-10.xsd has them.

XML 1.0 cannot hold most control characters, and a response body may contain any: they are
replaced before writing, so a hostile body cannot make the file unreadable."""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from conformance.ledger import Outcome, Verdict
from conformance.report import write_text

_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def clean(text: str) -> str:
    return _ILLEGAL.sub("\ufffd", text)


def to_xml(
    verdicts: Sequence[Verdict],
    *,
    name: str,
    seconds: float,
    started: datetime | None = None,
    hostname: str | None = None,
) -> str:
    """``started`` (UTC) is the run's start, written as the suites' ``timestamp`` (junit-10.xsd:
    ISO 8601 without a zone); ``hostname`` the machine the check ran on."""
    when = (started or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    host = hostname or socket.gethostname() or "localhost"

    def counts(rows: Sequence[Verdict]) -> dict[str, str]:
        return {
            "tests": str(len(rows)),
            "failures": str(sum(1 for v in rows if v.outcome is Outcome.FAIL)),
            "errors": "0",
            "skipped": str(sum(1 for v in rows if v.outcome is Outcome.UNTESTABLE)),
        }

    root = ET.Element("testsuites", {"name": clean(name), **counts(verdicts)})
    root.set("time", f"{seconds:.3f}")
    groups: dict[str, list[Verdict]] = {}
    for v in verdicts:
        groups.setdefault(v.rule.group, []).append(v)
    for group, rows in groups.items():
        suite = ET.SubElement(
            root,
            "testsuite",
            {
                "name": f"conformance.{group}",
                **counts(rows),
                "time": f"{sum(v.seconds for v in rows):.3f}",
                "timestamp": when,
                "hostname": clean(host),
            },
        )
        for v in rows:
            case = ET.SubElement(
                suite,
                "testcase",
                {
                    "classname": f"conformance.{group}",
                    "name": v.rule.id,
                    "time": f"{v.seconds:.3f}",
                },
            )
            if v.outcome is Outcome.FAIL:
                failure = ET.SubElement(
                    case, "failure", {"message": clean(v.reason), "type": "RuleBroken"}
                )
                failure.text = clean("\n\n".join([v.reason, *v.evidence]))
            elif v.outcome is Outcome.UNTESTABLE:
                ET.SubElement(case, "skipped", {"message": clean(v.reason)})
            out = ET.SubElement(case, "system-out")
            out.text = clean(v.rule.description)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write(
    path: Path,
    verdicts: Sequence[Verdict],
    *,
    name: str,
    seconds: float,
    started: datetime | None = None,
) -> None:
    write_text(path, to_xml(verdicts, name=name, seconds=seconds, started=started))
