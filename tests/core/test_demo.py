"""The in-process demo drives one order down every path and ends each in the expected state."""

from orderflow import inprocess_demo
from orderflow.cli import main


def test_demo_paths_end_in_expected_states() -> None:
    lines: list[str] = []
    finals = inprocess_demo.run(lines.append)
    assert list(finals.values()) == [
        "DELIVERED",
        "DELIVERED",
        "REFUND_COMPLETED",
        "RESTAURANT_REJECTED",
        "CANCELLED",
        "PAYMENT_FAILED",
        "CANCELLED",
        "CANCELLED",
    ]
    text = "\n".join(lines)
    assert "DELIVERY_PARTNER_ASSIGNED" in text
    assert "wrong" not in text or "attempt" in text


def test_cli_version_and_help(capsys) -> None:  # type: ignore[no-untyped-def]
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert "orderflow 0.1.0" in capsys.readouterr().out
    assert main([]) == 2
