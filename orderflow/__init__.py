"""orderflow: one set of order rules driven three ways (in-process, simulation, load test)."""

__version__ = "0.1.0"
