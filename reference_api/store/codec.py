"""The order aggregate as a stored JSON document, compiled from the model's declarations.

``order_to_json`` and ``order_from_json`` are generated at import from the fields of ``Order``
and of the records it holds (``store.fields``), as ``dataclasses`` generates ``__init__``: a
field added to the model is stored and restored with no edit here, and a field of a type this
module has no stored form for fails the import instead of vanishing on restart. Generated code
rather than a loop over the fields because the codec runs on every request; ``SOURCE`` holds
what was generated, and tracebacks show its lines.

The layout is the one every existing file holds: the order is an object keyed by field name;
the records inside it (items, address, refund, OTPs, history) are arrays of their fields in
declaration order, compact for the dozen an order holds, so add fields to a record at its end
and with a default. ``Decimal`` is stored as text, an enum as its value. A document from an
older version fails the generated decoder and is first brought up to date by ``_upgrade``
(defaults for fields added since, the OTP layout before D7), so current documents pay nothing.
"""

from __future__ import annotations

import linecache
import types
import typing
from collections.abc import Callable
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson

from reference_api.model import Order, OtpRecord
from reference_api.store.fields import is_record, optional_of, record_fields

_JSON_NATIVE = (str, int, float, bool, type(None))


def _stored_as_is(hint: Any, *, encoding: bool) -> bool:
    """True where JSON holds the value itself: what orjson writes natively and reads back as
    the same value (an enum only one way: it is written as its value, read back as text)."""
    if hint is Any or hint in _JSON_NATIVE:
        return True
    if isinstance(hint, type) and issubclass(hint, Enum):
        return encoding
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is dict:
        return args[0] is str and _stored_as_is(args[1], encoding=encoding)
    if origin in (list, types.UnionType, typing.Union):
        return all(_stored_as_is(a, encoding=encoding) for a in args)
    return False


class _Compiler:
    """Builds Python expressions for the stored form of a value and back, by type."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {"_dumps": orjson.dumps, "_json_default": _json_default}
        self._sources: dict[str, type] = {}
        self._names = 0

    def _ref(self, cls: type, make: Callable[[], Any] | None = None) -> str:
        """The name the generated code uses for ``cls`` (or for what ``make`` derives from it)."""
        name = f"_{cls.__name__}"
        if name not in self.namespace:
            self.namespace[name] = cls if make is None else make()
            self._sources[name] = cls
        elif self._sources.get(name) is not cls:
            raise TypeError(f"two stored types are both called {cls.__name__}")
        return name

    def _fresh(self) -> str:
        self._names += 1
        return f"v{self._names}"

    def encode(self, hint: Any, expr: str, owner: str) -> str:
        """An expression for the stored form of ``expr`` (a name or an attribute read)."""
        if _stored_as_is(hint, encoding=True):
            return expr
        if hint is Decimal:
            return f"str({expr})"
        contained = self._container(hint, expr, owner, self.encode)
        if contained is not None:
            return contained
        if is_record(hint):
            fields = record_fields(hint)
            v, first = expr, fields[0] if fields else None
            if not expr.isidentifier() and first and _stored_as_is(first.hint, encoding=True):
                v = self._fresh()  # read ``expr`` once: bound by the first field's read
            parts = [self.encode(f.hint, f"{v}.{f.name}", hint.__name__) for f in fields]
            if v != expr:
                parts[0] = f"({v} := {expr}).{fields[0].name}"
            return f"[{', '.join(parts)}]"
        raise TypeError(f"{owner}: no stored form for {hint!r}; teach store/codec.py one")

    def decode(self, hint: Any, expr: str, owner: str) -> str:
        """An expression for the value whose stored form is ``expr`` (cheap to repeat)."""
        if _stored_as_is(hint, encoding=False):
            return expr
        if hint is Decimal:
            return f"{self._ref(Decimal)}({expr})"
        if isinstance(hint, type) and issubclass(hint, Enum):
            members = hint  # a dict lookup: calling the enum costs several times more
            return f"{self._ref(hint, lambda: {m.value: m for m in members})}[{expr}]"
        if typing.get_origin(hint) is list:
            item = typing.get_args(hint)[0]
            if is_record(item) and not _stored_as_is_record(item):
                names = [self._fresh() for _ in record_fields(item)]  # unpacking beats indexing
                return f"[{self._construct(item, names)} for ({', '.join(names)},) in {expr}]"
        contained = self._container(hint, expr, owner, self.decode)
        if contained is not None:
            return contained
        if is_record(hint):
            if _stored_as_is_record(hint):
                return f"{self._ref(hint)}(*{expr})"
            return self._construct(hint, [f"{expr}[{i}]" for i in range(len(record_fields(hint)))])
        raise TypeError(f"{owner}: no stored form for {hint!r}; teach store/codec.py one")

    def _container(
        self, hint: Any, expr: str, owner: str, convert: Callable[[Any, str, str], str]
    ) -> str | None:
        """``X | None``, ``list[X]`` and ``dict[str, X]`` have one shape both ways: ``convert``
        (``encode`` or ``decode``) applied to what they hold. None for any other type."""
        inner = optional_of(hint)
        if inner is not None:
            v = self._fresh()
            return f"(None if ({v} := {expr}) is None else {convert(inner, v, owner)})"
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin is list:
            v = self._fresh()
            return f"[{convert(args[0], v, owner)} for {v} in {expr}]"
        if origin is dict and args[0] is str:
            k, v = self._fresh(), self._fresh()
            return f"{{{k}: {convert(args[1], v, owner)} for {k}, {v} in {expr}.items()}}"
        return None

    def _construct(self, cls: type, stored: list[str]) -> str:
        fields = record_fields(cls)
        values = (self.decode(f.hint, s, cls.__name__) for f, s in zip(fields, stored, strict=True))
        return f"{self._ref(cls)}({', '.join(values)})"


def _stored_as_is_record(cls: type) -> bool:
    return all(_stored_as_is(f.hint, encoding=False) for f in record_fields(cls))


def _json_default(value: object) -> object:
    """History metadata comes from clients and the service; keep what JSON cannot say as text."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in order history metadata")


