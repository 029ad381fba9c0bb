"""The parts that need no server: the catalogue and its expected answers, the ledger's verdicts,
the budget, the JUnit writer, and the command's refusals of bad input (exit 1, naming the
problem), bad usage (exit 2) and an unreachable target (exit 4)."""

from __future__ import annotations

import json
import os
import socket
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conformance import junit
from conformance.catalogue import CANCEL, CATALOGUE, MOVE_BY_NAME, RULES, cell_id, expect
from conformance.driver import BoundReached, Budget
from conformance.ledger import Ledger, Outcome, Verdict
from conformance.runner import RunResult
from orderflow.cli import main
from reference_api.roles import Role
from reference_api.statuses import OrderStatus
from tests.conformance.conftest import SECRET

S = OrderStatus


# ------------------------------------------------------------------------------ catalogue
def test_the_catalogue_has_every_cell_once_and_stable_ids() -> None:
    ids = [r.id for r in CATALOGUE]
    assert len(ids) == len(set(ids))
    cells = [r for r in CATALOGUE if ".by_" in r.id]
    assert len(cells) == len(OrderStatus) * 4 * (9 + 1)
    assert len(CATALOGUE) - len(cells) >= 60
    assert "transition.confirmed->preparing.by_customer.refused" in RULES
    assert "otp.pickup.wrong_code_refused" in RULES
    assert all(r.description and "\n" not in r.description for r in CATALOGUE)


def test_the_docs_list_every_rule_that_is_not_a_cell() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "conformance.md").read_text()
    missing = [r.id for r in CATALOGUE if ".by_" not in r.id and f"| `{r.id}` |" not in text]
    assert not missing, "docs/conformance.md does not list " + ", ".join(missing)


def test_expected_answers_follow_the_reference_tables() -> None:
    prep = MOVE_BY_NAME["start_preparing"]
    assert cell_id(CANCEL, S.PREPARING, Role.CUSTOMER) == "cancel.preparing.by_customer.refused"
    assert expect(CANCEL, S.PREPARING, Role.CUSTOMER).status == 400  # D5
    assert expect(CANCEL, S.ORDER_CONFIRMED, Role.CUSTOMER).ok
    assert expect(CANCEL, S.PREPARING, Role.RIDER).code == "forbidden"  # riders never (D5)
    assert expect(prep, S.ORDER_CONFIRMED, Role.CUSTOMER).status == 403  # D4
    assert expect(prep, S.ORDER_PLACED, Role.RESTAURANT).code == "invalid_transition"
    pickup = MOVE_BY_NAME["pickup"]
    assert expect(pickup, S.READY_FOR_PICKUP, Role.RIDER, visible=False).status == 404
    assert expect(pickup, S.READY_FOR_PICKUP, Role.SYSTEM, rider_assigned=False).status == 409
    # the generic endpoint finds the order before it asks the action about the role (D11)
    confirm = MOVE_BY_NAME["confirm"]
    assert expect(confirm, S.ORDER_PLACED, Role.RIDER, visible=False).status == 403
    assert expect(confirm, S.ORDER_PLACED, Role.RIDER, visible=False, generic=True).status == 404


# ------------------------------------------------------------------------------ ledger, budget
class Note:
    def __init__(self, text: str) -> None:
        self.text = text

    def describe(self) -> str:
        return self.text


def test_a_failure_outweighs_passes_and_unobserved_rules_say_why() -> None:
    ledger = Ledger()
    ledger.check("auth.missing_token_401", None)
    ledger.check("auth.missing_token_401", "got 200", Note("GET /api/orders/ -> 200"))
    ledger.check("auth.missing_token_401", None)
    ledger.untestable("otp.pickup.expired_refused", "expires past the time limit")
    ledger.untestable("auth.forged_token_401", "overruled")
    ledger.check("auth.forged_token_401", None)
    verdicts = {v.rule.id: v for v in ledger.verdicts("bound reached (--max-requests 9)")}
    assert len(verdicts) == len(CATALOGUE)
    failed = verdicts["auth.missing_token_401"]
    assert failed.outcome is Outcome.FAIL
    assert failed.reason == "got 200"
    assert failed.evidence == ["GET /api/orders/ -> 200"]
    assert verdicts["auth.forged_token_401"].outcome is Outcome.PASS
    assert verdicts["otp.pickup.expired_refused"].reason == "expires past the time limit"
    assert verdicts["ws.payload_shape"].reason == "bound reached (--max-requests 9)"
    with pytest.raises(KeyError):
        ledger.check("no.such.rule", None)


