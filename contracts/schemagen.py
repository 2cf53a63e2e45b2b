"""Generate the JSON Schemas of every event and the AsyncAPI document of every topic.

Both come from the topic registry (``contracts.registry.TOPICS``) and are committed::

    python -m contracts.schemagen            # (re)write contracts/schemas/*.json, asyncapi.yaml
    python -m contracts.schemagen --check    # exit 1 when the committed files are out of date

The output is deterministic: running it twice gives identical bytes.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any

from contracts.base import SPEC_VERSION, Event
from contracts.registry import TOPICS, Topic

PACKAGE_DIR = Path(__file__).resolve().parent
SCHEMAS_DIR = "schemas"
ASYNCAPI_FILE = "asyncapi.yaml"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
DOCUMENT_VERSION = "1.0.0"


def event_schema(cls: type[Event]) -> dict[str, Any]:
    """JSON Schema of an event's data as it is on the wire (``model_dump(mode="json")``)."""
    schema = cls.model_json_schema(mode="serialization")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        **schema,
        "$id": cls.TYPE,
        "title": cls.__name__,
    }


def schema_path(ce_type: str) -> str:
    """Path of an event type's schema, relative to the package directory."""
    return f"{SCHEMAS_DIR}/{ce_type}.json"


def dump_json(schema: dict[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


# --- AsyncAPI --------------------------------------------------------------------------------


def _summary(cls: type[Event]) -> str:
    doc = inspect.getdoc(cls) if cls.__doc__ else None
    return doc.splitlines()[0] if doc else cls.__name__


def _headers(cls: type[Event], topic: Topic) -> dict[str, Any]:
    """CloudEvents 1.0 Kafka protocol binding, binary content mode: attributes as headers."""

    def header(description: str, **extra: Any) -> dict[str, Any]:
        return {"type": "string", "description": description, **extra}

    return {
        "type": "object",
        "properties": {
            "ce_specversion": header("CloudEvents spec version", const=SPEC_VERSION),
            "ce_id": header("Unique event id; consumers deduplicate on it"),
            "ce_source": header("URI reference of the producing service"),
            "ce_type": header("CloudEvents type, ends with the version", const=cls.TYPE),
            "ce_time": header("When it happened (RFC 3339)", format="date-time"),
            "ce_subject": header(f"Aggregate id ({cls.KEY}); same as the Kafka key"),
            "traceparent": header("W3C Trace Context of the producing request"),
        },
        "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject"],
    }


def _message(cls: type[Event], topic: Topic) -> dict[str, Any]:
    return {
        "name": cls.TYPE,
        "title": cls.__name__,
        "summary": _summary(cls),
        "contentType": "application/json",
        "headers": _headers(cls, topic),
        "payload": {"$ref": schema_path(cls.TYPE)},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": f"Aggregate id ({cls.KEY})"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def asyncapi_document() -> dict[str, Any]:
    """AsyncAPI 3.0 document: one channel and one ``send`` operation per registry topic."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in TOPICS:
        channels[topic.name] = {
            "address": topic.name,
            "description": topic.description,
            "messages": {
                e.__name__: {"$ref": f"#/components/messages/{e.TYPE}"} for e in topic.events
            },
            "bindings": {
                "kafka": {
                    "topic": topic.name,
                    "partitions": topic.partitions,
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
        operations[f"{topic.owner}.send.{topic.name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{topic.name}"},
            "summary": f"The {topic.owner} service publishes on {topic.name}",
            "tags": [{"name": topic.owner}],
            "messages": [
                {"$ref": f"#/channels/{topic.name}/messages/{e.__name__}"} for e in topic.events
            ],
        }
        for event in topic.events:
            messages[event.TYPE] = _message(event, topic)
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "VBP platform events",
            "version": DOCUMENT_VERSION,
            "description": (
                "Every Kafka topic of the VBP platform. Events are CloudEvents 1.0 in binary "
                "content mode: the data is the JSON message value, the attributes are ce_* "
                "headers, the Kafka key is the aggregate id. Generated by "
                "`python -m contracts.schemagen` from contracts/registry.py; do not edit."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def dump_yaml(document: dict[str, Any]) -> str:
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - PyYAML is a dev dependency only
        raise SystemExit("generating asyncapi.yaml needs PyYAML: pip install PyYAML") from exc
    header = "# Generated by `python -m contracts.schemagen`; do not edit.\n"
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    return header + body


# --- generation ------------------------------------------------------------------------------


def render() -> dict[str, str]:
    """Every generated file's content, by path relative to the package directory."""
    files: dict[str, str] = {}
    for topic in TOPICS:
        for event in topic.events:
            files[schema_path(event.TYPE)] = dump_json(event_schema(event))
    files[ASYNCAPI_FILE] = dump_yaml(asyncapi_document())
    return dict(sorted(files.items()))


def generate(out_dir: Path) -> list[Path]:
    """Write ``out_dir/schemas/<ce_type>.json`` and ``out_dir/asyncapi.yaml``; the paths written.

    ``out_dir`` is the directory of the ``contracts`` package by default (see ``main``).
    """
    written: list[Path] = []
    for relative, content in render().items():
        path = out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8"))
        written.append(path)
    return written


def check(out_dir: Path) -> list[str]:
    """What differs between ``out_dir`` and what would be generated; empty when up to date."""
    expected = render()
    problems: list[str] = []
    for relative, content in expected.items():
        path = out_dir / relative
        if not path.exists():
            problems.append(f"missing: {relative}")
        elif path.read_bytes() != content.encode("utf-8"):
            problems.append(f"out of date: {relative}")
    schemas_dir = out_dir / SCHEMAS_DIR
    if schemas_dir.is_dir():
        for path in sorted(schemas_dir.glob("*.json")):
            relative = f"{SCHEMAS_DIR}/{path.name}"
            if relative not in expected:
                problems.append(f"not in the registry any more: {relative}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m contracts.schemagen",
        description="Generate the event JSON Schemas and the AsyncAPI document.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when the committed files differ from the generated ones",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=PACKAGE_DIR,
        help="directory receiving schemas/ and asyncapi.yaml (default: the contracts package)",
    )
    args = parser.parse_args(argv)
    out_dir: Path = args.out
    if args.check:
        problems = check(out_dir)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("run: python -m contracts.schemagen", file=sys.stderr)
            return 1
        print(f"up to date: {len(render())} files in {out_dir}")
        return 0
    for path in generate(out_dir):
        print(f"wrote {path}")
    for problem in check(out_dir):  # only stale schemas can remain after writing
        print(f"warning: {problem}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
