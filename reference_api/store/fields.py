"""The fields of the model's records, read from their declarations.

The SQLite store derives what it persists from here (the JSON codec, the table columns), so a
field added to the model is stored without being restated anywhere.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reference_api import model


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    hint: Any
    #: makes the declared default, or None when the field has none (it must always be stored)
    default: Callable[[], Any] | None


def is_record(hint: Any) -> bool:
    """A class the stores take apart field by field: a dataclass, or a class of the model
    module whose constructor parameters are its attributes (``TrackingEntry``)."""
    return isinstance(hint, type) and (
        dataclasses.is_dataclass(hint) or hint.__module__ == model.__name__
    )


def record_fields(cls: type[Any]) -> tuple[Field, ...]:
    """``cls``'s stored fields in declaration order; raises for a field that could not be
    restored (outside ``__init__``, or ``*args``)."""
    found = _FIELDS.get(cls)
    if found is None:
        found = _FIELDS[cls] = _read_fields(cls)
    return found


_FIELDS: dict[type[Any], tuple[Field, ...]] = {}


def _read_fields(cls: type[Any]) -> tuple[Field, ...]:
    if dataclasses.is_dataclass(cls):
        hints = typing.get_type_hints(cls)
        found = []
        for f in dataclasses.fields(cls):
            if not f.init or f.kw_only:  # the codec passes fields by position
                raise TypeError(f"{cls.__name__}.{f.name}: not restorable by position")
            if f.default is not dataclasses.MISSING:
                default: Callable[[], Any] | None = _constant(f.default)
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory
            else:
                default = None
            found.append(Field(f.name, hints[f.name], default))
        return tuple(found)
    params = list(inspect.signature(cls, eval_str=True).parameters.values())
    for p in params:
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY) or p.annotation is p.empty:
            raise TypeError(f"{cls.__name__}({p.name}): not restorable by position")
    return tuple(
        Field(p.name, p.annotation, None if p.default is p.empty else _constant(p.default))
        for p in params
    )


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def optional_of(hint: Any) -> Any:
    """``X`` for ``X | None`` (one type besides None), else None."""
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        rest = [a for a in typing.get_args(hint) if a is not types.NoneType]
        if len(rest) == 1 and len(typing.get_args(hint)) == 2:
            return rest[0]
    return None
