"""Run plugin code under a process-wide audit hook that refuses side effects.

Plugins must be pure functions of features and local state (plan: "no network, no broker
client, no file writes"). The static check (:mod:`torghut.strategies.static_check`) refuses
the obvious imports; this is the second line of defence for what it cannot see (transitive
imports, dynamic calls). It uses PEP 578 audit hooks: CPython raises an audit event *before*
each sensitive operation, so raising from the hook stops the operation before it happens.

The hook is installed once per process (hooks cannot be removed) and gated by a context
variable, so outside a ``sandboxed(...)`` block it costs one ``ContextVar.get`` per event,
and other threads (which start with the default context) are never affected.

Reading files stays allowed, so lazy imports work. Writing bytecode caches during such an
import is refused quietly (importlib tolerates ``OSError`` there) and not counted against
the plugin. A violation the plugin swallows with ``except Exception`` is still recorded and
re-raised when the block exits, so catching it does not hide it.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

_NETWORK_EVENTS = frozenset({
    "socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo",
    "socket.gethostbyname", "socket.gethostbyaddr", "socket.getnameinfo", "socket.sendto",
    "socket.sendmsg",
})
_PROCESS_EVENTS = frozenset({
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
    "os.forkpty", "os.kill", "os.killpg", "os.startfile", "pty.spawn",
})
_FILE_EVENTS = frozenset({
    "os.remove", "os.rename", "os.mkdir", "os.rmdir", "os.truncate", "os.link",
    "os.symlink", "os.chmod", "os.chown", "os.utime", "os.setxattr", "os.removexattr",
    "shutil.copyfile", "shutil.copymode", "shutil.copystat", "shutil.copytree",
    "shutil.move", "shutil.rmtree", "shutil.make_archive", "shutil.chown",
    "shutil.unpack_archive",
})
T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class PluginSandboxViolation(PermissionError):
    """A plugin attempted a forbidden side effect (network, process or file write).

    A ``PermissionError`` so that library code which tolerates a refused write (importlib
    caching bytecode) keeps working; the sandbox still records and re-raises it.
    """

    def __init__(self, plugin_ref: str, event: str, detail: str) -> None:
        super().__init__(f"plugin {plugin_ref} attempted {event} ({detail}): "
                         "plugins may not use the network, processes or write files")
        self.plugin_ref = plugin_ref
        self.event = event
        self.detail = detail


@dataclass
class _Session:
    plugin_ref: str
    violations: list[PluginSandboxViolation] = field(default_factory=list)


_ACTIVE: ContextVar[_Session | None] = ContextVar("torghut_plugin_sandbox", default=None)
_install_lock = threading.Lock()
_installed = False


def _is_write_open(args: tuple[Any, ...]) -> bool:
    """``open`` events carry (path, mode, flags); either may signal a write."""
    mode, flags = (*args[1:3], None, None)[:2]
    if isinstance(mode, str) and any(c in mode for c in "wax+"):
        return True
    return isinstance(flags, int) and bool(flags & _WRITE_FLAGS)


def _is_bytecode_cache(args: tuple[Any, ...]) -> bool:
    path = args[0] if args else None
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    return isinstance(path, str | os.PathLike) and "__pycache__" in os.fspath(path)


def _category(event: str, args: tuple[Any, ...]) -> str | None:
    if event in _NETWORK_EVENTS:
        return "network"
    if event in _PROCESS_EVENTS:
        return "process"
    if event in _FILE_EVENTS or (event == "open" and _is_write_open(args)):
        return "file-write"
    return None


def _describe(category: str, args: tuple[Any, ...]) -> str:
    """The category plus the target (path, program or host) when the event names one."""
    target = next((a for a in args if isinstance(a, str | bytes | os.PathLike)), None)
    if isinstance(target, bytes):
        target = os.fsdecode(target)
    return category if target is None else f"{category} {os.fspath(target)!r}"


def _audit(event: str, args: tuple[Any, ...]) -> None:
    session = _ACTIVE.get()
    if session is None:
        return
    category = _category(event, args)
    if category is None:
        return
    violation = PluginSandboxViolation(session.plugin_ref, event, _describe(category, args))
    if category == "file-write" and _is_bytecode_cache(args):
        raise violation  # refused, but importlib expects this and it is not the plugin's doing
    session.violations.append(violation)
    raise violation


def install() -> None:
    """Install the audit hook (idempotent, thread-safe)."""
    global _installed
    if _installed:  # the per-event fast path: no lock once installed
        return
    with _install_lock:
        if not _installed:
            sys.addaudithook(_audit)
            _installed = True


class sandboxed:  # lower case: used like a function, ``with sandboxed(ref): ...``
    """Context manager: refuse network, process and file-write events in this context.

    A plain class rather than ``@contextmanager`` because it wraps every streaming event
    and the generator machinery would dominate the cost. One instance may be entered again
    and again (not nested): the runtime builds one per plugin and enters it per call, and
    each entry starts with no violations.
    """

    __slots__ = ("_session", "_token")

    def __init__(self, plugin_ref: str) -> None:
        install()
        self._session = _Session(plugin_ref)
        self._token: Token[_Session | None] | None = None

    def __enter__(self) -> sandboxed:
        if self._session.violations:  # each entry starts with no violations
            self._session.violations = []
        self._token = _ACTIVE.set(self._session)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._token is not None
        _ACTIVE.reset(self._token)
        self._surface(exc)

    def bind(self, fn: Callable[[A, B], T]) -> Callable[[A, B], T]:
        """``fn`` run as ``with self: return fn(a, b)``, in one closure: the runtime enters a
        plugin's sandbox on every event, where the ``with`` protocol's method calls cost
        ~0.3 µs, about what a simple rule does."""
        session, enter, leave, surface = self._session, _ACTIVE.set, _ACTIVE.reset, self._surface

        def run(a: A, b: B) -> T:
            if session.violations:  # as __enter__
                session.violations = []
            token = enter(session)
            try:
                result = fn(a, b)
            except BaseException as exc:
                leave(token)
                surface(exc)
                raise
            leave(token)
            if session.violations:
                surface(None)
            return result

        return run

    def _surface(self, exc: BaseException | None) -> None:
        """Raise a violation the plugin swallowed (one it let through is ``exc`` itself)."""
        violations = self._session.violations
        if violations and not isinstance(exc, PluginSandboxViolation):
            raise violations[0]

    @property
    def violations(self) -> tuple[PluginSandboxViolation, ...]:
        return tuple(self._session.violations)


def active() -> bool:
    """True inside a ``sandboxed`` block (for diagnostics and tests)."""
    return _ACTIVE.get() is not None
