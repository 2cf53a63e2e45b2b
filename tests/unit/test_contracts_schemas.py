"""The committed JSON Schemas and AsyncAPI document match the contracts, and stay compatible.

When a test here fails:

* "out of date" / "missing": run ``python -m contracts.schemagen`` and commit the result;
* "not backward compatible": do not change the event in place. Add a new event class whose
  ``TYPE`` ends with the next version (``...v2``); it gets its own schema file, and the old version
  stays until every consumer has moved.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts import schemagen
from contracts.compat import check_backward_compatible
from contracts.registry import EVENT_TYPES, TOPICS

PACKAGE_DIR = schemagen.PACKAGE_DIR
COMMITTED_SCHEMAS = sorted((PACKAGE_DIR / schemagen.SCHEMAS_DIR).glob("*.json"))
REGENERATE = "run `python -m contracts.schemagen` and commit the result"


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


# --- (a) committed files are up to date --------------------------------------------------------


@pytest.mark.parametrize("ce_type", sorted(EVENT_TYPES))
def test_committed_schema_is_up_to_date(ce_type: str) -> None:
    path = PACKAGE_DIR / schemagen.schema_path(ce_type)
    assert path.is_file(), f"no committed schema for {ce_type}: {REGENERATE}"
    expected = schemagen.dump_json(schemagen.event_schema(EVENT_TYPES[ce_type]))
    assert path.read_text(encoding="utf-8") == expected, f"{path.name} is out of date: {REGENERATE}"


def test_committed_asyncapi_is_up_to_date() -> None:
    path = PACKAGE_DIR / schemagen.ASYNCAPI_FILE
    assert path.is_file(), f"no committed {path.name}: {REGENERATE}"
    expected = schemagen.render()[schemagen.ASYNCAPI_FILE]
    assert path.read_text(encoding="utf-8") == expected, f"{path.name} is out of date: {REGENERATE}"


def test_generation_is_deterministic() -> None:
    assert schemagen.render() == schemagen.render()


# --- (b) the current models are compatible with what was committed ----------------------------


@pytest.mark.parametrize("path", COMMITTED_SCHEMAS, ids=lambda p: p.stem)
def test_current_schema_is_backward_compatible_with_committed(path: Path) -> None:
    committed = _load(path)
    ce_type = committed["$id"]
    assert path.stem == ce_type, f"{path.name} has $id {ce_type!r}"
    assert ce_type in EVENT_TYPES, (
        f"{ce_type} has a committed schema but is no longer in contracts.registry; consumers may "
        "still read it. Keep the event class registered until no one does."
    )
    current = schemagen.event_schema(EVENT_TYPES[ce_type])
    problems = check_backward_compatible(committed, current)
    assert not problems, (
        f"{ce_type} changed in a way that is not backward compatible:\n  "
        + "\n  ".join(problems)
        + f"\nBump the version instead: add a new event class with TYPE "
        f"{ce_type.rsplit('.', 1)[0]}.v<N+1> (it gets its own schema file) and keep {ce_type}."
    )


def test_every_event_type_ends_with_a_version() -> None:
    for ce_type in EVENT_TYPES:
        version = ce_type.rsplit(".", 1)[-1]
        assert version[:1] == "v" and version[1:].isdigit(), ce_type


# --- (c) check_backward_compatible -------------------------------------------------------------


def _obj(required: list[str], **properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


STR: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
OPT_STR: dict[str, Any] = {"anyOf": [STR, {"type": "null"}], "default": None}
BASE = _obj(["id", "amount"], id=STR, amount=STR, note=OPT_STR)


def test_identical_schemas_are_compatible() -> None:
    assert check_backward_compatible(BASE, BASE) == []


def test_added_optional_property_is_compatible() -> None:
    new = _obj(["id", "amount"], id=STR, amount=STR, note=OPT_STR, extra=OPT_STR)
    assert check_backward_compatible(BASE, new) == []


def test_annotations_may_change() -> None:
    new = _obj(
        ["id", "amount"],
        id={**STR, "title": "Id", "description": "the id"},
        amount={**STR, "examples": ["1.00"]},
        note={**OPT_STR, "title": "Note"},
    )
    assert check_backward_compatible(BASE, new) == []


def test_removed_property_is_flagged() -> None:
    new = _obj(["id"], id=STR, note=OPT_STR)
    assert check_backward_compatible(BASE, new) == ["$.amount: property removed"]


def test_newly_required_property_is_flagged() -> None:
    new = _obj(["id", "amount", "note"], id=STR, amount=STR, note=OPT_STR)
    assert check_backward_compatible(BASE, new) == ["$.note: property is newly required"]


def test_added_required_property_is_flagged() -> None:
    new = _obj(["id", "amount", "extra"], id=STR, amount=STR, note=OPT_STR, extra=STR)
    assert check_backward_compatible(BASE, new) == ["$.extra: property is newly required"]


def test_type_change_is_flagged() -> None:
    new = _obj(["id", "amount"], id=STR, amount=INT, note=OPT_STR)
    assert check_backward_compatible(BASE, new) == ["$.amount: type changed from string to integer"]


def test_nullable_to_not_nullable_is_flagged() -> None:
    new = _obj(["id", "amount"], id=STR, amount=STR, note=STR)
    assert check_backward_compatible(BASE, new) == [
        "$.note: type changed from string | null to string"
    ]


def test_enum_values_removed_or_added_are_flagged() -> None:
    old = _obj(["kind"], kind={"type": "string", "enum": ["a", "b", "c"]})
    fewer = _obj(["kind"], kind={"type": "string", "enum": ["a", "b"]})
    more = _obj(["kind"], kind={"type": "string", "enum": ["a", "b", "c", "d"]})
    assert check_backward_compatible(old, fewer) == ["$.kind: enum values removed: ['c']"]
    assert check_backward_compatible(old, more) == [
        "$.kind: enum values added (old consumers reject them): ['d']"
    ]


def test_pattern_format_and_bounds_changes_are_flagged() -> None:
    old = _obj(
        ["a", "b", "c"],
        a={**STR, "pattern": "^x$"},
        b={**STR, "format": "date-time"},
        c={**INT, "maximum": 10},
    )
    new = _obj(
        ["a", "b", "c"],
        a={**STR, "pattern": "^y$"},
        b={**STR, "format": "date"},
        c={**INT, "maximum": 5},
    )
    assert check_backward_compatible(old, new) == [
        "$.a: pattern changed from '^x$' to '^y$'",
        "$.b: format changed from 'date-time' to 'date'",
        "$.c: maximum changed from 10 to 5",
    ]


def test_refs_to_defs_are_followed() -> None:
    def doc(line: dict[str, Any]) -> dict[str, Any]:
        return {
            **_obj(["lines"], lines={"type": "array", "items": {"$ref": "#/$defs/Line"}}),
            "$defs": {"Line": line},
        }

    old = doc(_obj(["sku", "qty"], sku=STR, qty=INT))
    assert check_backward_compatible(old, doc(_obj(["sku", "qty"], sku=STR, qty=INT))) == []
    assert check_backward_compatible(old, doc(_obj(["sku"], sku=STR))) == [
        "$.lines.items.qty: property removed"
    ]
    inline = _obj(["lines"], lines={"type": "array", "items": _obj(["sku"], sku=INT)})
    assert check_backward_compatible(old, inline) == [
        "$.lines.items.qty: property removed",
        "$.lines.items.sku: type changed from string to integer",
    ]


def test_recursive_defs_terminate() -> None:
    node = {"$ref": "#/$defs/Node"}
    tree = {
        "$ref": "#/$defs/Node",
        "$defs": {"Node": _obj(["children"], children={"type": "array", "items": node})},
    }
    assert check_backward_compatible(tree, tree) == []


# --- (d) AsyncAPI ------------------------------------------------------------------------------


def _asyncapi() -> dict[str, Any]:
    text = (PACKAGE_DIR / schemagen.ASYNCAPI_FILE).read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def test_asyncapi_has_a_channel_and_send_operation_for_every_topic() -> None:
    doc = _asyncapi()
    assert doc["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in doc["channels"].values()}
    assert addresses == {topic.name for topic in TOPICS}
    sent = {
        op["channel"]["$ref"].removeprefix("#/channels/")
        for op in doc["operations"].values()
        if op["action"] == "send"
    }
    assert sent == set(doc["channels"])


def test_asyncapi_messages_point_at_the_committed_schemas() -> None:
    messages = _asyncapi()["components"]["messages"]
    assert set(messages) == set(EVENT_TYPES)
    for ce_type, message in messages.items():
        assert message["contentType"] == "application/json"
        assert (PACKAGE_DIR / message["payload"]["$ref"]).is_file()
        assert message["headers"]["properties"]["ce_type"]["const"] == ce_type
        assert message["bindings"]["kafka"]["key"]["type"] == "string"


def test_real_model_changes_against_the_committed_schema() -> None:
    from typing import ClassVar, Literal

    from contracts.catalog import ProgramPublished

    committed = _load(PACKAGE_DIR / schemagen.schema_path(ProgramPublished.TYPE))

    class WithOptionalField(ProgramPublished):
        TYPE: ClassVar[str] = ProgramPublished.TYPE
        remarks: str | None = None

    class NarrowedOrganiser(ProgramPublished):
        TYPE: ClassVar[str] = ProgramPublished.TYPE
        organiser: Literal["national", "alliance"]  # type: ignore[assignment]

    assert check_backward_compatible(committed, schemagen.event_schema(WithOptionalField)) == []
    assert check_backward_compatible(committed, schemagen.event_schema(NarrowedOrganiser)) == [
        "$.organiser: enum values removed: ['provincial']"
    ]
