"""What the checks observed, rule by rule, and the verdict each rule ends with.

A rule passes when it was observed at least once and never broken, fails when any observation
broke it (the first breaking request and response are kept as evidence), and is not testable
when nothing observed it: because a check said why (no rider token, an expiry past the time
limit...) or because a bound ended the run before it was reached. No rule of the catalogue is
left out of the verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from conformance.catalogue import CATALOGUE, RULES, Rule


class Outcome(StrEnum):
    PASS = "pass"  # noqa: S105 (an outcome, not a password)
    FAIL = "fail"
    UNTESTABLE = "not testable"


class Evidence(Protocol):
    def describe(self) -> str: ...


@dataclass
class Verdict:
    rule: Rule
    outcome: Outcome
    reason: str = ""
    evidence: list[str] = field(default_factory=list)
    observations: int = 0
    #: seconds the requests that observed it took (JUnit's ``time``)
    seconds: float = 0.0


@dataclass
class _Entry:
    passes: int = 0
    failure: str | None = None
    evidence: list[str] = field(default_factory=list)
    untestable: str | None = None
    seconds: float = 0.0


class Ledger:
    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {rule.id: _Entry() for rule in CATALOGUE}

    def _entry(self, rule_id: str) -> _Entry:
        try:
            return self._entries[rule_id]
        except KeyError:
            raise KeyError(f"rule {rule_id!r} is not in the catalogue") from None

    def check(self, rule_id: str, problem: str | None, *evidence: Evidence) -> bool:
        """Record one observation: ``problem`` None means the rule held. True when it held."""
        entry = self._entry(rule_id)
        entry.seconds += sum(float(getattr(e, "elapsed", 0.0)) for e in evidence)
        if problem is None:
            entry.passes += 1
            return True
        if entry.failure is None:
            entry.failure = problem
            entry.evidence = [e.describe() for e in evidence]
        return False

    def untestable(self, rule_id: str, reason: str) -> None:
        """Say why a rule could not be observed (kept only if nothing observes it later)."""
        entry = self._entry(rule_id)
        if entry.untestable is None:
            entry.untestable = reason

    def observed(self, rule_id: str) -> bool:
        entry = self._entry(rule_id)
        return entry.passes > 0 or entry.failure is not None

    def failed(self, rule_id: str) -> bool:
        return self._entry(rule_id).failure is not None

    def verdicts(self, unreached: str) -> list[Verdict]:
        """Every rule's verdict, in catalogue order; ``unreached`` is the reason given to a rule
        nothing observed and no check explained (the bound that ended the run, or why the run
        stopped)."""
        out = []
        for rule_id, entry in self._entries.items():
            rule = RULES[rule_id]
            seen = entry.passes + (1 if entry.failure is not None else 0)
            if entry.failure is not None:
                out.append(
                    Verdict(rule, Outcome.FAIL, entry.failure, entry.evidence, seen, entry.seconds)
                )
            elif entry.passes:
                out.append(Verdict(rule, Outcome.PASS, "", [], seen, entry.seconds))
            else:
                out.append(Verdict(rule, Outcome.UNTESTABLE, entry.untestable or unreached))
        return out
