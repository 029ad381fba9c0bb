"""A slowing proxy of the tests' own, in front of `orderflow serve`: every byte passes through
unchanged (keep-alive requests and WebSocket upgrades included), but each request whose method
and path match is held for a fixed delay before it is passed on, so one endpoint of a real
server becomes slower by a known amount and every other endpoint stays as it was. Runs on its
own asyncio loop in a thread of the test process."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit


class SlowProxy:
    def __init__(self, target: str, method: str, path: str, delay_s: float) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.method = method.encode()
        self.path = re.compile(path.encode())
        self.delay_s = delay_s
        self.delayed = 0
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> SlowProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop
        ).result(10)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _matches(self, head: bytes) -> bool:
        method, _, rest = head.partition(b" ")
        target = rest.split(b" ", 1)[0].split(b"?", 1)[0]
        return method == self.method and self.path.fullmatch(target) is not None

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.close()
            return
        back = asyncio.create_task(_pipe(up_r, client_w))
        try:
            while True:
                head = await client_r.readuntil(b"\r\n\r\n")
                headers = _headers(head)
                length = int(headers.get(b"content-length", b"0"))
                body = await client_r.readexactly(length) if length else b""
                if self._matches(head):
                    self.delayed += 1
                    await asyncio.sleep(self.delay_s)
                up_w.write(head + body)
                await up_w.drain()
                if headers.get(b"upgrade", b"").lower() == b"websocket":
                    await _pipe(client_r, up_w)  # frames from here on, not requests
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            up_w.close()
            with contextlib.suppress(asyncio.CancelledError):
                await back
            client_w.close()


def _headers(head: bytes) -> dict[bytes, bytes]:
    out: dict[bytes, bytes] = {}
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            out[name.strip().lower()] = value.strip()
    return out


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        with contextlib.suppress(ConnectionError, RuntimeError):
            writer.close()


@contextlib.contextmanager
def slow_proxy(target: str, method: str, path: str, delay_s: float) -> Iterator[SlowProxy]:
    proxy = SlowProxy(target, method, path, delay_s).start()
    try:
        yield proxy
    finally:
        proxy.stop()
