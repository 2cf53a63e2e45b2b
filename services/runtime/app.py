"""The app factory every service is built with.

``create_app(spec, settings)`` returns a FastAPI app whose lifespan migrates the database and
then serves, while (roles ``all`` and ``worker``) a background task connects Kafka: topics,
producer, outbox relay, the service's consumers, retried until the broker answers. On shutdown
it stops the consumers (finishing the record in hand and committing its offset), drains the
relay and closes everything. Nothing connects at import time.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.runtime import logs, metrics, openapi, problems
from services.runtime.audit import AuditTrail
from services.runtime.audit import router as audit_router
from services.runtime.auth import TokenVerifier
from services.runtime.clock import Clock, clock_from_settings
from services.runtime.consumer import ConsumerSpec, EventConsumer
from services.runtime.db import UnitOfWork, is_postgres, make_engine
from services.runtime.direct import DirectRoute, DirectRoutes, check_twins
from services.runtime.groupcommit import GroupCommit
from services.runtime.i18n import Localise
from services.runtime.kafka import ensure_topics, keep_trying, make_producer, stop_producer
from services.runtime.migrate import upgrade
from services.runtime.outbox import BacklogSampler, OutboxRelay
from services.runtime.problems import Problem
from services.runtime.ratelimit import Limits
from services.runtime.scheduler import ScheduledJob, Scheduler
from services.runtime.settings import Settings
from services.runtime.texts import text as worded_text
from services.runtime.tracing import child_of, request_id_var, traceparent_var

log = logging.getLogger("vbp.app")
T = TypeVar("T")


@dataclass(frozen=True)
class ServiceSpec:
    """What makes a service: its name, tables, migrations, routes, consumers and topics."""

    name: str
    metadata: MetaData
    migrations: Path
    routers: Sequence[APIRouter] = ()
    consumers: Sequence[ConsumerSpec] = ()
    publishes: Sequence[str] = ()
    title: str = ""
    version: str = "0.1.0"
    extra_state: Callable[[Runtime], dict[str, Any]] | None = None
    direct: Sequence[DirectRoute] = ()
    """Hot endpoints also served without FastAPI's per-request machinery (runtime/direct.py)."""
    telemetry: Callable[[Runtime], Awaitable[None]] | None = None
    """Reads the service's business metrics from its database before /metrics answers
    (services/<name>/telemetry.py); run by the process that relays (role all or worker)."""
    schedules: Sequence[ScheduledJob] = ()
    """Clock-driven jobs, run by one leader per service (runtime/scheduler.py)."""


