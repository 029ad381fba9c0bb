"""orderflow: one set of order rules driven three ways (in-process, simulation, load test)."""

from reference_api.version import __version__

__all__ = ["__version__"]