def _compile() -> tuple[str, dict[str, Any]]:
    compiler = _Compiler()
    fields = record_fields(Order)
    stored = ",\n".join(
        f"        {f.name!r}: {compiler.encode(f.hint, f'order.{f.name}', f'Order.{f.name}')}"
        for f in fields
    )
    restored = ",\n".join(
        f"        {compiler.decode(f.hint, f'd[{f.name!r}]', f'Order.{f.name}')}" for f in fields
    )
    order = compiler._ref(Order)
    source = (
        "def order_to_json(order):\n"
        f"    return _dumps({{\n{stored},\n    }}, default=_json_default).decode()\n\n\n"
        "def decode_document(d):\n"
        f"    return {order}(\n{restored},\n    )\n"
    )
    filename = "<generated order codec>"
    exec(compile(source, filename, "exec"), compiler.namespace)  # noqa: S102  # our own source
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return source, compiler.namespace


SOURCE, _generated = _compile()

#: The order as the JSON text stored in the ``data`` column.
order_to_json: Callable[[Order], str] = _generated["order_to_json"]
_decode: Callable[[dict[str, Any]], Order] = _generated["decode_document"]

#: What a document may raise when it was written by an older version (see ``_upgrade``).
_OUTDATED = (KeyError, IndexError, TypeError, ValueError)


def order_from_json(text: str | bytes) -> Order:
    """The order stored as ``text``, by any version of this codec."""
    doc = orjson.loads(text)
    try:
        return _decode(doc)
    except _OUTDATED:
        pass
    try:
        return _decode(_upgrade(doc))
    except _OUTDATED as exc:
        raise ValueError(
            f"stored order {doc.get('id')!r} does not fit the Order declaration: {exc!r}"
        ) from exc


# ------------------------------------------------------------------------- older documents
def _drop_otp_code_hash(stored: list[Any]) -> list[Any]:
    if len(stored) == 9:  # written before D7 dropped the stored hash of the code (third field)
        del stored[2]
    return stored


#: Record layouts that changed other than by a field added at the end.
_LEGACY_LAYOUTS: dict[type, Callable[[list[Any]], list[Any]]] = {OtpRecord: _drop_otp_code_hash}


def _upgrade(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` (in place) as the current version would have written it: fields declared since
    take their default; records go through ``_LEGACY_LAYOUTS``. Missing fields without a
    default stay missing, so decoding still fails."""
    for f in record_fields(Order):
        if f.name in doc:
            doc[f.name] = _upgrade_value(f.hint, doc[f.name])
        elif f.default is not None:
            doc[f.name] = _stored_default(f.hint, f.default())
    return doc


def _upgrade_value(hint: Any, value: Any) -> Any:
    inner = optional_of(hint)
    if value is None or _stored_as_is(hint, encoding=False):
        return value
    if inner is not None:
        return _upgrade_value(inner, value)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list:
        return [_upgrade_value(args[0], v) for v in value]
    if origin is dict:
        return {k: _upgrade_value(args[1], v) for k, v in value.items()}
    if is_record(hint) and isinstance(value, list):
        legacy = _LEGACY_LAYOUTS.get(hint)
        if legacy is not None:
            value = legacy(value)
        fields = record_fields(hint)
        for f in fields[len(value) :]:
            if f.default is None:
                break
            value.append(_stored_default(f.hint, f.default()))
        known = zip(fields, value[: len(fields)], strict=False)  # extra values: left to fail
        return [_upgrade_value(f.hint, v) for f, v in known] + value[len(fields) :]
    return value


def _stored_default(hint: Any, value: Any) -> Any:
    """``value`` as a document holds it: encoded by the same generated expression, then
    through JSON text and back."""
    compiler = _Compiler()
    source = f"lambda v: {compiler.encode(hint, 'v', 'a default')}"
    encode = eval(source, compiler.namespace)  # noqa: S307  # compiled from our own declarations
    return orjson.loads(orjson.dumps(encode(value), default=_json_default))
