"""One OpenAI-compatible ``POST {endpoint}/chat/completions`` with a hard deadline.

The only network code of the advisory path. It returns the raw reply or raises a
:class:`CallFailed` with a stable ``reason`` (``timeout``, ``transport_error``,
``http_error``); interpreting the reply is the advisor's job. The deadline is enforced
twice: httpx's per-phase timeout, and the wall clock over the whole call (a server that
trickles bytes within each read timeout still times out).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import httpx


class CallFailed(Exception):
    """The endpoint produced no reply worth parsing."""

    def __init__(self, reason: str, detail: str, latency_ms: float) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.latency_ms = latency_ms


@dataclass(frozen=True)
class Reply:
    body: bytes
    latency_ms: float


def completions_url(endpoint: str) -> str:
    """``…/v1/chat/completions`` for a base URL with or without the ``/v1`` suffix."""
    base = endpoint.rstrip("/")
    return f"{base}/chat/completions" if base.endswith("/v1") else f"{base}/v1/chat/completions"


def chat_completion(endpoint: str, body: dict[str, object], *, timeout: float,
                    api_key: str | None = None) -> Reply:
    """POST ``body``; a non-200 status, a transport failure or the deadline raise."""
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    start = time.perf_counter()
    try:
        response = _client().post(completions_url(endpoint), json=body, headers=headers,
                                  timeout=httpx.Timeout(timeout))
        content = response.content
    except httpx.TimeoutException as exc:
        raise CallFailed("timeout", f"no reply within {timeout:g}s ({type(exc).__name__})",
                         _ms(start)) from None
    except httpx.HTTPError as exc:
        raise CallFailed("transport_error", f"{type(exc).__name__}: {exc}", _ms(start)) from None
    latency = _ms(start)
    if latency > timeout * 1000:
        raise CallFailed("timeout", f"reply took {latency:.0f} ms, over {timeout:g}s", latency)
    if response.status_code != 200:
        raise CallFailed("http_error", f"HTTP {response.status_code}: "
                         f"{content[:200].decode('utf-8', 'replace')}", latency)
    return Reply(content, latency)


@functools.cache
def _client() -> httpx.Client:
    """One pooled client per process: building one (its TLS context) costs ~30 ms."""
    return httpx.Client(follow_redirects=False)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0
