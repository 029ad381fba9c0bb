"""The two entry points read one set of settings: `orderflow serve` flags and the ``ORDERFLOW_*``
variables of ``uvicorn --factory reference_api.http.app:create_app`` go through one parser, so
the same values give the same ``ServerSettings`` and a bad one is a usage error naming it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from orderflow.cli import build_parser
from orderflow.served import FACTORY
from reference_api.http.app import create_app
from reference_api.http.auth import JWT_SECRET_ENV
from reference_api.http.settings import (
    ENV_VARS,
    OPTIONS,
    DispatchSettings,
    ServerSettings,
    SettingsError,
    parse_settings,
    settings_from_env,
)
from tests.server.harness import REPO, SECRET


def _from_flags(*flags: str) -> ServerSettings:
    args = build_parser().parse_args(["serve", *flags])
    return parse_settings({o.field: getattr(args, o.field) for o in OPTIONS}, spelling="flag")


def test_unset_variables_give_the_defaults_of_serve() -> None:
    assert settings_from_env({}) == _from_flags() == ServerSettings()


def test_flags_and_variables_give_the_same_settings() -> None:
    flags = _from_flags(
        "--db", "runs/api.db", "--fresh", "--vendors", "3", "--customers", "40", "--riders", "7",
        "--policy", "confirm_timeout_s=5", "--policy", "refund_settle_delay_s=1.5",
        "--dispatch", "cell_km=0.5", "--dispatch", "ref_lat=12.97", "--synchronous", "FULL",
    )  # fmt: skip
    env = settings_from_env(
        {
            "ORDERFLOW_DB": "runs/api.db",
            "ORDERFLOW_FRESH": "yes",
            "ORDERFLOW_VENDORS": "3",
            "ORDERFLOW_CUSTOMERS": "40",
            "ORDERFLOW_RIDERS": " 7 ",
            "ORDERFLOW_POLICY": "confirm_timeout_s=5, refund_settle_delay_s=1.5",
            "ORDERFLOW_DISPATCH": "cell_km=0.5,ref_lat=12.97",
            "ORDERFLOW_SYNCHRONOUS": "full",
        }
    )
    assert env == flags
    assert env.policy.confirm_timeout_s == 5 and env.policy.refund_settle_delay_s == 1.5
    assert env.dispatch == DispatchSettings(cell_km=0.5, ref_lat=12.97)
    assert (env.vendors, env.customers, env.riders, env.fresh) == (3, 40, 7, True)


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("ORDERFLOW_RIDERS", "0", "ORDERFLOW_RIDERS='0': expected a whole number of at least 1"),
        ("ORDERFLOW_VENDORS", "five", "ORDERFLOW_VENDORS='five': expected a whole number"),
        ("ORDERFLOW_FRESH", "maybe", "ORDERFLOW_FRESH='maybe': expected one of 1, true"),
        ("ORDERFLOW_SYNCHRONOUS", "OFF", "ORDERFLOW_SYNCHRONOUS='OFF': expected NORMAL or FULL"),
        ("ORDERFLOW_POLICY", "confirm_timeout_s", "expected NAME=VALUE[,NAME=VALUE...]"),
        ("ORDERFLOW_POLICY", "coffee_s=3", "'coffee_s=3': unknown field; known: confirm_"),
        ("ORDERFLOW_POLICY", "otp_max_attempts=many", "expected a whole number"),
        ("ORDERFLOW_POLICY", "confirm_timeout_s=-1", "ORDERFLOW_POLICY: policy confirm_timeout_s"),
        ("ORDERFLOW_DISPATCH", "cell_km=0", "ORDERFLOW_DISPATCH cell_km=0.0: expected a number"),
        ("ORDERFLOW_DISPATCH", "ref_lat=90", "expected a latitude between -90 and 90"),
        ("ORDERFLOW_DISPATCH", "radius=2", "'radius=2': unknown field; known: cell_km, ref_lat"),
    ],
)
def test_bad_variables_name_the_variable_and_what_it_accepts(
    variable: str, value: str, says: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_from_env({variable: value})
    assert variable in str(caught.value) and says in str(caught.value)


def test_flag_errors_name_the_flag() -> None:
    with pytest.raises(SettingsError, match=r"^--dispatch cell_km=-1.0: expected a number"):
        _from_flags("--dispatch", "cell_km=-1")
    with pytest.raises(SettingsError, match=r"^--customers 0: expected a whole number"):
        _from_flags("--customers", "0")


@pytest.mark.anyio
async def test_the_factory_builds_the_server_the_variables_describe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process: the zero-argument factory honours every variable it is given."""
    db = tmp_path / "f.db"
    for name, value in {
        "ORDERFLOW_DB": str(db),
        "ORDERFLOW_RIDERS": "2",
        "ORDERFLOW_POLICY": "confirm_timeout_s=7",
        "ORDERFLOW_DISPATCH": "cell_km=0.25",
        JWT_SECRET_ENV: SECRET.decode(),
    }.items():
        monkeypatch.setenv(name, value)
    app = create_app()
    async with app.router.lifespan_context(app):
        service = app.state.runner.service
        assert service.policy.confirm_timeout_s == 7
        assert app.state.secret == SECRET
        assert len(service.store.riders()) == 2
        assert service.dispatch.rider_for(19.07, 72.87) is not None  # riders start available
    assert db.exists()


def test_uvicorn_factory_refuses_a_bad_variable_with_a_usage_error(tmp_path: Path) -> None:
    """Under uvicorn itself: exit status 2 and one line naming the variable, no traceback."""
    env = {
        "PATH": "/usr/bin:/bin",
        "ORDERFLOW_DB": str(tmp_path / "never.db"),
        "ORDERFLOW_POLICY": "confirm_timeout_s=5,coffee_s=3",
        JWT_SECRET_ENV: SECRET.decode(),
    }
    done = subprocess.run(
        [sys.executable, "-m", "uvicorn", "--factory", FACTORY, "--port", "0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "orderflow: ORDERFLOW_POLICY 'coffee_s=3': unknown field; known:" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "never.db").exists()


def test_docs_list_every_variable() -> None:
    text = (REPO / "docs" / "server.md").read_text()
    for name in ENV_VARS:
        assert f"`{name}`" in text, name
