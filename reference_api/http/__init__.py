"""The reference API over HTTP and WebSocket: a thin FastAPI adapter over ``OrderService``
(parse, authenticate, call, serialise), with the SQLite store and wall-clock timers wired in by
``reference_api.http.server``."""

from reference_api.http.app import assemble_app, create_app

__all__ = ["assemble_app", "create_app"]
