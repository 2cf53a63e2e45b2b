"""Supply wiring."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from contracts.supply import ASSIGNMENTS_TOPIC, DELIVERIES_TOPIC
from services.runtime.app import ServiceSpec
from services.runtime.app import create_app as build
from services.runtime.clock import Clock
from services.runtime.settings import Settings
from services.supply import api, handlers, store, telemetry, waiting

SPEC = ServiceSpec(
    name="supply",
    title="VBP supply: distributors, assignments, routing, delivery",
    metadata=store.metadata,
    migrations=Path(__file__).parent / "migrations",
    routers=[api.router],
    consumers=handlers.CONSUMERS,
    publishes=[ASSIGNMENTS_TOPIC, DELIVERIES_TOPIC],
    telemetry=telemetry.sample,  # business metrics for operators (issue 16)
)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    app = build(SPEC, settings, clock=clock)
    waiting.install(app)
    return app