def test_the_budget_keeps_a_request_back_for_each_order_held() -> None:
    now = [0.0]
    budget = Budget(5, 100.0, clock=lambda: now[0])
    budget.reserved = 2
    for _ in range(3):
        budget.check()
        budget.sent += 1
    with pytest.raises(BoundReached, match="--max-requests 5"):
        budget.check()
    for _ in range(2):  # the clean-up may use what was kept back, and no more
        budget.check(cleanup=True)
        budget.sent += 1
    with pytest.raises(BoundReached):
        budget.check(cleanup=True)
    later = Budget(100, 10.0, clock=lambda: now[0])
    now[0] = 9.5  # past the checks' deadline (the last second is the clean-up's)
    with pytest.raises(BoundReached, match="--time-limit 10s"):
        later.check()
    later.check(cleanup=True)


# ------------------------------------------------------------------------------ JUnit
def test_junit_has_one_testcase_per_rule_with_evidence_and_skips() -> None:
    verdicts = [
        Verdict(RULES["auth.missing_token_401"], Outcome.PASS, observations=1, seconds=0.25),
        Verdict(
            RULES["cancel.preparing.by_customer.refused"],
            Outcome.FAIL,
            "expected 400 invalid_transition, got 200",
            ['POST /api/orders/x/cancel/\nresponse 200: {"a": "<&>\x00\x1b"}'],
            1,
        ),
        Verdict(RULES["otp.pickup.expired_refused"], Outcome.UNTESTABLE, "expires in 900s"),
    ]
    started = datetime(2026, 3, 1, 12, 30, 5, tzinfo=UTC)
    xml = junit.to_xml(
        verdicts, name="orderflow conform x", seconds=1.5, started=started, hostname="ci-7"
    )
    root = ET.fromstring(xml)
    assert root.tag == "testsuites"
    for suite in root.findall("testsuite"):  # Ant's junit-10.xsd attributes
        assert suite.get("timestamp") == "2026-03-01T12:30:05"
        assert suite.get("hostname") == "ci-7"
        assert float(suite.get("time") or "x") >= 0
    assert root.find("testsuite[@name='conformance.auth']").get("time") == "0.250"  # type: ignore[union-attr]
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("3", "1", "1")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"conformance.auth", "conformance.cancel", "conformance.otp"}
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {v.rule.id for v in verdicts}
    failure = cases["cancel.preparing.by_customer.refused"].find("failure")
    assert failure is not None and failure.text is not None
    assert failure.get("message") == "expected 400 invalid_transition, got 200"
    assert "POST /api/orders/x/cancel/" in failure.text and "<&>" in failure.text
    assert "\x00" not in failure.text  # not writable in XML 1.0: replaced
    skipped = cases["otp.pickup.expired_refused"].find("skipped")
    assert skipped is not None and skipped.get("message") == "expires in 900s"
    assert cases["auth.missing_token_401"].find("failure") is None
    assert cases["auth.missing_token_401"].get("time") == "0.250"
    assert cases["otp.pickup.expired_refused"].get("time") == "0.000"
    out = cases["auth.missing_token_401"].find("system-out")
    assert out is not None and out.text == RULES["auth.missing_token_401"].description


# ------------------------------------------------------------------------------ the command
@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERFLOW_JWT_SECRET", SECRET)


def _tokens(tmp_path: Path, mutate: object) -> Path:
    from loadtest.minting import reference_identities

    raw = reference_identities().as_json()
    assert callable(mutate)
    mutate(raw)
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps(raw))
    return path


@pytest.mark.usefixtures("secret")
@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (lambda raw: raw["customers"][1].pop("token"), "customers[1].token"),
        (lambda raw: raw["vendors"][0]["menu"][0].update(unit_price=3.5), "vendors[0].menu[0]"),
        (lambda raw: raw.update(riders=[]), "riders: expected a non-empty list"),
        (lambda raw: raw["addresses"][0].update(latitude=123), "addresses[0].latitude"),
    ],
)
def test_a_bad_tokens_file_is_exit_1_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mutate: object, named: str
) -> None:
    path = _tokens(tmp_path, mutate)
    assert main(["conform", "--host", "http://127.0.0.1:9", "--tokens", str(path)]) == 1
    err = capsys.readouterr().err
    assert str(path) in err and named in err


