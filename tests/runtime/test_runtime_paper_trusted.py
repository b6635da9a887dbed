"""The paper adapter builds its orders, fills, events and acks unvalidated (Trusted): each
must be exactly the contract validated construction would give, field types included."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from tests.runtime.adapter_helpers import paper, req, step
from torghut.contracts.orders import Side
from torghut.contracts.simulation import CostModel, ExecutionModel
from torghut.runtime.adapters.paper import PaperAdapter


def _validated(model: BaseModel) -> BaseModel:
    """The same contract built through pydantic, from the fields the builder set."""
    values: dict[str, Any] = {}
    for name in model.model_fields_set:
        value = getattr(model, name)
        values[name] = _validated(value) if isinstance(value, BaseModel) else value
    return type(model)(**values)


def _same(trusted: BaseModel, validated: BaseModel) -> None:
    assert trusted == validated
    assert trusted.model_fields_set == validated.model_fields_set
    assert list(trusted.__dict__) == list(validated.__dict__)  # dump order
    assert {k: type(v) for k, v in trusted.__dict__.items()} == \
        {k: type(v) for k, v in validated.__dict__.items()}
    assert trusted.model_dump_json() == validated.model_dump_json()
    for name, value in trusted.__dict__.items():
        if isinstance(value, BaseModel):
            _same(value, getattr(validated, name))


def _trade(adapter: PaperAdapter) -> list[BaseModel]:
    out: list[BaseModel] = []
    adapter.on_bar(step(0, AAA=100.0, BBB=50.0))
    out.append(adapter.submit(req("AAA", qty=30.0), idempotency_key="k1"))
    out.append(adapter.submit(req("BBB", Side.SELL, qty=7.0, limit=49.5), idempotency_key="k2"))
    out.append(adapter.submit(req("AAA", limit=1.0), idempotency_key="k3"))  # never fills
    for i in range(1, 4):
        out.extend(adapter.on_bar(step(i, AAA=100.0 + i, BBB=50.0 - i)))
    out.extend(adapter.fills)
    out.extend(adapter.open_orders())
    out.extend(adapter.orders())
    out.append(adapter.status("paper-000001"))
    return out


def test_trusted_paper_contracts_equal_validated_ones() -> None:
    realistic = paper(ExecutionModel(model_id="t-real", participation_rate=0.001),
                      CostModel(model_id="t-costs", commission_per_share=0.005,
                                turnover_penalty_bps=1.0))
    built = _trade(realistic) + _trade(paper())
    kinds = {type(m).__name__ for m in built}
    assert kinds == {"AdapterAck", "AdapterEvent", "Fill", "Order"}
    assert any(getattr(m, "fill", None) is not None for m in built)  # fill events covered
    for model in built:
        _same(model, _validated(model))
