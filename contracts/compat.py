"""Is a new JSON Schema of an event still compatible with the committed one of the same version?

An event version is read by consumers built against the old schema (they must accept what the new
producer sends, ignoring unknown fields) and by consumers built against the new one (they must
accept events already on the topic). So, for the same version:

* adding an optional property is fine;
* removing a property, making a property required, or changing a property's type or constraints
  (``enum``, ``const``, ``pattern``, ``format``, bounds, lengths) is not: bump the version instead.

Annotations (``title``, ``description``, ``examples``, ``default``) may change freely. ``$ref`` to
``#/$defs/...`` is followed on both sides.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

# Keywords whose change alters which values are accepted. ``enum`` is handled on its own.
_CONSTRAINTS = (
    "const",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
)
_ALTERNATIVES = ("anyOf", "oneOf")


def check_backward_compatible(old: Schema, new: Schema) -> list[str]:
    """Human-readable incompatibilities of ``new`` against ``old``; empty when compatible."""
    problems: list[str] = []
    _compare(old, new, "$", _Ctx(old, new), problems)
    return problems


class _Ctx:
    """The two root documents (to resolve ``$ref``) and the ref pairs already being compared."""

    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.seen: set[tuple[str, str]] = set()


def _resolve(schema: Schema, root: Schema) -> Schema:
    """Follow local ``$ref``s (``#/$defs/Name``); siblings of ``$ref`` are kept."""
    while "$ref" in schema:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return schema  # an external ref: compared as written
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **siblings}
    # ``allOf: [X]`` with a single member is how some generators attach annotations to a ref.
    if isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        schema = {**_resolve(schema["allOf"][0], root), **rest}
    return schema


def _compare(old: Schema, new: Schema, path: str, ctx: _Ctx, out: list[str]) -> None:
    pair = (str(old.get("$ref", "")), str(new.get("$ref", "")))
    if pair != ("", ""):
        if pair in ctx.seen:
            return  # a recursive model: already being compared further up
        ctx.seen.add(pair)
    old, new = _resolve(old, ctx.old_root), _resolve(new, ctx.new_root)

    old_alts, new_alts = _alternatives(old), _alternatives(new)
    if len(old_alts) > 1 or len(new_alts) > 1:
        _compare_alternatives(old_alts, new_alts, path, ctx, out)
        return

    old_type, new_type = _types(old), _types(new)
    if old_type != new_type:
        out.append(f"{path}: type changed from {_show(old_type)} to {_show(new_type)}")
        return

    if "enum" in old and "enum" in new:
        removed = [v for v in old["enum"] if v not in new["enum"]]
        added = [v for v in new["enum"] if v not in old["enum"]]
        if removed:
            out.append(f"{path}: enum values removed: {removed}")
        if added:
            out.append(f"{path}: enum values added (old consumers reject them): {added}")
    elif "enum" in old or "enum" in new:
        out.append(f"{path}: enum changed from {old.get('enum')!r} to {new.get('enum')!r}")

    for keyword in _CONSTRAINTS:
        if old.get(keyword) != new.get(keyword):
            out.append(
                f"{path}: {keyword} changed from {old.get(keyword)!r} to {new.get(keyword)!r}"
            )

    _compare_object(old, new, path, ctx, out)

    for keyword in ("items", "additionalProperties"):
        old_sub, new_sub = old.get(keyword), new.get(keyword)
        if isinstance(old_sub, dict) and isinstance(new_sub, dict):
            _compare(old_sub, new_sub, f"{path}.{keyword}", ctx, out)
        elif old_sub != new_sub and not (old_sub is None and new_sub is True):
            out.append(f"{path}: {keyword} changed from {old_sub!r} to {new_sub!r}")


def _compare_object(old: Schema, new: Schema, path: str, ctx: _Ctx, out: list[str]) -> None:
    old_props: Schema = old.get("properties", {})
    new_props: Schema = new.get("properties", {})
    old_required = set(old.get("required", []))
    for name in old_props:
        if name not in new_props:
            out.append(f"{path}.{name}: property removed")
    for name in new.get("required", []):
        if name not in old_required:
            out.append(f"{path}.{name}: property is newly required")
    for name, new_prop in new_props.items():
        if name in old_props:
            _compare(old_props[name], new_prop, f"{path}.{name}", ctx, out)


def _alternatives(schema: Schema) -> list[Schema]:
    """The members of ``anyOf``/``oneOf``, or the schema itself."""
    for keyword in _ALTERNATIVES:
        if isinstance(schema.get(keyword), list):
            return list(schema[keyword])
    return [schema]


def _compare_alternatives(
    old: list[Schema], new: list[Schema], path: str, ctx: _Ctx, out: list[str]
) -> None:
    """Match members by their signature (model name or type); compare the matched ones."""
    old_by_sig = {_signature(s, ctx.old_root): s for s in old}
    new_by_sig = {_signature(s, ctx.new_root): s for s in new}
    if old_by_sig.keys() != new_by_sig.keys():
        out.append(
            f"{path}: type changed from {' | '.join(old_by_sig)} to {' | '.join(new_by_sig)}"
        )
        return
    for sig, old_member in old_by_sig.items():
        _compare(old_member, new_by_sig[sig], f"{path}<{sig}>", ctx, out)


def _signature(schema: Schema, root: Schema) -> str:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return ref.rsplit("/", 1)[-1]
    return _show(_types(_resolve(schema, root)))


def _types(schema: Schema) -> tuple[str, ...]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return (declared,)
    if isinstance(declared, list):
        return tuple(sorted(str(t) for t in declared))
    if "properties" in schema:
        return ("object",)
    return ()


def _show(types: tuple[str, ...]) -> str:
    return " | ".join(types) if types else "any"
