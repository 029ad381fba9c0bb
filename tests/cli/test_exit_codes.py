"""One table of exit codes for every command (docs/exit-codes.md, ``scenarios.exit_codes``):
the documented table names every registered command and the codes the enum has, every command
refuses an unknown flag with 2, and each command's cheap bad-input and run-failed paths end
with the documented code. Breaches (3) and the slower failures are asserted where those
features are tested (tests/reports, tests/sim/test_plan.py, tests/conformance, test_compare)."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from orderflow.cli import build_parser, main
from reports.synthetic import write_load_run
from scenarios.exit_codes import ExitCode

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "exit-codes.md"


def registered_commands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(sub.choices)  # type: ignore[arg-type]


def doc_tables() -> tuple[dict[int, str], list[str]]:
    text = DOC.read_text()
    codes = {int(m[1]): m[2] for m in re.finditer(r"^\| \*\*(\d+)\*\* \| `(\w+)` \|", text, re.M)}
    by_command = text.split("## By command", 1)[1]
    names = re.findall(r"^\| `([^`]+)` \|", by_command, re.M)
    return codes, names


def test_the_documented_codes_are_the_enum() -> None:
    codes, _ = doc_tables()
    assert codes == {int(c): c.name for c in ExitCode}


def test_every_registered_command_is_in_the_table() -> None:
    _, names = doc_tables()
    assert sorted(n for n in names if not n.startswith("locust")) == registered_commands()
    assert "locust -f loadtest/locustfile.py" in names


@pytest.mark.parametrize("command", registered_commands())
def test_an_unknown_flag_is_a_usage_error(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--no-such-flag"])
    assert exc.value.code == ExitCode.USAGE
    assert "error:" in capsys.readouterr().err


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    yield port


def bad_tokens(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"customers": [{"token": "t"}]}))  # no user_id, no vendors
    return path


def test_bad_input_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = str(tmp_path / "no-such-scenario.toml")
    not_a_run = tmp_path / "empty"
    not_a_run.mkdir()
    tokens = str(bad_tokens(tmp_path))
    cases: dict[str, list[str]] = {
        "simulate": ["simulate", missing, "--quiet"],
        "sweep": ["sweep", missing, "--vary", "fleet.riders=2:3"],
        "plan": [
            "plan",
            missing,
            "--vary",
            "fleet.riders=2:3",
            "--sla",
            "wait_for_rider=avg < 2min",
        ],
        "report": ["report", str(not_a_run)],
        "import-mdrp": ["import-mdrp", str(not_a_run), "--out", str(tmp_path / "x.toml")],
        "loadtest": ["loadtest", "--host", "http://127.0.0.1:9", "--tokens", tokens],
        "compare": ["compare", str(not_a_run), str(not_a_run)],
        "conform": ["conform", "--host", "http://127.0.0.1:9", "--tokens", tokens],
    }
    for name, argv in cases.items():
        assert main(argv) == ExitCode.BAD_INPUT, name
        assert capsys.readouterr().err.strip(), f"{name}: no message"
    monkeypatch.setenv("ORDERFLOW_JWT_SECRET", "short")
    assert main(["token", "--role", "customer"]) == ExitCode.BAD_INPUT
    assert "ORDERFLOW_JWT_SECRET" in capsys.readouterr().err


def test_an_unreachable_target_is_a_failed_run(
    closed_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    host = f"http://127.0.0.1:{closed_port}"
    assert main(["loadtest", "--host", host]) == ExitCode.RUN_FAILED
    assert "cannot reach" in capsys.readouterr().err
    assert main(["conform", "--host", host]) == ExitCode.RUN_FAILED
    assert capsys.readouterr().err.strip()


def test_serve_that_cannot_listen_is_a_failed_run(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--host", "127.0.0.1", "--port", str(port)]) == ExitCode.RUN_FAILED
    assert "cannot listen" in capsys.readouterr().err


def test_report_breach_exits_3(tmp_path: Path) -> None:
    run = write_load_run(tmp_path / "run", rows=500)
    assert main(["report", str(run), "--threshold", "errors=rate < 0.01%"]) == ExitCode.BREACHED


def test_plain_locust_bad_tokens_exits_1(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(REPO / "loadtest" / "locustfile.py"),
         "--headless", "--host", "http://127.0.0.1:9", "--tokens", str(bad_tokens(tmp_path))],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == ExitCode.BAD_INPUT, proc.stdout + proc.stderr
    assert "tokens" in proc.stderr