@dataclass
class Runtime:
    """The wired dependencies of a running service (``app.state.runtime``)."""

    spec: ServiceSpec
    settings: Settings
    clock: Clock
    verifier: TokenVerifier
    engine: AsyncEngine | None = None
    reader: AsyncEngine | None = None
    producer: AIOKafkaProducer | None = None
    relay: OutboxRelay | None = None
    consumers: list[EventConsumer] = field(default_factory=list)
    backlog: BacklogSampler | None = None
    state: dict[str, Any] = field(default_factory=dict)
    writes: GroupCommit = field(init=False)
    _sampler: Callable[[], Awaitable[None]] | None = field(default=None, init=False)
    scheduler: Scheduler | None = None
    _kafka_task: asyncio.Task[None] | None = field(default=None, init=False, repr=False)
    _kafka_status: str = field(default="connecting", init=False, repr=False)
    _spare_producers: list[AIOKafkaProducer] = field(default_factory=list, init=False,
                                                     repr=False)

    def __post_init__(self) -> None:
        self.writes = GroupCommit(self.uow, service=self.spec.name,
                                  linger_s=self.settings.group_commit_linger_s)

    @property
    def source(self) -> str:
        return f"/vbp/{self.spec.name}"

    def uow(self) -> UnitOfWork:
        assert self.engine is not None
        return UnitOfWork(
            self.engine, clock=self.clock, source=self.source,
            on_commit=self.relay.wake if self.relay else None,
            notify=self.settings.role == "api" and is_postgres(self.engine),
        )

    async def start(self) -> None:
        """What must hold before the first request: the database, migrated. Then the process
        serves (``/healthz`` at once) while a background task connects Kafka.

        A database that is down fails the start (the process exits, to be restarted): every
        role needs it for every request, and its schema must be migrated before the first
        one. Kafka that is down does not: the ``api`` role never touches it (its commits wake
        the worker's relay through PostgreSQL NOTIFY), and the others keep trying in the
        background, with ``/readyz`` answering 503 naming ``kafka`` until they are through."""
        s = self.settings
        self.engine = make_engine(s.database_url)
        metrics.watch_pool(self.spec.name, self.engine)
        # reads need no transaction: each statement is its own snapshot under READ COMMITTED
        # anyway, and BEGIN/ROLLBACK would cost two round trips per request
        self.reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        await upgrade(self.engine, self.spec.migrations)
        relays = s.role != "api"  # the api role serves HTTP only: no producer, relay, consumers
        metrics.start_at_zero(
            self.spec.name, relays=relays, publishes=self.spec.publishes if relays else (),
            consumers={c.name: c.topics for c in self.spec.consumers} if relays else None)
        if self.spec.extra_state is not None:
            self.state.update(self.spec.extra_state(self))
        if not relays:
            return
        self.backlog = BacklogSampler(self.engine, service=self.spec.name, clock=self.clock,
                                      interval=s.outbox_sample_interval_s)
        self.backlog.start()
        # clock-driven jobs (runtime/scheduler.py): only where the service relays and consumes
        if self.spec.schedules:
            self.scheduler = Scheduler(self.spec.schedules, service=self.spec.name,
                                       engine=self.engine, clock=self.clock, uow=self.uow)
            await self.scheduler.start()
        if self.spec.telemetry is not None:  # business metrics, sampled where the relay runs
            self._sampler = functools.partial(self.spec.telemetry, self)
            metrics.add_sampler(self.spec.name, self._sampler)
        self._kafka_task = asyncio.create_task(self._connect_kafka(),
                                               name=f"{self.spec.name}-kafka-connect")

    @property
    def kafka_connected(self) -> bool:
        """Topics created, producer, relay and consumers started (roles ``all``/``worker``)."""
        task = self._kafka_task
        return task is not None and task.done() and not task.cancelled() \
            and task.exception() is None

    async def _connect_kafka(self) -> None:
        """Topics, the producer, the relay and the consumers, each retried with capped backoff
        for as long as it takes (a late broker is waited for, never a reason to exit)."""
        s = self.settings
        name = self.spec.name
        engine = self.engine
        assert engine is not None

        def failed(exc: Exception) -> None:
            self._kafka_status = f"connecting ({exc.__class__.__name__}: {exc})"

        async def retried(attempt: Callable[[], Awaitable[T]], what: str) -> T:
            return await keep_trying(attempt, what=f"{name}: {what}", on_failure=failed,
                                     max_delay=s.kafka_retry_max_s)

        topics = sorted(set(self.spec.publishes) | {t for c in self.spec.consumers
                                                     for t in c.topics})
        await retried(lambda: ensure_topics(
            s.kafka_bootstrap_servers, topics, partitions=s.kafka_partitions, timeout=0,
            replication_factor=s.kafka_replication_factor,
            min_insync_replicas=s.kafka_min_insync_replicas), "creating topics")
        self.producer = await retried(self._start_producer, "producer")
        relay = OutboxRelay(
            engine, self.producer, service=name, clock=self.clock,
            batch_size=s.relay_batch_size, interval=s.relay_interval_s,
            gather_s=s.relay_gather_s, send_timeout=s.relay_send_timeout_s,
            listen=s.role == "worker" and is_postgres(engine), renew=self._renew_producer,
            bootstrap_servers=s.kafka_bootstrap_servers,
        )
        await retried(relay.start, "outbox relay")
        self.relay = relay
        for consumer_spec in self.spec.consumers:
            consumer = EventConsumer(
                consumer_spec, service=name, engine=engine,
                clock=self.clock, bootstrap_servers=s.kafka_bootstrap_servers,
                dlt_producer=self.producer, on_commit=relay.wake,
                max_retries=s.consumer_max_retries, backoff=s.consumer_backoff_s,
                batch_size=s.consumer_batch_size, instance_id=s.consumer_instance_id,
            )
            self.consumers.append(consumer)  # stopped by stop(), even half started
            await retried(consumer.start, f"consumer {consumer_spec.name}")
        self._kafka_status = "ok"
        log.info("%s: Kafka connected (topics, producer, relay, %d consumer(s))", name,
                 len(self.consumers))

    async def _start_producer(self) -> AIOKafkaProducer:
        producer = make_producer(self.settings.kafka_bootstrap_servers,
                                 f"vbp-{self.spec.name}")
        try:
            await producer.start()
        except BaseException:  # a failed or cancelled start: a fresh producer next time
            await producer.stop()
            raise
        return producer

    async def _renew_producer(self, broken: AIOKafkaProducer) -> AIOKafkaProducer:
        """A fresh producer for the relay after a fatal idempotence error; the broken one is
        kept for the consumers' dead letters until the process stops."""
        fresh = await self._start_producer()
        self._spare_producers.append(fresh)
        return fresh

    async def stop(self) -> None:
        if self._sampler is not None:
            metrics.remove_sampler(self.spec.name, self._sampler)
        if self.scheduler is not None:  # runtime/scheduler.py
            await self.scheduler.stop()
        if self._kafka_task is not None:  # still connecting: give up on it
            self._kafka_task.cancel()
            await asyncio.gather(self._kafka_task, return_exceptions=True)
            self._kafka_task = None
        await self.writes.stop()
        for consumer in self.consumers:
            await consumer.stop()
        self.consumers.clear()
        if self.relay is not None:
            await self.relay.stop()
        if self.backlog is not None:
            await self.backlog.stop()
        if self.producer is not None:
            await stop_producer(self.producer)
        for producer in self._spare_producers:
            await stop_producer(producer)
        self._spare_producers.clear()
        if self.engine is not None:
            await self.engine.dispose()

    async def readiness(self) -> dict[str, str]:
        """What this process's role needs: its database (every role), and Kafka connected
        and answering (``all`` and ``worker``, which relay and consume)."""
        checks: dict[str, str] = {}
        try:
            assert self.engine is not None
            async with self.engine.connect() as conn:
                await asyncio.wait_for(conn.execute(text("SELECT 1")), 3)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unavailable: {exc.__class__.__name__}"
        if self.settings.role == "api":
            return checks
        if not self.kafka_connected or self.producer is None:
            checks["kafka"] = f"unavailable: {self._kafka_status}"
            return checks
        try:
            await asyncio.wait_for(self.producer.client.fetch_all_metadata(), 3)
            checks["kafka"] = "ok"
        except Exception as exc:
            checks["kafka"] = f"unavailable: {exc.__class__.__name__}"
        return checks


