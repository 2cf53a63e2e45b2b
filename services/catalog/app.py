"""Catalog wiring."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from contracts.catalog import LISTINGS_TOPIC, PROGRAMS_TOPIC
from services.catalog import api, handlers, store, telemetry
from services.runtime.app import ServiceSpec
from services.runtime.app import create_app as build
from services.runtime.settings import Settings

SPEC = ServiceSpec(
    name="catalog",
    title="VBP catalog: programs, winning products, listings",
    metadata=store.metadata,
    migrations=Path(__file__).parent / "migrations",
    routers=[api.router],
    consumers=handlers.CONSUMERS,
    publishes=[PROGRAMS_TOPIC, LISTINGS_TOPIC],
    telemetry=telemetry.sample,  # business metrics for operators (issue 16)
)


def create_app(settings: Settings | None = None) -> FastAPI:
    return build(SPEC, settings)
