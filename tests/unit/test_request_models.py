"""Request models forbid unknown fields (issue #17, OWASP API3 property level): no request can
set a status, price, amount, organisation or id the server owns by adding a field; events keep
``extra="ignore"`` (a consumer must read a newer producer's events)."""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Iterator
from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel

from contracts.base import Event

SERVICES = ("catalog", "orders", "supply", "payments", "monitoring")
CONTRACTS = ("catalog", "orders", "supply", "payments", "monitoring", "profiles")


def _routes(routes: Any) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router (FastAPI >= 0.160)
            yield from _routes(route.original_router.routes)
        elif hasattr(route, "routes"):
            yield from _routes(route.routes)


def _models(annotation: Any, found: set[type[BaseModel]]) -> None:
    """The models in ``annotation``, with the models of their fields."""
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        if annotation in found:
            return
        found.add(annotation)
        for info in annotation.model_fields.values():
            _models(info.annotation, found)
    for arg in typing.get_args(annotation):
        _models(arg, found)


def request_models() -> dict[str, set[type[BaseModel]]]:
    """Every model a route of a service reads a JSON body into (and their parts), by route,
    and every ``…In`` model of the contracts' HTTP API sections (some routes parse their body
    themselves: imports, direct routes)."""
    found: dict[str, set[type[BaseModel]]] = {}
    for name in SERVICES:
        app = importlib.import_module(f"services.{name}.app").create_app()
        for route in _routes(app.routes):
            if route.body_field is not None:
                models: set[type[BaseModel]] = set()
                _models(route.body_field.field_info.annotation, models)
                found[f"{name} {sorted(route.methods)} {route.path}"] = models
    for name in CONTRACTS:
        module = importlib.import_module(f"contracts.{name}")
        for attr, value in vars(module).items():
            if (inspect.isclass(value) and issubclass(value, BaseModel)
                    and value.__module__ == module.__name__ and attr.endswith("In")):
                models = set()
                _models(value, models)
                found[f"contracts.{name}.{attr}"] = models
    return found


def test_every_request_model_forbids_unknown_fields() -> None:
    found = request_models()
    everything = {m for models in found.values() for m in models}
    names = {m.__name__ for m in everything}
    assert {"OrderIn", "PaymentIn", "AssignmentIn", "CreditRecordIn", "ProgramIn",
            "WinningProductsIn", "FundPaymentsIn", "PolicyProfile"} <= names, names
    assert len(found) > 40, sorted(found)  # every body route of the five services
    lax = sorted(f"{where}: {m.__module__}.{m.__name__}" for where, models in found.items()
                 for m in models if m.model_config.get("extra") != "forbid")
    assert not lax, "request models that accept unknown fields:\n" + "\n".join(lax)


def test_events_ignore_unknown_fields() -> None:
    events = {cls for name in CONTRACTS
              for cls in vars(importlib.import_module(f"contracts.{name}")).values()
              if inspect.isclass(cls) and issubclass(cls, Event) and cls is not Event}
    assert len(events) > 20
    strict = sorted(e.__name__ for e in events if e.model_config.get("extra") != "ignore")
    assert not strict, strict
