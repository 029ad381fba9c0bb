"""`orderflow demo`: bad options are refused by name; `--tour` keeps the in-process tour. The full
demo (simulate, serve, replay, report) is the pipeline of orderflow.runs, which the real-run
report tests drive end to end."""

from __future__ import annotations

from orderflow.cli import main


def test_demo_tour_and_bad_options(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["demo", "--tour"]) == 0
    assert "paths driven through the in-process API" in capsys.readouterr().out
    assert main(["demo", "--speedup", "0"]) == 2
    assert "--speedup and --duration must be > 0" in capsys.readouterr().err


def test_served_fleet_matches_the_scenario(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The demo serves as many riders as the simulated fleet: the last one exists and is on duty,
    and one past it does not (a smaller server fleet would stall a replay's assignments)."""
    import time

    import httpx

    from orderflow import runs
    from reference_api.fixtures import build_fixtures
    from reference_api.http.auth import issue_token, resolve_secret

    riders = 13
    fx = build_fixtures(riders=riders + 1)
    secret = resolve_secret()
    with runs.served(tmp_path / "server.db", riders=riders) as url:
        codes = []
        for actor in (fx.riders[riders - 1], fx.riders[riders]):
            token = issue_token(actor, secret, now=time.time())
            reply = httpx.post(
                f"{url}/api/riders/me/location/",
                json={"latitude": 19.07, "longitude": 72.87},
                headers={"Authorization": f"Bearer {token}"},
            )
            codes.append(reply.status_code)
            if reply.status_code == 200:
                assert reply.json()["available"] is True
    assert codes == [200, 404]
