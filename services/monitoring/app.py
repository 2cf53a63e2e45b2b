"""Monitoring wiring: tables, routes, consumers of every service's topics, refusals as
problem+json."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from contracts.monitoring import CREDIT_TOPIC, REPORTS_TOPIC
from services.monitoring import api, handlers, store
from services.runtime.app import ServiceSpec
from services.runtime.app import create_app as build
from services.runtime.clock import Clock
from services.runtime.settings import Settings

SPEC = ServiceSpec(
    name="monitoring",
    title="VBP monitoring: credit, monthly monitoring, assessment, disclosure",
    metadata=store.metadata,
    migrations=Path(__file__).parent / "migrations",
    routers=[api.router, api.public],
    consumers=handlers.CONSUMERS,
    publishes=[CREDIT_TOPIC, REPORTS_TOPIC],
)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The monitoring app; ``clock`` for tests and simulations (default: the system clock)."""
    return build(SPEC, settings, clock=clock)
