"""Build a contract from values its builder already guarantees valid, without pydantic.

Hot paths (the streaming feature mapper, the risk chain) build thousands of contracts per
second from values they computed themselves from already-validated inputs; re-validating
them costs 2-5 µs each, which is most of a bar's budget. :class:`Trusted` builds the same
object (same ``__dict__``, defaults, fields set, frozen) in well under 1 µs. It is for
values the calling code produced and owns; anything from outside — a file, a plugin, a
request — still goes through the model's validation. The equivalence is tested against
validated construction (``tests/data/test_trusted_contracts.py``).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_new = object.__new__
# BaseModel's slot descriptors, called directly: object.__setattr__ looks each name up along
# the class's MRO first (4 per build, ~15 % of it).
_SLOTS = vars(BaseModel)
_set_dict = _SLOTS["__dict__"].__set__
_set_fields_set = _SLOTS["__pydantic_fields_set__"].__set__
_set_extra = _SLOTS["__pydantic_extra__"].__set__
_set_private = _SLOTS["__pydantic_private__"].__set__


class Trusted(Generic[M]):
    """Unvalidated construction of one model class, defaults prepared once."""

    __slots__ = ("_required", "_template", "cls")

    def __init__(self, cls: type[M]) -> None:
        if cls.model_config.get("extra") == "allow":
            raise TypeError(f"{cls.__name__} allows extra fields; build it validated")
        self.cls = cls
        # Field order matters: model_dump and JSON follow the instance dict's order.
        self._template = {name: None if info.is_required()
                          else info.get_default(call_default_factory=True)
                          for name, info in cls.model_fields.items()}
        self._required = frozenset(name for name, info in cls.model_fields.items()
                                   if info.is_required())

    def build(self, values: dict[str, Any]) -> M:
        """The model with ``values`` (every required field, no unknown one) over the
        defaults. A missing or unknown name is a programming error: TypeError."""
        fields = {**self._template, **values}  # one merge: ~0.05 µs less than copy + update
        fields_set = set(values)
        if len(fields) != len(self._template) or not self._required <= fields_set:
            raise TypeError(f"{self.cls.__name__}: wrong fields {sorted(fields_set)}")
        obj = _new(self.cls)
        _set_dict(obj, fields)
        _set_fields_set(obj, fields_set)
        _set_extra(obj, None)
        _set_private(obj, None)
        return obj