# Dependencies are ``async def``: a plain ``def`` would make FastAPI hop to a worker thread
# for each of them on every request.
async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_uow(runtime: RuntimeDep) -> UnitOfWork:
    return runtime.uow()


async def get_clock(runtime: RuntimeDep) -> Clock:
    return runtime.clock


async def get_engine(runtime: RuntimeDep) -> AsyncEngine:
    assert runtime.reader is not None
    return runtime.reader


async def get_writes(runtime: RuntimeDep) -> GroupCommit:
    return runtime.writes


DATABASE: frozenset[Callable[..., Any]] = frozenset({get_uow, get_engine, get_writes})
"""The dependencies that reach the database (their routes may answer 503)."""
UoW = Annotated[UnitOfWork, Depends(get_uow)]
Writes = Annotated[GroupCommit, Depends(get_writes)]
"""Idempotent writes applied together with the others queued at the same time."""
ClockDep = Annotated[Clock, Depends(get_clock)]
Engine = Annotated[AsyncEngine, Depends(get_engine)]
"""For routes that only read: statements autocommit. Changes go through ``UoW``."""


class _BodyTooLarge(Exception):
    pass


class _RequestContext:
    """Pure ASGI middleware: request id, trace context, body-size cap (also for bodies sent
    without Content-Length) and RED metrics for every request.

    It also answers the failures no handler turned into a problem, while the request's id and
    trace context are still set (Starlette's own catch-all runs outside it, logged every error
    twice with ``request_id: null``, answered without ``x-request-id`` and closed the client's
    connection): a database that cannot be reached is a 503 with ``Retry-After``, logged once
    per outage (``problems.Outage``); anything else one ERROR line with the traceback and a
    500 problem carrying the request id."""

    def __init__(self, app: ASGIApp, service: str, max_body: int,
                 direct: DirectRoutes, outage: problems.Outage,
                 database_routes: frozenset[str] = frozenset()) -> None:
        self._app = app
        self._service = service
        self._max_body = max_body
        self._direct = direct
        self._outage = outage
        self._database_routes = database_routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        # the first of repeated headers, as Starlette's ``Request.headers.get`` reads them
        headers = {k.decode("latin-1"): v.decode("latin-1")
                   for k, v in reversed(scope["headers"])}
        request_id = headers.get("x-request-id") or uuid.uuid4().hex
        traceparent = child_of(headers.get("traceparent"))
        rid_token = request_id_var.set(request_id)
        tp_token = traceparent_var.set(traceparent)
        started = time.perf_counter()
        status = 500
        started_response = False
        received = 0
        direct = self._direct.match(scope)

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._max_body:
                    raise _BodyTooLarge
            return message

        async def tagged_send(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status = message["status"]
                started_response = True
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", request_id.encode()),
                                      (b"traceparent", traceparent.encode())]
            await send(message)

        try:
            length = headers.get("content-length", "")
            if length.isdigit() and int(length) > self._max_body:
                raise _BodyTooLarge
            if "\x00" in scope["path"] or b"%00" in scope["query_string"]:
                refused = problems.nul_in_parameters(scope["path"], scope["query_string"])
                if refused is not None:
                    await problems.problem_response(refused, instance=scope["path"])(
                        scope, receive, tagged_send)
                    return
            if direct is not None:
                await self._direct.serve(direct, headers, scope, capped_receive, tagged_send,
                                         self._app)
            else:
                await self._app(scope, capped_receive, tagged_send)
        except _BodyTooLarge:
            response = problems.problem_response(Problem(
                413, "body-too-large", "Request body too large",
                worded_text("at most {limit} bytes", limit=self._max_body)))
            await response(scope, receive, tagged_send)
        except Exception as exc:
            if problems.is_unavailable(exc):
                self._outage.failed(exc)
                problem = problems.unavailable()
            elif (refused := problems.bad_value(exc)) is not None:
                log.info("a value the contracts let through was refused by the database on "
                         "%s %s: %s", scope["method"], scope["path"], refused.detail)
                problem = refused
            else:
                log.exception("unhandled error on %s %s", scope["method"], scope["path"])
                problem = problems.internal(request_id)
            if started_response:  # too late for a problem: the client sees the body cut
                return
            await problems.problem_response(problem, instance=scope["path"])(
                scope, receive, tagged_send)
        finally:
            path = direct.path if direct is not None else getattr(scope.get("route"), "path",
                                                                  "unmatched")
            if status < 500 and self._outage.active and (
                    direct is not None or path in self._database_routes):
                self._outage.recovered()
            request_id_var.reset(rid_token)
            traceparent_var.reset(tp_token)
            metrics.HTTP_REQUESTS.labels(self._service, scope["method"], path,
                                         str(status)).inc()
            metrics.HTTP_DURATION.labels(self._service, scope["method"], path).observe(
                time.perf_counter() - started)


