"""A local OpenAI-compatible endpoint replaying recorded chat completions.

``responses/*.json`` hold real-shaped replies (status, delay, body). ``ReplayServer.route``
picks the recording for each request: by default the right answer for the item, read from
the prompt's INPUT JSON the way the deterministic gate would read it (no reasons → the
"pass" recording); tests replace it to replay malformed, schema-invalid, failing or slow
replies. Every request received is kept for assertions.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

RESPONSES = Path(__file__).parent / "responses"
_ALLOWED = {"summarise_evidence": "summarise_pass", "propose_param_deltas":
            "propose_pass_through", "review_rationale": "review_allow"}
_DENIED = {"summarise_evidence": "summarise_fail", "propose_param_deltas": "propose_adjust",
           "review_rationale": "review_deny"}


def recording(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RESPONSES / f"{name}.json").read_text())
    return data


def task_of(request: dict[str, Any]) -> str:
    """The task, from the allow-listed instructions' schema keys."""
    user = request["messages"][1]["content"]
    if '"verdict"' in user:
        return "review_rationale"
    if '"deltas"' in user:
        return "propose_param_deltas"
    return "summarise_evidence"


def right_answer(request: dict[str, Any]) -> str:
    user = request["messages"][1]["content"]
    inputs = json.loads(user.split("INPUT (JSON):\n", 1)[1])
    failing = any(g["reasons"] for g in inputs["gates"])
    return (_DENIED if failing else _ALLOWED)[task_of(request)]


@dataclass
class ReplayServer:
    url: str
    route: Callable[[dict[str, Any]], str] = right_answer
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    def replay(self, *names: str) -> None:
        """Answer every request with these recordings in turn (cycling)."""
        counter = iter(range(10**9))
        self.route = lambda _req: names[next(counter) % len(names)]

    def degrade(self, *bad: str, every: int = 2) -> None:
        """Every ``every``-th request gets a bad recording (in turn); the rest, the right
        answer."""
        counter = iter(range(10**9))

        def route(request: dict[str, Any]) -> str:
            k = next(counter)
            return bad[(k // every) % len(bad)] if k % every == 0 else right_answer(request)

        self.route = route


def _handler(server: ReplayServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            request = json.loads(self.rfile.read(length))
            server.received.append(request)
            server.headers.append(dict(self.headers.items()))
            rec = recording(server.route(request)) if self.path == "/v1/chat/completions" \
                else {"status": 404, "delay_seconds": 0, "body": {"error": "not found"}}
            time.sleep(rec["delay_seconds"])
            body = json.dumps(rec["body"]).encode()
            try:
                self.send_response(rec["status"])
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the slow recording): that is the point

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def replay_server() -> Iterator[ReplayServer]:
    state = ReplayServer(url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
