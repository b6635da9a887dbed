"""Material changes and their designated reviewer (CONTROLS.md RTS-11, RTS 6 Art 11).

A pull request is *material* when it changes what trades or how it is limited: a strategy is
added or enabled (``NEW_STRATEGY``), an entry's plugin, version, params or priority change
(``STRATEGY_CHANGED``), a strategy is removed or disabled (``STRATEGY_REMOVED``), a mode
changes — an entry's or the runtime's (``MODE_CHANGE``) — or any limit in the runtime config
changes: firm and strategy limits, restricted list, borrow list, kill-switch triggers
(``LIMITS_CHANGE``). A catalog or runtime config that does not parse on either side counts
as material (``CONFIG_UNREADABLE``): unknown is treated as material, never as harmless.

Materiality is computed from the two commits, never declared by whoever opens the PR. The
designated reviewer of a material change is the ``approver`` role: a *human* identity that
holds it on GitOps ``main`` when the change is merged (identities are themselves changed only
by reviewed PRs). The promotion lane writes the reasons into the PR body, the signed propose,
approve and merge records and the merge commit, and refuses the merge
(``MATERIAL_REVIEWER_REQUIRED``) when the approval did not come from such an identity.
"""

# control: RTS-11

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from torghut.contracts.governance import IdentityKind, Role
from torghut.contracts.strategies import StrategyDefinition
from torghut.errors import NotFoundError, TorghutError
from torghut.gitops.manifests import CATALOG_PATH, parse_catalog
from torghut.gitops.repo import show
from torghut.gitops.runtime_config import RUNTIME_CONFIG_PATH, parse_runtime_config
from torghut.governance.identities import lookup
from torghut.governance.refusal import Refusal

MATERIAL_REVIEWER_ROLE = Role.APPROVER
MATERIAL_REVIEWER_REQUIRED = "MATERIAL_REVIEWER_REQUIRED"
T = TypeVar("T")


class MaterialReason(StrEnum):
    NEW_STRATEGY = "NEW_STRATEGY"
    STRATEGY_CHANGED = "STRATEGY_CHANGED"
    STRATEGY_REMOVED = "STRATEGY_REMOVED"
    MODE_CHANGE = "MODE_CHANGE"
    LIMITS_CHANGE = "LIMITS_CHANGE"
    CONFIG_UNREADABLE = "CONFIG_UNREADABLE"


def material_reasons(repo: Path, base: str, head: str) -> tuple[MaterialReason, ...]:
    """Why the change from commit ``base`` to ``head`` is material (empty: it is not)."""
    reasons: set[MaterialReason] = set()
    catalogs = _both(repo, CATALOG_PATH, base, head, _entries)
    runtimes = _both(repo, RUNTIME_CONFIG_PATH, base, head, _runtime)
    if catalogs is None or runtimes is None:
        reasons.add(MaterialReason.CONFIG_UNREADABLE)
    if catalogs is not None:
        reasons.update(_catalog_reasons(*catalogs))
    if runtimes is not None:
        reasons.update(_runtime_reasons(*runtimes))
    return tuple(r for r in MaterialReason if r in reasons)


def _both(repo: Path, path: str, base: str, head: str,
          parse: Callable[[str, str], T]) -> tuple[T | None, T | None] | None:
    """The file parsed at both commits (None for absent); None when either fails to parse."""
    out: list[T | None] = []
    for ref in (base, head):
        text = show(repo, path, ref) if ref else None
        try:
            out.append(None if text is None else parse(text, f"{ref}:{path}"))
        except TorghutError:
            return None
    return out[0], out[1]


def _entries(text: str, file: str) -> dict[str, StrategyDefinition]:
    return {e.strategy_id: e for e in parse_catalog(text, file=file).strategies}


def _runtime(text: str, file: str) -> dict[str, Any]:
    return parse_runtime_config(text, file=file).model_dump(mode="json")


def _catalog_reasons(old: dict[str, StrategyDefinition] | None,
                     new: dict[str, StrategyDefinition] | None) -> set[MaterialReason]:
    old, new = old or {}, new or {}
    out: set[MaterialReason] = set()
    for sid in old.keys() | new.keys():
        before, after = old.get(sid), new.get(sid)
        was, runs = bool(before and before.enabled), bool(after and after.enabled)
        if runs and not was:
            out.add(MaterialReason.NEW_STRATEGY)
        elif was and not runs:
            out.add(MaterialReason.STRATEGY_REMOVED)
        if before is None or after is None:
            continue
        if before.mode != after.mode:
            out.add(MaterialReason.MODE_CHANGE)
        if _definition(before) != _definition(after):
            out.add(MaterialReason.STRATEGY_CHANGED)
    return out


def _definition(entry: StrategyDefinition) -> dict[str, Any]:
    return entry.model_dump(mode="json", exclude={"enabled", "mode"})


def _runtime_reasons(old: dict[str, Any] | None,
                     new: dict[str, Any] | None) -> set[MaterialReason]:
    old, new = old or {}, new or {}
    out: set[MaterialReason] = set()
    if old.get("mode") != new.get("mode"):
        out.add(MaterialReason.MODE_CHANGE)
    if {k: v for k, v in old.items() if k != "mode"} != {
            k: v for k, v in new.items() if k != "mode"}:
        out.add(MaterialReason.LIMITS_CHANGE)
    return out


def describe(reasons: Sequence[str]) -> str:
    """The PR-body paragraph that says whether the change is material, and why."""
    if not reasons:
        return ("Not a material change (RTS-11): no strategy, mode or limit changes.")
    return (f"This is a **material change** (RTS-11): {', '.join(reasons)}. It merges only "
            f"with the approval of a designated reviewer — a human holding the "
            f"`{MATERIAL_REVIEWER_ROLE.value}` role on GitOps main; review the catalog "
            "entries and their RTS-8 limits.")


def reviewer_problem(repo: Path, reviewer: str,
                     reasons: Iterable[str]) -> Refusal | None:
    """Why ``reviewer``'s approval cannot carry a change with these material ``reasons``
    (None: it can, or the change is not material). Read from GitOps ``main`` now, so a
    reviewer whose role was withdrawn after approving no longer counts."""
    listed = ", ".join(reasons)
    if not listed:
        return None
    try:
        identity = lookup(repo, reviewer)
    except NotFoundError:
        identity = None
    if (identity is not None and identity.kind is IdentityKind.HUMAN
            and MATERIAL_REVIEWER_ROLE in identity.roles):
        return None
    return Refusal(MATERIAL_REVIEWER_REQUIRED,
                   f"a material change ({listed}) needs the approval of a designated "
                   f"reviewer (a human with the {MATERIAL_REVIEWER_ROLE.value} role on GitOps "
                   f"main); {reviewer!r} is not one")
