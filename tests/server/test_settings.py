"""The two entry points read one set of settings: `orderflow serve` flags and the ``ORDERFLOW_*``
variables of ``uvicorn --factory reference_api.http.app:create_app`` go through one parser, so
the same values give the same ``ServerSettings`` and a bad one is a usage error naming it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from orderflow.cli import build_parser, main
from orderflow.served import FACTORY
from reference_api.dispatch import AtConfirm, DispatchSpec
from reference_api.http.app import create_app
from reference_api.http.auth import JWT_SECRET_ENV
from reference_api.http.settings import (
    ENV_VARS,
    OPTIONS,
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
        "--dispatch", "rolling_horizon", "--dispatch-option", "cell_km=0.5",
        "--dispatch-option", "ref_lat=12.97", "--dispatch-option", "interval_min=0.05",
        "--synchronous", "FULL",
    )  # fmt: skip
    env = settings_from_env(
        {
            "ORDERFLOW_DB": "runs/api.db",
            "ORDERFLOW_FRESH": "yes",
            "ORDERFLOW_VENDORS": "3",
            "ORDERFLOW_CUSTOMERS": "40",
            "ORDERFLOW_RIDERS": " 7 ",
            "ORDERFLOW_POLICY": "confirm_timeout_s=5, refund_settle_delay_s=1.5",
            "ORDERFLOW_DISPATCH": " rolling_horizon ",
            "ORDERFLOW_DISPATCH_OPTIONS": "cell_km=0.5, ref_lat=12.97,interval_min=0.05",
            "ORDERFLOW_SYNCHRONOUS": "full",
        }
    )
    assert env == flags
    assert env.policy.confirm_timeout_s == 5 and env.policy.refund_settle_delay_s == 1.5
    assert env.dispatch == DispatchSpec(
        "rolling_horizon", {"cell_km": 0.5, "ref_lat": 12.97, "interval_min": 0.05}
    )
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
    ],
)
def test_bad_variables_name_the_variable_and_what_it_accepts(
    variable: str, value: str, says: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_from_env({variable: value})
    assert variable in str(caught.value) and says in str(caught.value)


def test_flag_errors_name_the_flag() -> None:
    with pytest.raises(SettingsError, match=r"^--dispatch-option cell_km: must be between"):
        _from_flags("--dispatch-option", "cell_km=-1")
    with pytest.raises(SettingsError, match=r"^--customers 0: expected a whole number"):
        _from_flags("--customers", "0")


#: Bad dispatch settings, as (flag arguments, environment, what both messages say after the
#: option's name): the flag message starts with the flag, the variable's with the variable.
BAD_DISPATCH = [
    pytest.param(
        ["--dispatch", "greedy"],
        {"ORDERFLOW_DISPATCH": "greedy"},
        ("--dispatch", "ORDERFLOW_DISPATCH"),
        "unknown dispatch policy 'greedy'; expected one of at_confirm, just_in_time, "
        "rolling_horizon",
        id="unknown-policy",
    ),
    pytest.param(
        ["--dispatch", "rolling_horizon", "--dispatch-option", "slack_min=3"],
        {"ORDERFLOW_DISPATCH": "rolling_horizon", "ORDERFLOW_DISPATCH_OPTIONS": "slack_min=3"},
        ("--dispatch-option slack_min", "ORDERFLOW_DISPATCH_OPTIONS slack_min"),
        "applies to just_in_time, not to rolling_horizon",
        id="option-of-another-policy",
    ),
    pytest.param(
        ["--dispatch-option", "interval_min=1"],  # the default policy, at_confirm
        {"ORDERFLOW_DISPATCH_OPTIONS": "interval_min=1"},
        ("--dispatch-option interval_min", "ORDERFLOW_DISPATCH_OPTIONS interval_min"),
        "applies to rolling_horizon, not to at_confirm",
        id="option-of-another-policy-default",
    ),
    pytest.param(
        ["--dispatch", "rolling_horizon", "--dispatch-option", "interval_min=0"],
        {"ORDERFLOW_DISPATCH": "rolling_horizon", "ORDERFLOW_DISPATCH_OPTIONS": "interval_min=0"},
        ("--dispatch-option interval_min", "ORDERFLOW_DISPATCH_OPTIONS interval_min"),
        "must be between 0.01 and 120, got '0'",
        id="out-of-range",
    ),
    pytest.param(
        ["--dispatch", "rolling_horizon", "--dispatch-option", "max_bundle=2.5"],
        {"ORDERFLOW_DISPATCH": "rolling_horizon", "ORDERFLOW_DISPATCH_OPTIONS": "max_bundle=2.5"},
        ("--dispatch-option max_bundle", "ORDERFLOW_DISPATCH_OPTIONS max_bundle"),
        "expected a whole number, got '2.5'",
        id="not-whole",
    ),
    pytest.param(
        ["--dispatch-option", "cell_km=wide"],
        {"ORDERFLOW_DISPATCH_OPTIONS": "cell_km=wide"},
        ("--dispatch-option cell_km", "ORDERFLOW_DISPATCH_OPTIONS cell_km"),
        "expected a number, got 'wide'",
        id="not-a-number",
    ),
    pytest.param(
        ["--dispatch-option", "ref_lat=90"],
        {"ORDERFLOW_DISPATCH_OPTIONS": "ref_lat=90"},
        ("--dispatch-option ref_lat", "ORDERFLOW_DISPATCH_OPTIONS ref_lat"),
        "must be between -89 and 89, got '90'",
        id="polar-latitude",
    ),
    pytest.param(
        ["--dispatch", "just_in_time", "--dispatch-option", "radius=2"],
        {"ORDERFLOW_DISPATCH": "just_in_time", "ORDERFLOW_DISPATCH_OPTIONS": "radius=2"},
        ("--dispatch-option radius", "ORDERFLOW_DISPATCH_OPTIONS radius"),
        "unknown dispatch option; just_in_time takes cell_km, ref_lat, slack_min",
        id="unknown-option",
    ),
    pytest.param(
        ["--dispatch-option", "cell_km"],
        {"ORDERFLOW_DISPATCH_OPTIONS": "cell_km"},
        ("--dispatch-option 'cell_km'", "ORDERFLOW_DISPATCH_OPTIONS 'cell_km'"),
        "expected NAME=VALUE",
        id="not-a-pair",
    ),
]


@pytest.mark.parametrize(("flags", "env", "names", "says"), BAD_DISPATCH)
def test_bad_dispatch_settings_name_the_option_as_spelled(
    flags: list[str], env: dict[str, str], names: tuple[str, str], says: str
) -> None:
    with pytest.raises(SettingsError) as by_flag:
        _from_flags(*flags)
    assert str(by_flag.value).startswith(f"{names[0]}: {says}"), by_flag.value
    with pytest.raises(SettingsError) as by_env:
        settings_from_env(env)
    assert str(by_env.value).startswith(f"{names[1]}: {says}"), by_env.value


@pytest.mark.parametrize(("flags", "env", "names", "says"), BAD_DISPATCH[:4])
def test_serve_exits_2_on_bad_dispatch_settings(
    flags: list[str],
    env: dict[str, str],
    names: tuple[str, str],
    says: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(JWT_SECRET_ENV, SECRET.decode())
    db = tmp_path / "never.db"
    assert main(["serve", "--db", str(db), "--port", "0", *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"orderflow serve: {names[0]}: {says}"), err
    assert "Traceback" not in err
    assert not db.exists()


def test_both_entry_points_exit_2_on_bad_dispatch_settings(tmp_path: Path) -> None:
    """As processes: `orderflow serve` with a flag, uvicorn's factory with the variables; one
    line naming the option as spelled, no traceback, no database."""
    db = tmp_path / "never.db"
    base = {"PATH": "/usr/bin:/bin", JWT_SECRET_ENV: SECRET.decode()}
    runs = [
        (
            [sys.executable, "-m", "orderflow", "serve", "--db", str(db), "--port", "0",
             "--dispatch", "rolling_horizon", "--dispatch-option", "slack_min=3"],
            base,
            "orderflow serve: --dispatch-option slack_min: applies to just_in_time, not to "
            "rolling_horizon",
        ),
        (
            [sys.executable, "-m", "uvicorn", "--factory", FACTORY, "--port", "0"],
            {**base, "ORDERFLOW_DB": str(db), "ORDERFLOW_DISPATCH": "greedy"},
            "orderflow: ORDERFLOW_DISPATCH: unknown dispatch policy 'greedy'",
        ),
    ]  # fmt: skip
    for argv, env, says in runs:
        done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, (done.stdout, done.stderr)
        assert says in done.stderr and "Traceback" not in done.stderr + done.stdout
        assert not db.exists()


def test_each_policy_and_its_options_are_accepted() -> None:
    assert _from_flags().dispatch == DispatchSpec("at_confirm", {})
    jit = _from_flags("--dispatch", "just_in_time", "--dispatch-option", "slack_min=0")
    assert jit.dispatch == DispatchSpec("just_in_time", {"slack_min": 0.0})
    rh = settings_from_env(
        {
            "ORDERFLOW_DISPATCH": "rolling_horizon",
            "ORDERFLOW_DISPATCH_OPTIONS": "interval_min=0.05,max_bundle=3,candidates=1",
        }
    )
    assert rh.dispatch.describe()["interval_min"] == 0.05
    assert rh.dispatch.value("max_bundle") == 3 and rh.dispatch.value("horizon_min") == 10


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
        "ORDERFLOW_DISPATCH_OPTIONS": "cell_km=0.25",
        JWT_SECRET_ENV: SECRET.decode(),
    }.items():
        monkeypatch.setenv(name, value)
    app = create_app()
    async with app.router.lifespan_context(app):
        service = app.state.runner.service
        assert service.policy.confirm_timeout_s == 7
        assert app.state.secret == SECRET
        assert len(service.store.riders()) == 2
        strategy = service.dispatch
        assert isinstance(strategy, AtConfirm)
        assert strategy.rider_for(19.07, 72.87) is not None  # riders start available
    assert db.exists()


@pytest.mark.anyio
async def test_the_factory_builds_the_dispatch_strategy_the_variables_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "ORDERFLOW_DB": str(tmp_path / "rh.db"),
        "ORDERFLOW_RIDERS": "2",
        "ORDERFLOW_DISPATCH": "rolling_horizon",
        "ORDERFLOW_DISPATCH_OPTIONS": "interval_min=0.05",
        JWT_SECRET_ENV: SECRET.decode(),
    }.items():
        monkeypatch.setenv(name, value)
    app = create_app()
    async with app.router.lifespan_context(app):
        strategy = app.state.runner.service.dispatch
        assert strategy.name == "rolling_horizon"
        assert strategy.due() is None  # nothing waits: no round is due


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
