"""Orders wiring."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from contracts.orders import AGREEMENTS_TOPIC, ORDERS_TOPIC
from services.orders import api, handlers, store, telemetry
from services.runtime.app import ServiceSpec
from services.runtime.app import create_app as build
from services.runtime.clock import Clock
from services.runtime.settings import Settings

SPEC = ServiceSpec(
    name="orders",
    title="VBP orders: agreements, renewals, purchase orders, acceptance, pacing",
    metadata=store.metadata,
    migrations=Path(__file__).parent / "migrations",
    routers=[api.router],
    consumers=handlers.CONSUMERS,
    publishes=[AGREEMENTS_TOPIC, ORDERS_TOPIC],
    direct=api.DIRECT,
    telemetry=telemetry.sample,  # business metrics for operators (issue 16)
)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The orders app; ``clock`` for tests and simulations (default: the system clock)."""
    return build(SPEC, settings, clock=clock)
