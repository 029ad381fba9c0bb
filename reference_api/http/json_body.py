"""Request bodies parsed so that a number of any length reaches validation.

Python refuses to turn an integer literal of more digits than ``sys.get_int_max_str_digits()``
into an ``int`` (a guard against quadratic conversion), and FastAPI then answers the whole body
with a 400 that names no field. Here such a literal becomes a float instead (an infinity for
anything that long), which every numeric field refuses by range with a 422 naming the field, as
it does any other number out of bounds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


def _int_or_float(literal: str) -> int | float:
    try:
        return int(literal)
    except ValueError:  # more digits than Python converts
        return float(literal)


class BoundedJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = json.loads(body)
            except json.JSONDecodeError:
                raise  # malformed: FastAPI's 400 naming the position
            except ValueError:
                # an integer literal longer than Python converts: rare, so the hook (a Python
                # call per integer) is used only then
                self._json = json.loads(body, parse_int=_int_or_float)
        return self._json


class BoundedJsonRoute(APIRoute):
    """An ``APIRoute`` whose handler sees a ``BoundedJsonRequest`` (FastAPI's documented way to
    change how a route reads its request)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def bounded(request: Request) -> Response:
            return await handler(BoundedJsonRequest(request.scope, request.receive, request._send))

        return bounded
