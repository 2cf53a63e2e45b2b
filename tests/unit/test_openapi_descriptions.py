"""Every route, parameter and field of the five OpenAPI documents has a description and an
example (issue #17): what an integrator reads before writing a line. The failure names each
route, parameter and field still missing one.

A field that is a nested object, or a list of them, is exemplified by its own schema's fields;
every other field carries an example."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from services.runtime.openapi import has_example, needs_example

SERVICES = ("catalog", "orders", "supply", "payments", "monitoring")


def document(service: str) -> dict[str, Any]:
    return importlib.import_module(f"services.{service}.app").create_app().openapi()  # type: ignore[no-any-return]


def missing(doc: dict[str, Any]) -> list[str]:
    components = doc["components"]["schemas"]
    out: list[str] = []
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            route = f"{method.upper()} {path}"
            if not op.get("summary") or not op.get("description"):
                out.append(f"{route}: description")
            for param in op.get("parameters", ()):
                where = f"{route} {param['in']} {param['name']}"
                if not param.get("description"):
                    out.append(f"{where}: description")
                if not has_example(param) and not has_example(param.get("schema", {})):
                    out.append(f"{where}: example")
            for status, response in op.get("responses", {}).items():
                if not response.get("description"):
                    out.append(f"{route} {status}: description")
    for name, model in components.items():
        for field, node in model.get("properties", {}).items():
            if not node.get("description"):
                out.append(f"{name}.{field}: description")
            if not has_example(node) and needs_example(node, components):
                out.append(f"{name}.{field}: example")
    return out


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_parameter_and_field_is_described_with_an_example(service: str) -> None:
    assert missing(document(service)) == []


def test_the_check_can_fail() -> None:
    doc = {"paths": {"/x": {"get": {"summary": "X", "parameters": [
        {"name": "weird", "in": "query", "schema": {"type": "string"}}],
        "responses": {"200": {"description": "ok"}}}}},
        "components": {"schemas": {"M": {"properties": {
            "n": {"type": "integer"}, "sub": {"$ref": "#/components/schemas/S"}}},
            "S": {"type": "object", "properties": {}}}}}
    assert missing(doc) == ["GET /x: description", "GET /x query weird: description",
                            "GET /x query weird: example", "M.n: description", "M.n: example",
                            "M.sub: description"]
