"""An HTTP transport for servers harness does not trust: a total deadline per request and a cap
on the size of an answer.

httpx's timeouts apply to each network operation, so a server that sends one byte a second
keeps a request alive for as long as it likes; and nothing bounds how much it sends. The
transport here hands httpcore a network backend whose every read and write checks the
deadline of the request in progress on this thread (and shortens its own timeout to what is
left of it), and counts the bytes read for that request.
"""
from __future__ import annotations

import threading
import time
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

_current = threading.local()


class AnswerTooLarge(Exception):
    """The server sent more than the transport's byte limit for one answer."""

    def __init__(self, limit: int):
        super().__init__(f"its answer was larger than {limit / 2**20:.0f} MiB")
        self.limit = limit


def _remaining(timeout: float | None) -> float | None:
    deadline = getattr(_current, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout(f"no answer within the deadline of {_current.total:g} s")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream):
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = self.inner.read(max_bytes, _remaining(timeout))
        limit = getattr(_current, "limit", None)
        if limit is not None:
            _current.read += len(data)
            if _current.read > limit:
                raise AnswerTooLarge(limit)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, _remaining(timeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context, server_hostname: str | None = None, timeout: float | None = None):
        return _DeadlineStream(self.inner.start_tls(ssl_context, server_hostname, _remaining(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend):
        self.inner = inner

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        return _DeadlineStream(self.inner.connect_tcp(host, port, _remaining(timeout), local_address, socket_options))

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        return _DeadlineStream(self.inner.connect_unix_socket(path, _remaining(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class DeadlineTransport(httpx.HTTPTransport):
    """An httpx transport whose every request (each attempt, when the client retries) must be
    answered in full within ``total`` seconds and in at most ``max_bytes`` bytes."""

    def __init__(self, *, total: float, max_bytes: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.total, self.max_bytes = total, max_bytes
        # httpcore's pool takes its network backend as an argument httpx does not pass on
        self._pool._network_backend = _DeadlineBackend(self._pool._network_backend)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` with a fresh deadline and byte count (the body is read on this
        thread afterwards, under the same deadline)."""
        _current.deadline, _current.total = time.monotonic() + self.total, self.total
        _current.read, _current.limit = 0, self.max_bytes
        return super().handle_request(request)


def deadline_client(base_url: str, *, total: float, max_bytes: int, max_connections: int,
                    event_hooks: dict | None = None) -> httpx.Client:
    """An ``httpx.Client`` whose requests to ``base_url`` go through a :class:`DeadlineTransport`
    (through the proxy the environment names for it, as httpx's own client would)."""
    host = urlsplit(base_url).hostname or ""
    proxies = urllib.request.getproxies()
    scheme = urlsplit(base_url).scheme
    proxy = None if urllib.request.proxy_bypass(host) else proxies.get(scheme) or proxies.get("all")
    transport = DeadlineTransport(total=total, max_bytes=max_bytes, proxy=proxy,
                                  limits=httpx.Limits(max_connections=max_connections))
    return httpx.Client(transport=transport, event_hooks=event_hooks or {}, timeout=total)
