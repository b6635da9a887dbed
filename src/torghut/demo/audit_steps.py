"""Step 9: the audit chain verifies, every gate decision reproduces from the ledger alone,
and one promoted candidate's audit pack is built and verified offline."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from torghut.demo.plan import VALIDATION_AGENT
from torghut.demo.promote import promoted_names
from torghut.demo.runner import DemoContext
from torghut.lanes.reproduce import reproduce
from torghut.ledger import audit
from torghut.ledger.models import PromotionDecision
from torghut.ops.audit_pack import build_pack
from torghut.ops.audit_verify import verify_pack


def audit_step(ctx: DemoContext) -> dict[str, Any]:
    reproduced = _reproduce_all(ctx)
    bad = [d for d, r in reproduced.items() if not r["reproduced"]]
    ctx.say(f"ledger reproduce: {len(reproduced) - len(bad)}/{len(reproduced)} decisions "
            "reproduced" + (f"; NOT: {', '.join(b[:12] for b in bad)}" if bad else ""))
    name = promoted_names(ctx)[0]
    cid = ctx.state.steps["research"]["result"]["candidates"][name]["candidate_id"]
    out = ctx.state.path.parent / f"audit-pack-{name}"
    if not (out / "manifest.json").is_file():
        build_pack(ctx.ws, ctx.ledger, candidate=cid, incident=None, out=out)
    problems = [str(p) for p in verify_pack(out)]
    ctx.say(f"audit pack {out}: {'verified' if not problems else '; '.join(problems)}")
    with ctx.ledger.read() as session:
        chain = audit.verify(session, ctx.ledger.artifacts)
    ctx.say(f"audit verify: {'intact' if chain.ok else 'BROKEN'}, {chain.events} events, "
            f"head {chain.head_hash[:16]}…")
    return {"reproduced": reproduced, "pack": {"candidate": name, "path": str(out),
                                               "problems": problems},
            "chain": {"ok": chain.ok, "events": chain.events, "head": chain.head_hash}}


def _reproduce_all(ctx: DemoContext) -> dict[str, Any]:
    """``ledger reproduce`` of every decision the demo recorded (once each)."""
    done: dict[str, Any] = dict(ctx.state.scratch.get("reproduced", {}))
    with ctx.ledger.read() as session:
        ids = list(session.scalars(select(PromotionDecision.id)
                                   .order_by(PromotionDecision.decided_at)))
    for did in ids:
        if did in done:
            continue
        outcome = reproduce(ctx.ws, ctx.ledger, did, actor=VALIDATION_AGENT, sign=True)
        done[did] = {"reproduced": outcome.reproduced, "code": outcome.code}
        ctx.state.note("reproduced", done)
    return done
