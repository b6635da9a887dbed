"""The runtime's HTTP service: health, metrics, status, config, kill switch, orders, TCA,
and the dashboard (DESIGN.md ``api/``: the interface layer).

``/api/config`` serves exactly the applied :class:`~torghut.contracts.ops.EffectiveConfig`
(the drift check, ``torghut ops drift-check --runtime URL``, compares its hash with GitOps
``main``). ``POST /api/kill-switch`` takes a signed action, verified against GitOps ``main``
(:mod:`torghut.api.kill`). Everything else is read-only: GET handlers read the ledger through
:mod:`torghut.api.readers` in one read snapshot and never write.

Status codes: 200; 403 with a reason ``code`` for a refused signature or role; 409 for a
refusal of the move itself (e.g. releasing what is not engaged); 422 for a bad body or
query; 503 while no config is applied or the ledger is unreachable.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from torghut import __version__
from torghut.api import kill, pages, readers
from torghut.api.host import RuntimeHost
from torghut.errors import TorghutError
from torghut.governance.refusal import Refusal
from torghut.workspace import Workspace

T = TypeVar("T")


class Unavailable(Exception):
    """The service cannot answer yet (no config applied, ledger down): HTTP 503."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, **extra}, status_code=status)


def create_app(ws: Workspace, *, host: RuntimeHost) -> FastAPI:
    """The FastAPI app over ``host``; its lifespan starts and stops the host's reload loop."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        host.start()
        try:
            yield
        finally:
            host.stop()

    app = FastAPI(title="Torghut runtime", version=__version__, lifespan=lifespan,
                  docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json")
    replay = kill.ReplayGuard()

    def read(fn: Callable[[Session], T]) -> T:
        try:
            with host.ledger().read() as session:
                return fn(session)
        except (SQLAlchemyError, TorghutError) as exc:
            raise Unavailable(f"ledger unavailable: {str(exc).splitlines()[0]}") from None

    @app.exception_handler(Unavailable)
    async def _unavailable(_: Request, exc: Unavailable) -> JSONResponse:
        return _error(503, "UNAVAILABLE", exc.reason)

    # ------------------------------------------------------------------ probes

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        """The process is alive (no dependency is checked)."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        """Ready when the ledger answers and a config from GitOps main is applied."""
        reasons = []
        ok, why = host.ledger_ok()
        if not ok:
            reasons.append(why)
        applied = host.applied
        if applied is None:
            reasons.append(host.last_error or "no config applied yet")
        body: dict[str, Any] = {"ready": not reasons, "reasons": reasons,
                                "config_sha256": applied.config_sha256 if applied else None,
                                "commit": applied.commit if applied else None}
        return JSONResponse(body, status_code=200 if not reasons else 503)

    @app.get("/metrics")
    def metrics() -> Response:
        """Prometheus exposition: live runtime metrics plus ledger-derived gauges."""
        try:
            readings = read(readers.scrape_readings)
        except Unavailable:
            readings = None  # still export what this process knows
        return Response(host.telemetry.render(readings), media_type=CONTENT_TYPE_LATEST)

    # ------------------------------------------------------------------ status & config

    def status_data() -> dict[str, Any]:
        applied = host.applied
        kill_rows, session_row = read(lambda s: (readers.kill_states(s),
                                                 readers.last_session(s)))
        return {
            "version": __version__, "started_at": host.started_at.isoformat(),
            "mode": applied.runtime_config.mode.value if applied else None,
            "config_sha256": applied.config_sha256 if applied else None,
            "commit": applied.commit if applied else None,
            "applied_at": applied.applied_at.isoformat() if applied else None,
            "reloads": host.reconciler.reloads,
            "last_reconcile": host.last_reconcile.isoformat() if host.last_reconcile else None,
            "reload_seconds": host.reload_seconds,
            "errors": list(applied.errors) if applied else [],
            "last_error": host.last_error,
            "strategies": [entry.to_json() for entry in applied.entries] if applied else [],
            "telemetry": host.telemetry.snapshot(),
            "kill_switch": kill_rows, "last_session": session_row}

    @app.get("/api/status")
    def api_status() -> dict[str, Any]:
        """Mode, config hash, every catalog entry (enabled, or disabled with its reason),
        circuits, kill switch per scope, the last session."""
        return status_data()

    @app.get("/api/config")
    def api_config() -> Response:
        """The applied EffectiveConfig, exactly (the drift check reads this)."""
        applied = host.applied
        if applied is None:
            raise Unavailable(host.last_error or "no config applied yet")
        return Response(applied.effective.model_dump_json(), media_type="application/json")

    # ------------------------------------------------------------------ kill switch

    @app.get("/api/kill-switch")
    def kill_get() -> dict[str, Any]:
        return {"scopes": read(readers.kill_states)}

    @app.post("/api/kill-switch")
    async def kill_post(request: Request) -> JSONResponse:
        """Engage or release, from a signed action (see :mod:`torghut.api.kill`)."""
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return _error(422, "BAD_BODY", f"body is not JSON: {exc}")
        return _kill_post(body)

    def _kill_post(body: Any) -> JSONResponse:
        try:
            verified = kill.parse_body(body)
        except TorghutError as exc:
            return _error(422, "BAD_BODY", str(exc))
        try:
            ledger = host.ledger()
        except TorghutError as exc:
            raise Unavailable(f"ledger unavailable: {exc}") from None
        try:
            kill.verify_request(ws, ledger, verified, replay=replay,
                                now=datetime.now(UTC))
        except Refusal as refusal:
            return _error(403, refusal.code, refusal.message)
        try:
            outcome = kill.execute(ws, ledger, verified)
        except Refusal as refusal:
            code = 403 if refusal.code in kill.FORBIDDEN_CODES else 409
            return _error(code, refusal.code, refusal.message)
        except TorghutError as exc:
            return _error(422, "BAD_REQUEST", str(exc))
        for row in read(readers.kill_states):
            host.telemetry.kill_switch(row["scope"], row["state"])
        return JSONResponse({**outcome, "scopes": read(readers.kill_states)})

    # ------------------------------------------------------------------ orders & TCA

    @app.get("/api/orders")
    def api_orders(strategy: str | None = None, symbol: str | None = None,
                   session: str | None = None,
                   limit: int = Query(100, ge=1, le=readers.MAX_LIMIT)) -> dict[str, Any]:
        """Recent order events, newest first (filters: strategy, symbol, session)."""
        rows = read(lambda s: readers.orders(s, strategy=strategy, symbol=symbol,
                                             session_id=session, limit=limit))
        return {"orders": rows, "count": len(rows)}

    @app.get("/api/tca")
    def api_tca(by: Literal["symbol", "strategy", "session"] = "symbol",
                session: str | None = None) -> dict[str, Any]:
        """TCA aggregates per symbol, strategy or session (optionally one session)."""
        rows = read(lambda s: readers.tca(s, by=by, session_id=session))
        return {"by": by, "session": session, "groups": rows}

    # ------------------------------------------------------------------ dashboard

    @app.get("/", response_class=HTMLResponse)
    def dashboard_overview() -> HTMLResponse:
        status = status_data()

        def load(s: Session) -> tuple[Any, Any]:
            return readers.gate_status(s), readers.risk_codes(s)

        gates, codes = read(load)
        return HTMLResponse(pages.overview(status, status["kill_switch"], gates,
                                           readers.gate_ids(gates), codes))

    @app.get("/tca", response_class=HTMLResponse)
    def dashboard_tca(session: str | None = None) -> HTMLResponse:
        def load(s: Session) -> tuple[Any, ...]:
            return (readers.slippage_values(s, session_id=session),
                    readers.shortfall_series(s, session_id=session),
                    readers.tca(s, by="symbol", session_id=session),
                    readers.tca(s, by="strategy", session_id=session),
                    readers.tca(s, by="session", session_id=session))

        slips, series, by_symbol, by_strategy, by_session = read(load)
        return HTMLResponse(pages.tca(slips, series, by_symbol, by_strategy, by_session,
                                      session))

    @app.get("/promotions", response_class=HTMLResponse)
    def dashboard_promotions() -> HTMLResponse:
        prs = read(readers.pull_requests)
        return HTMLResponse(pages.promotions(prs, readers.count_by(prs, "state")))

    return app
