"""Monitoring wiring (shell)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.monitoring import store
from services.runtime.app import ServiceSpec
from services.runtime.app import create_app as build
from services.runtime.settings import Settings

SPEC = ServiceSpec(
    name="monitoring",
    title="VBP monitoring: credit, monthly monitoring, dashboards",
    metadata=store.metadata,
    migrations=Path(__file__).parent / "migrations",
    publishes=["vbp.monitoring.credit.v1", "vbp.monitoring.reports.v1"],
)


def create_app(settings: Settings | None = None) -> FastAPI:
    return build(SPEC, settings)