def test_an_unreadable_tokens_file_is_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.json"
    assert main(["conform", "--host", "http://127.0.0.1:9", "--tokens", str(missing)]) == 1
    assert "cannot read tokens file" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text('{"customers": [')
    assert main(["conform", "--host", "http://127.0.0.1:9", "--tokens", str(broken)]) == 1
    assert "not valid JSON (line 1" in capsys.readouterr().err


@pytest.mark.usefixtures("secret")
@pytest.mark.parametrize(
    "args",
    [
        ["--host", "ftp://example.com"],
        ["--host", "http://127.0.0.1:9", "--max-requests", "0"],
        ["--host", "http://127.0.0.1:9", "--time-limit", "0"],
        ["--host", "http://127.0.0.1:9", "--steps", "0"],
    ],
)
def test_usage_errors_are_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conform", *args]) == 2
    assert capsys.readouterr().err.startswith("orderflow conform: --")


@pytest.mark.usefixtures("secret")
def test_an_unreachable_target_is_exit_4(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert main(["conform", "--host", f"http://127.0.0.1:{port}", "--quiet"]) == 4
    assert "cannot reach" in capsys.readouterr().err


@pytest.mark.usefixtures("secret")
def test_an_unreachable_target_still_writes_the_reports(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out, xml = tmp_path / "out", tmp_path / "junit.xml"
    args = ["conform", "--host", f"http://127.0.0.1:{port}", "--quiet"]
    assert main([*args, "--out", str(out), "--junit", str(xml)]) == 4
    report = json.loads((out / "conform.json").read_text())
    assert report["exit_code"] == 4
    assert {r["outcome"] for r in report["rules"]} == {"not testable"}
    assert all("cannot reach" in r["reason"] for r in report["rules"])
    root = ET.parse(xml).getroot()
    assert root.get("skipped") == root.get("tests") == str(len(CATALOGUE))


@pytest.mark.usefixtures("secret")
@pytest.mark.parametrize("flag", ["--out", "--junit"])
def test_an_unwritable_report_place_is_exit_2_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    where = blocker / "sub" if flag == "--out" else blocker / "sub" / "junit.xml"
    # port 9 (discard): were the run started, it would be exit 4, not 2
    assert main(["conform", "--host", "http://127.0.0.1:9", flag, str(where)]) == 2
    assert capsys.readouterr().err.startswith(f"orderflow conform: {flag}: cannot write")


@pytest.mark.usefixtures("secret")
@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory")
def test_a_read_only_report_directory_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["conform", "--host", "http://127.0.0.1:9", "--out", str(locked)]) == 2
    finally:
        locked.chmod(0o700)
    assert "--out: cannot write" in capsys.readouterr().err


def _result(outcome: Outcome, bound: str | None = None) -> RunResult:
    verdicts = [Verdict(RULES["auth.missing_token_401"], outcome, "why", [], 1, 0.25)]
    return RunResult("http://x", verdicts, 3, 1.0, 10, 10.0, bound=bound)


def test_a_bound_is_exit_4_and_a_failure_3() -> None:
    assert _result(Outcome.PASS).exit_code == 0
    assert _result(Outcome.FAIL).exit_code == 3
    assert _result(Outcome.PASS, "bound reached (--max-requests 10)").exit_code == 4
    assert _result(Outcome.FAIL, "bound reached (--max-requests 10)").exit_code == 4


@pytest.mark.usefixtures("secret")
def test_a_report_that_cannot_be_written_does_not_hide_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("conformance.runner.run", lambda *_a, **_k: _result(Outcome.FAIL))
    monkeypatch.setattr("conformance.junit.write", broken)
    xml = tmp_path / "junit.xml"
    assert main(["conform", "--host", "http://127.0.0.1:9", "--junit", str(xml)]) == 3
    assert "cannot write the report" in capsys.readouterr().err
    monkeypatch.setattr("conformance.runner.run", lambda *_a, **_k: _result(Outcome.PASS))
    assert main(["conform", "--host", "http://127.0.0.1:9", "--junit", str(xml)]) == 2
