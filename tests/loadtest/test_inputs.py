"""Bad input (tokens files, trace dirs, flags, targets) is one clear message naming what is wrong
and where, with the exit status of docs/exit-codes.md (1 a file or scenario, 2 a flag, 4 a
target that cannot be load tested) and no traceback; nothing is sent and no run dir is
written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loadtest.identities import IdentityError, load_tokens
from orderflow.cli import main
from scenarios.exit_codes import ExitCode
from tests.loadtest.conftest import SECRET, Server, loadtest
from tests.loadtest.test_faults import tokens_file


def _fails(args: list[str], *needles: str) -> None:
    """In a subprocess, as a user would run it."""
    proc = loadtest(args, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


Refused = Callable[..., None]


@pytest.fixture
def refused(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Refused:
    """In this process (the checks run before Locust is started, so it is never imported):
    the same CLI entry point, minus a few seconds of interpreter start-up per case."""
    monkeypatch.setenv("ORDERFLOW_JWT_SECRET", SECRET)

    def check(args: list[str], *needles: str, code: int = ExitCode.USAGE) -> None:
        assert main(["loadtest", *args]) == code
        err = capsys.readouterr().err
        for needle in needles:
            assert needle in err, err

    return check


def test_bad_flags_and_paths(server: Server, tmp_path: Path, refused: Refused) -> None:
    _fails(["--host", server.url, "--speedup", "0"], "--speedup: must be > 0")
    host = ["--host", server.url]
    refused([*host, "--workers", "0"], "--workers")
    refused(["--host", "localhost:8000"], "--host 'localhost:8000'", "http://")
    bad = ExitCode.BAD_INPUT
    refused([*host, "nonexistent_scenario"], "nonexistent_scenario", "shipped", code=bad)
    refused([*host, "--tokens", str(tmp_path / "nope.json")], "nope.json", "no such file",
            code=bad)  # fmt: skip
    refused([*host, "--trace", str(tmp_path)], "no timeline.parquet", code=bad)
    stub = pa.table({"order_idx": [0], "role": ["customer"]})
    pq.write_table(stub, tmp_path / "timeline.parquet")
    refused([*host, "--trace", str(tmp_path)], "timeline.parquet", "missing column 'arrival_s'",
            code=bad)  # fmt: skip
    refused([*host, "--ws-share", "2"], "--ws-share: must be between 0 and 1")
    refused([*host, "--set", "fleet.nonsense=1"], "fleet.nonsense: unknown field", code=bad)


def test_target_refusing_tokens_or_unreachable(
    server: Server, tmp_path: Path, refused: Refused
) -> None:
    failed = ExitCode.RUN_FAILED
    refused(["--host", server.url, "--tokens", str(tokens_file(tmp_path / "t.json"))],
            "refused the token", "--tokens FILE", code=failed)  # fmt: skip
    refused(["--host", "http://127.0.0.1:9"], "cannot reach http://127.0.0.1:9/api/orders/",
            code=failed)  # fmt: skip


@pytest.mark.parametrize(
    ("content", "suffix", "needle"),
    [
        ("{not json", ".json", "not valid JSON (line 1"),
        ("customers:\n  - token: x\n", ".yaml", "customers[0].user_id"),
        (json.dumps({"customers": []}), ".json", "customers: expected a non-empty list"),
        ("- a list", ".yml", "expected an object"),
    ],
)
def test_tokens_file_errors_name_the_field(
    tmp_path: Path, content: str, suffix: str, needle: str
) -> None:
    path = tmp_path / f"tokens{suffix}"
    path.write_text(content)
    with pytest.raises(IdentityError) as err:
        load_tokens(path)
    assert str(path) in str(err.value) and needle in str(err.value)


def test_tokens_file_price_and_vendor_checks(tmp_path: Path) -> None:
    good = json.loads(tokens_file(tmp_path / "t.json").read_text())
    bad_price = json.loads(json.dumps(good))
    bad_price["vendors"][0]["menu"][0]["unit_price"] = 1.5
    (tmp_path / "p.json").write_text(json.dumps(bad_price))
    with pytest.raises(IdentityError, match=r"vendors\[0\]\.menu\[0\]\.unit_price"):
        load_tokens(tmp_path / "p.json")
    orphan = json.loads(json.dumps(good))
    orphan["restaurants"][0]["vendor_id"] = "elsewhere"
    (tmp_path / "o.json").write_text(json.dumps(orphan))
    with pytest.raises(IdentityError, match="no restaurant token has a vendor_id"):
        load_tokens(tmp_path / "o.json")
    assert load_tokens(tmp_path / "t.json").vendor(3).id == "v1"
