"""Static check of a plugin's source, run before the plugin is imported.

Plugins may not reach the network, spawn processes or talk to a broker (plan: "no network,
no broker client"). This reads the plugin module and every module of the same top-level
package it imports (plus the parent packages' ``__init__``), parses them with :mod:`ast`
and refuses forbidden imports and dynamic code (``exec``/``eval``/``__import__`` of a
non-literal), which would make the check meaningless. Nothing is executed: module files are
located with :class:`importlib.machinery.PathFinder`, which imports nothing. What static
analysis cannot see (a third-party dependency that opens a socket) is the sandbox's job.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path

_NETWORK = ("socket", "ssl", "socketserver", "http", "urllib", "urllib3", "requests",
            "httpx", "aiohttp", "websocket", "websockets", "ftplib", "smtplib", "poplib",
            "imaplib", "telnetlib", "xmlrpc", "grpc", "paramiko")
_PROCESS = ("subprocess", "multiprocessing", "pty", "ctypes", "cffi")
_BROKER = ("alpaca", "alpaca_trade_api", "ib_insync", "ib_async", "ibapi", "ccxt",
           "binance", "oandapyV20", "tda", "schwab", "robin_stocks", "kiteconnect",
           "krakenex", "coinbase", "tradier", "MetaTrader5")
FORBIDDEN: dict[str, str] = {
    **{m: "network access" for m in _NETWORK},
    **{m: "processes or native code" for m in _PROCESS},
    **{m: "a broker client" for m in _BROKER},
}
_DYNAMIC_CODE = frozenset({"exec", "eval", "compile"})
_DYNAMIC_IMPORT = frozenset({"__import__", "import_module"})


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def forbidden_reason(module: str) -> str | None:
    """Why importing ``module`` is forbidden, or ``None`` if it is allowed."""
    parts = module.split(".")
    for i in range(1, len(parts) + 1):
        reason = FORBIDDEN.get(".".join(parts[:i]))
        if reason is not None:
            return reason
    return None


def check_source(source: str, *, filename: str) -> list[Finding]:
    """Findings for one module's source text (a syntax error is a finding too)."""
    tree = _parse(source, filename)
    return [tree] if isinstance(tree, Finding) else check_tree(tree, filename=filename)


def _parse(source: str, filename: str) -> ast.AST | Finding:
    try:
        return ast.parse(source, filename=filename)
    except SyntaxError as exc:
        return Finding(filename, exc.lineno or 0, f"syntax error: {exc.msg}")


def check_tree(tree: ast.AST, *, filename: str) -> list[Finding]:
    """Findings for a parsed module: forbidden imports and dynamic code or imports."""
    findings: list[Finding] = []
    for node in ast.walk(tree):
        for name in _imported_names(node):
            reason = forbidden_reason(name)
            if reason is not None:
                findings.append(Finding(filename, getattr(node, "lineno", 0),
                                        f"imports {name!r} ({reason} is forbidden)"))
        if isinstance(node, ast.Call):
            message = _dynamic_call(node)
            if message is not None:
                findings.append(Finding(filename, getattr(node, "lineno", 0), message))
    return findings


def _imported_names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module]
    return []


def _dynamic_call(node: ast.Call) -> str | None:
    func = node.func
    name = func.id if isinstance(func, ast.Name) else (
        func.attr if isinstance(func, ast.Attribute) else None)
    if name in _DYNAMIC_CODE and isinstance(func, ast.Name):
        return f"calls {name}() (dynamic code is forbidden)"
    if name in _DYNAMIC_IMPORT:
        arg = node.args[0] if node.args else None
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            return f"calls {name}() with a non-literal name (dynamic import is forbidden)"
        reason = forbidden_reason(arg.value)
        if reason is not None:
            return f"imports {arg.value!r} via {name}() ({reason} is forbidden)"
    return None


def find_module(name: str) -> ModuleSpec | None:
    """Locate a module's spec without importing it (or its parent packages)."""
    loaded = sys.modules.get(name)
    if loaded is not None and getattr(loaded, "__spec__", None) is not None:
        return loaded.__spec__
    parts = name.split(".")
    spec: ModuleSpec | None = None
    path: list[str] | None = None
    for i in range(len(parts)):
        spec = PathFinder.find_spec(".".join(parts[: i + 1]), path)
        if spec is None:
            return None
        locations = spec.submodule_search_locations
        if locations is None and i < len(parts) - 1:
            return None  # a parent that is not a package
        path = list(locations) if locations is not None else None
    return spec


def check_module(name: str) -> list[Finding]:
    """Check ``name``, its parent packages and the same-package modules it imports."""
    top = name.split(".")[0]
    parents = [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
    pending = [name, *parents]
    seen: set[str] = set()
    findings: list[Finding] = []
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        spec = find_module(module)
        source_file = _source_file(spec)
        if source_file is None:
            if module == name:
                findings.append(Finding(name, 0, "source not found, cannot check"))
            continue
        is_package = bool(spec and spec.submodule_search_locations)
        package = module if is_package else module.rpartition(".")[0]
        found, imported = _analyse(source_file, package)
        findings.extend(found)
        pending.extend(m for m in imported if m.split(".")[0] == top)
    return findings


# (path, package) → (mtime_ns, size, findings, local imports): every registry load checks
# the same modules again; parsing them once per process (until the file changes) makes a
# registry load cost milliseconds instead of a second.
_ANALYSED: dict[tuple[Path, str], tuple[int, int, tuple[Finding, ...], tuple[str, ...]]] = {}


def _analyse(path: Path, package: str) -> tuple[tuple[Finding, ...], tuple[str, ...]]:
    stat = path.stat()
    cached = _ANALYSED.get((path, package))
    if cached is not None and cached[:2] == (stat.st_mtime_ns, stat.st_size):
        return cached[2], cached[3]
    tree = _parse(path.read_text(encoding="utf-8", errors="replace"), str(path))
    if isinstance(tree, Finding):
        result: tuple[tuple[Finding, ...], tuple[str, ...]] = ((tree,), ())
    else:
        result = (tuple(check_tree(tree, filename=str(path))),
                  tuple(_local_imports(tree, package)))
    _ANALYSED[(path, package)] = (stat.st_mtime_ns, stat.st_size, *result)
    return result


def _source_file(spec: ModuleSpec | None) -> Path | None:
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    path = Path(spec.origin)
    return path if path.is_file() else None


def _local_imports(tree: ast.AST, package: str) -> list[str]:
    """Absolute names of modules imported in ``tree`` (relative ones resolved)."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_base(node, package)
            if base:
                names.append(base)
                names.extend(f"{base}.{alias.name}" for alias in node.names)
    return names


def _resolve_base(node: ast.ImportFrom, package: str) -> str | None:
    if node.level == 0:
        return node.module
    parts = package.split(".") if package else []
    if node.level - 1 > len(parts):
        return None
    base = ".".join(parts[: len(parts) - (node.level - 1)])
    return f"{base}.{node.module}" if node.module else base
