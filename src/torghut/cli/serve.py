"""``torghut serve``: the runtime's API, Prometheus metrics and dashboard over HTTP."""

from __future__ import annotations

import socket

import typer

from torghut.cli.common import console, workspace
from torghut.errors import TorghutError


def listen(host: str, port: int) -> socket.socket:
    """Bind before uvicorn starts, so a busy port is one ``error:`` line (exit 2), not a log
    message followed by a bare exit."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TorghutError(f"cannot resolve {host!r}: {exc.strerror}", field="--host") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise TorghutError(f"cannot listen on {host}:{port}: {exc.strerror}",
                           field="--port") from None
    return sock


def serve(
        ctx: typer.Context,
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
        port: int = typer.Option(8000, "--port", min=0, max=65535,
                                 help="TCP port (0: any free port)."),
        reload_seconds: float = typer.Option(5.0, "--reload-seconds", min=0.1,
                                             help="How often to reconcile to GitOps main."),
) -> None:
    """Serve /healthz, /readyz, /metrics, /api/* and the dashboard; reconcile to main."""
    import uvicorn

    from torghut.api.app import create_app
    from torghut.api.host import RuntimeHost

    ws = workspace(ctx)
    runtime = RuntimeHost(ws, reload_seconds=reload_seconds)
    sock = listen(host, port)
    bound = sock.getsockname()[1]
    console.print(f"torghut serve: workspace {ws.root}, http://{host}:{bound}/ "
                  f"(reconciling to GitOps main every {reload_seconds:g} s)", markup=False)
    config = uvicorn.Config(create_app(ws, host=runtime), log_level="info",
                            access_log=False, lifespan="on")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
