"""The journeys' HTTP path: each request goes straight to the user's ``geventhttpclient``
connection pool (the one its FastHttpSession would use, with the same timeouts, TLS settings and
``--connections`` sharing) and is reported to Locust's ``request`` event by us, with the fields
FastHttpSession would give it, so Locust's statistics, CSVs and web UI stay as they were.

FastHttpSession's own path (URL building, a header dict copied and merged per request, a
``FastRequest``, the user agent's retry/redirect/status machinery, a ``ResponseContextManager``
and its ``success``/``failure`` bookkeeping) is a large share of a request's cost (figures:
docs/performance.md), and none of it is needed when the URL, headers and body are prepared once
and every response is checked by the journey anyway. Journeys send no cookies and follow no
redirects (the spec has none)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from geventhttpclient.url import URL
from geventhttpclient.useragent import CompatResponse
from locust.contrib.fasthttp import FAILURE_EXCEPTIONS
from locust.exception import CatchResponseError


class Sender:
    """One Locust user's way to send a journey's requests (see the module's docstring)."""

    def __init__(self, session: Any, host: str) -> None:
        base = session.base_url or host
        self.request_event = session.request_event
        self.base = base
        self.prefix = urlsplit(base).path  # FastHttpSession sends base_url + path as it is
        self.http = session.client.clientpool.get_client(URL(base))
        user = session.user
        self.context: dict[str, Any] = dict(user.context()) if user is not None else {}

    def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, bytes, BaseException | None, float]:
        """Status (0 when no complete answer came: a connection error, reset or timeout), the
        decoded body, that error, and the response time in ms (until the body was read)."""
        started = time.perf_counter()
        try:
            resp = self.http.request(method, self.prefix + url, body=body, headers=headers)
            status = resp.status_code
            content = CompatResponse(resp).content  # decodes gzip/deflate/br; releases
        except FAILURE_EXCEPTIONS as exc:
            return 0, b"", exc, (time.perf_counter() - started) * 1000
        return status, content, None, (time.perf_counter() - started) * 1000

    def report(
        self,
        method: str,
        name: str,
        url: str,
        start: float,
        response_time: float,
        length: int,
        reason: str | None,
    ) -> None:
        """Locust's ``request`` event, as FastHttpSession with ``catch_response`` fires it: a
        failure's exception is a ``CatchResponseError`` with the reason."""
        self.request_event.fire(
            request_type=method,
            name=name,
            response_time=response_time,
            response_length=length,
            exception=None if reason is None else CatchResponseError(reason),
            context=self.context,
            response=None,
            start_time=start,
            url=self.base + url,
        )
