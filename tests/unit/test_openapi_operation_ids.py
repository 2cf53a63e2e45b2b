"""Every operation's id is its endpoint's name (what a generated client calls it), unique within
its service; routes that require an Idempotency-Key document it as a required header."""

from __future__ import annotations

import importlib
from collections import Counter
from typing import Any

import pytest

SERVICES = ("catalog", "orders", "supply", "payments", "monitoring")


def operations(service: str) -> list[tuple[str, str, dict[str, Any]]]:
    app = importlib.import_module(f"services.{service}.app").create_app()
    return [(method, path, op) for path, ops in app.openapi()["paths"].items()
            for method, op in ops.items() if isinstance(op, dict) and "operationId" in op]


@pytest.mark.parametrize("service", SERVICES)
def test_operation_ids_are_unique_endpoint_names(service: str) -> None:
    ids = Counter(op["operationId"] for _, _, op in operations(service))
    assert [i for i, n in ids.items() if n > 1] == []
    assert all(i.isidentifier() and i.islower() for i in ids), sorted(ids)


def test_the_order_placement_documents_its_required_key() -> None:
    placement = next(op for method, path, op in operations("orders")
                     if (method, path) == ("post", "/v1/orders"))
    assert placement["operationId"] == "place_order"
    header = next(p for p in placement["parameters"] if p["name"] == "Idempotency-Key")
    assert header["in"] == "header" and header["required"] is True
    assert "400" in placement["responses"]