def operation_id(route: APIRoute) -> str:
    """A route's OpenAPI operationId is its endpoint's name (``place_order``): what a
    generated client calls the operation (``vbp clients``). Names are unique per service
    (``openapi.check_unique_operation_ids``)."""
    return route.name


def create_app(
    spec: ServiceSpec,
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    configure_logging: bool = True,
) -> FastAPI:
    settings = settings or Settings.for_service(spec.name)
    runtime = Runtime(
        spec=spec, settings=settings,
        clock=clock or clock_from_settings(settings.clock_epoch_sim, settings.clock_epoch_wall,
                                           settings.clock_rate),
        verifier=TokenVerifier.from_settings(settings),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if configure_logging:
            logs.configure(spec.name, settings.log_level)
        await runtime.start()
        # what start-up built (models, routes, statements, metadata) lives as long as the
        # process: kept out of the collector's sight, full collections have less to walk
        gc.collect()
        gc.freeze()
        log.info("%s started", spec.name)
        try:
            yield
        finally:
            await runtime.stop()
            log.info("%s stopped", spec.name)

    app = FastAPI(title=spec.title or f"VBP {spec.name}", version=spec.version,
                  lifespan=lifespan, generate_unique_id_function=operation_id)
    app.state.runtime = runtime
    problems.install(app)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers (nothing else is checked)."""
        return {"status": "alive", "service": spec.name}

    @app.get("/readyz", tags=["ops"], responses={503: {"description": "not ready: 'checks' "
                                                                      "says what is not"}})
    async def readyz(rt: RuntimeDep) -> Response:
        """Readiness: 200 when the database and Kafka are reachable; 503 names what is not."""
        checks = await rt.readiness()
        ready = all(v == "ok" for v in checks.values())
        if ready:
            return JSONResponse({"status": "ready", "checks": checks})
        return problems.problem_response(
            Problem(503, "not-ready", "Service not ready", checks=checks))

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    async def metrics_endpoint() -> Response:
        await metrics.sample()
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in spec.routers:
        app.include_router(router)
    app.include_router(audit_router)  # GET /v1/audit, regulators (issue #17)
    openapi.install(app, database=DATABASE)
    # a direct route's FastAPI twin must do nothing the direct path skips (refuse to start)
    check_twins(openapi.api_routes(app), spec.direct, plumbing=(get_writes, get_runtime))
    app.add_middleware(_RequestContext, service=spec.name, max_body=settings.max_body_bytes,
                       direct=DirectRoutes(spec.direct, runtime.verifier, runtime.writes),
                       outage=problems.Outage(spec.name),
                       database_routes=openapi.database_routes(app, DATABASE))
    # security (issue #17): per-org rate limits and the request timeout, then the audit record
    # of every write, both outside the request context so that direct routes are covered too
    app.add_middleware(Limits, runtime=runtime)
    app.add_middleware(AuditTrail, runtime=runtime)
    app.add_middleware(Localise)  # outermost: every problem, 429s and timeouts too
    return app

