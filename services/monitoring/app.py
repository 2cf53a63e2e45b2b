"""Monitoring wiring: tables, routes, consumers of every service's topics, refusals as
problem+json."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from contracts.monitoring import CREDIT_TOPIC, REPORTS_TOPIC
from services.monitoring import api, handlers, store
from services.monitoring.errors import Refusal, problem
from services.runtime.app import ServiceSpec
from services.runtime.app import create_app as build
from services.runtime.clock import Clock
from services.runtime.problems import problem_response
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


async def _on_refusal(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refusal)
    return problem_response(problem(exc), request)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The monitoring app; ``clock`` for tests and simulations (default: the system clock)."""
    app = build(SPEC, settings, clock=clock)
    app.add_exception_handler(Refusal, _on_refusal)
    return app
