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
    assert "Delivery OTP resent" in text  # the wrong-OTP path recovered through a resend
    assert "Refund of 810.40 completed" in text
    assert "No pickup within 30 minutes of ready" in text


def test_demo_is_deterministic() -> None:
    first: list[str] = []
    second: list[str] = []
    inprocess_demo.run(first.append)
    inprocess_demo.run(second.append)
    assert first == second


def test_cli_version_and_help(capsys) -> None:  # type: ignore[no-untyped-def]
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert "orderflow 0.1.0" in capsys.readouterr().out
    assert main([]) == 2
