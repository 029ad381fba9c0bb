"""`orderflow demo`: bad options are refused by name; `--tour` keeps the in-process tour. The full
demo (simulate, serve, replay, report) is the pipeline of reports.runs, which the real-run
report tests drive end to end."""

from __future__ import annotations

from orderflow.cli import main


def test_demo_tour_and_bad_options(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["demo", "--tour"]) == 0
    assert "paths driven through the in-process API" in capsys.readouterr().out
    assert main(["demo", "--speedup", "0"]) == 2
    assert "--speedup and --duration must be > 0" in capsys.readouterr().err
