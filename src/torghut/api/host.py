"""The service's runtime host: config reconciliation, telemetry and the ledger, in one place.

Like a GitOps controller, the host re-reads GitOps ``main`` every ``reload_seconds`` on a
background thread (:class:`~torghut.runtime.config.ConfigReconciler` re-applies only when
``main`` moved). A bad entry is disabled with its reason, a bad config keeps the
last-known-good one, and an exception in a reload is kept as :attr:`RuntimeHost.last_error` —
the service never crash-loops (DESIGN.md invariant 7). Each newly applied config is recorded
once as ``runtime.config.applied`` (its hash is what the drift hard stop compares with
``main``; RTS-28 "config hash") and mirrored into the telemetry.

The ledger is opened lazily and reopened after a failure, so a database that is down at
start only makes ``/readyz`` answer 503 until it is back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from torghut.errors import TorghutError
from torghut.ledger import Ledger, open_ledger
from torghut.runtime.config import AppliedConfig, AppliedRecorder, ConfigReconciler
from torghut.runtime.telemetry import Telemetry
from torghut.workspace import Workspace

log = logging.getLogger("torghut.serve")
DEFAULT_RELOAD_SECONDS = 5.0


class RuntimeHost:
    """Owns the reconciler, the telemetry, the ledger handle and the reload thread."""

    def __init__(self, ws: Workspace, *, reload_seconds: float = DEFAULT_RELOAD_SECONDS,
                 reconciler: ConfigReconciler | None = None,
                 telemetry: Telemetry | None = None,
                 ledger_opener: Callable[[Workspace], Ledger] = open_ledger) -> None:
        if reload_seconds <= 0:
            raise TorghutError("must be positive", field="--reload-seconds")
        self.ws = ws
        self.reload_seconds = reload_seconds
        self.reconciler = reconciler or ConfigReconciler(ws)
        self.telemetry = telemetry or Telemetry()
        self.started_at = datetime.now(UTC)
        self.last_error: str | None = None
        self.last_reconcile: datetime | None = None
        self._open_ledger = ledger_opener
        self._ledger: Ledger | None = None
        self._recorder = AppliedRecorder()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ state

    @property
    def applied(self) -> AppliedConfig | None:
        return self.reconciler.current

    def ledger(self) -> Ledger:
        """The open ledger (opened on first use; a failure raises and is retried later)."""
        if self._ledger is None:
            with self._lock:
                if self._ledger is None:
                    self._ledger = self._open_ledger(self.ws)
        return self._ledger

    def ledger_ok(self) -> tuple[bool, str | None]:
        """Whether the ledger answers a trivial query (``/readyz``)."""
        try:
            with self.ledger().read() as session:
                session.execute(text("SELECT 1"))
        except (TorghutError, SQLAlchemyError) as exc:
            return False, f"ledger unreachable: {_one_line(exc)}"
        return True, None

    # ------------------------------------------------------------------ reconcile

    def reconcile_once(self) -> AppliedConfig | None:
        """Reconcile to ``main`` now; any failure is kept in :attr:`last_error`, not raised."""
        with self._lock:
            before = self.reconciler.current
            try:
                applied = self.reconciler.reconcile()
            except Exception as exc:  # a reload must never take the service down
                self.last_error = f"reload failed: {_one_line(exc)}"
                log.warning("%s", self.last_error)
                return self.reconciler.current
            self.last_reconcile = datetime.now(UTC)
            self.last_error = None
        if applied is not before:
            self._publish(applied)
        self._record(applied)
        return applied

    def _publish(self, applied: AppliedConfig) -> None:
        for entry in applied.entries:
            self.telemetry.plugin_loaded(entry.strategy_id, entry.enabled)
        self.telemetry.config_applied(applied.config_sha256, applied.commit,
                                      applied.runtime_config.mode.value)
        for problem in applied.errors:
            log.warning("config: %s", problem)

    def _record(self, applied: AppliedConfig) -> None:
        """``runtime.config.applied`` once per hash; retried on the next tick if it failed."""
        if self._recorder.last == applied.config_sha256:
            return
        try:
            with self.ledger().write() as session:
                self._recorder.record(session, applied)
        except (TorghutError, SQLAlchemyError) as exc:
            self.last_error = f"could not record the applied config: {_one_line(exc)}"
            log.warning("%s", self.last_error)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Apply ``main`` once (synchronously: ready on return), then reload in background."""
        self.reconcile_once()
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="torghut-reconcile",
                                            daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.reload_seconds):
            self.reconcile_once()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(5.0, self.reload_seconds))
            self._thread = None
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None


def _one_line(exc: BaseException) -> str:
    text_ = str(exc).strip().splitlines()
    return text_[0] if text_ else type(exc).__name__
