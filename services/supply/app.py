"""Supply wiring (shell: its behaviour is issue #5)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.runtime.app import ServiceSpec
from services.runtime.app import create_app as build
from services.runtime.settings import Settings
from services.supply import store

SPEC = ServiceSpec(
    name="supply",
    title="VBP supply: distributors, assignments, routing, delivery",
    metadata=store.metadata,
    migrations=Path(__file__).parent / "migrations",
    publishes=["vbp.supply.assignments.v1", "vbp.supply.deliveries.v1"],
)


def create_app(settings: Settings | None = None) -> FastAPI:
    return build(SPEC, settings)
