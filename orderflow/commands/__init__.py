"""Subcommands of the `orderflow` CLI, one module each."""
