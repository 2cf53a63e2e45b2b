"""An audit record of every write (issue #17): who (subject, role, organisation), what
(method, route template, status, object id where known), when (the injectable clock), from
which request id — in each service's own database (``audit_log``, runtime ``migrations_v4``),
queryable by regulators at ``GET /v1/audit``.

How it is written, and why so: ``AuditTrail`` is a pure ASGI middleware around the app. For a
write (POST, PUT, PATCH, DELETE) it notes the caller that ``auth.admit`` admitted, and when the
response has been sent it queues the record; ``AuditWriter`` inserts what is queued in one
statement per batch (every ``FLUSH_S`` or ``BATCH`` records, and at shutdown) on a connection
of its own. So a write costs no database round trip more, and no route, ``UnitOfWork`` or
``GroupCommit`` knows about auditing. The price: the record is not in the write's
transaction: a process killed (SIGKILL) within ``FLUSH_S`` of a write loses its record, and a
record is written for a write whose response was sent even if the client went away. A
graceful stop (SIGTERM) flushes. Requests refused before a caller was admitted (401) are
recorded with an empty subject: a refused write is also something a regulator may want to see.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import (
    Column,
    Index,
    Integer,
    String,
    Table,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.runtime.auth import Principal, authorize, caller_var
from services.runtime.clock import Clock
from services.runtime.db import BigId, UTCDateTime, runtime_metadata
from services.runtime.problems import validation_problem
from services.runtime.texts import text

log = logging.getLogger("vbp.audit")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FLUSH_S = 0.2
BATCH = 500
MAX_QUEUE = 100_000
"""Beyond this many unwritten records (the database away for long) the oldest are dropped,
counted in the log: a service must not hold unbounded memory for its audit."""

audit_log = Table(
    "audit_log",
    runtime_metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("role", String(40), nullable=False),
    Column("org", String(200), nullable=False),
    Column("method", String(10), nullable=False),
    Column("route", String(300), nullable=False),
    Column("path", String(1000), nullable=False),
    Column("status", Integer, nullable=False),
    Column("object_id", String(200)),
    Column("request_id", String(200), nullable=False),
)
Index("ix_audit_log_org_at", audit_log.c.org, audit_log.c.at)
Index("ix_audit_log_subject_at", audit_log.c.subject, audit_log.c.at)
Index("ix_audit_log_at", audit_log.c.at)


class AuditWriter:
    """Queues audit records and inserts them in batches, off the requests' path."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._queue: deque[dict[str, Any]] = deque()
        self._engine: AsyncEngine | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.dropped = 0

    def add(self, engine: AsyncEngine, record: dict[str, Any]) -> None:
        self._engine = engine
        if len(self._queue) >= MAX_QUEUE:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(record)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="audit-writer")
        if len(self._queue) >= BATCH:
            self._wake.set()

    async def _loop(self) -> None:
        """Runs while records wait (a new one starts it again)."""
        failures = 0
        while self._queue:
            try:
                await asyncio.wait_for(self._wake.wait(), FLUSH_S)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.flush()
                failures = 0
            except Exception as exc:  # the database away: keep the records, try again
                failures += 1
                log.warning("%d audit records not written yet (%s)", len(self._queue),
                            exc.__class__.__name__)
                if failures >= 30:
                    return
                await asyncio.sleep(1.0)

    async def flush(self) -> None:
        while self._queue and self._engine is not None:
            batch = [self._queue[i] for i in range(min(BATCH, len(self._queue)))]
            async with self._engine.begin() as conn:
                await conn.execute(insert(audit_log), batch)
            for _ in batch:
                self._queue.popleft()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        try:
            await self.flush()
        except Exception:
            log.exception("%d audit records lost at shutdown", len(self._queue))
        if self.dropped:
            log.error("%d audit records dropped (queue full)", self.dropped)


def _object_id(scope: Scope, body: bytes) -> str | None:
    """The object a write was about: its path parameters, else the id the response names
    (``…_id`` at the top of a created object)."""
    params = scope.get("path_params") or {}
    if params:
        return "/".join(str(v) for v in params.values())[:200]
    if not body or body[:1] != b"{":
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    for key, value in data.items():
        if (key == "id" or key.endswith("_id")) and isinstance(value, str | int):
            return str(value)[:200]
    return None


class AuditTrail:
    """Pure ASGI middleware: an ``audit_log`` record per write request (see the module)."""

    def __init__(self, app: ASGIApp, runtime: Any) -> None:
        self._app = app
        self._runtime = runtime
        self.writer = AuditWriter(runtime.clock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._app(scope, self._flushing(receive), send)
            return
        if scope["type"] != "http" or scope["method"] not in WRITES:
            await self._app(scope, receive, send)
            return
        callers: list[Principal] = []
        token = caller_var.set(callers)
        status, request_id, body = 500, "", b""

        async def noting_send(message: Message) -> None:
            nonlocal status, request_id, body
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"x-request-id":
                        request_id = value.decode("latin-1")
            elif message["type"] == "http.response.body" and len(body) < 65536:
                body += message.get("body", b"")
            await send(message)

        try:
            await self._app(scope, receive, noting_send)
        finally:
            caller_var.reset(token)
            engine = self._runtime.engine
            if engine is not None:
                who = callers[-1] if callers else None
                route = getattr(scope.get("route"), "path", None) or scope["path"]
                self.writer.add(engine, {
                    "at": self.writer.clock.now(),
                    "subject": who.subject if who else "", "role": who.role if who else "",
                    "org": who.org if who else "", "method": scope["method"],
                    "route": route[:300], "path": scope["path"][:1000], "status": status,
                    "object_id": _object_id(scope, body) if status < 300 else
                    _object_id(scope, b""),
                    "request_id": request_id[:200],
                })

    def _flushing(self, receive: Receive) -> Receive:
        """Flush the queued records when the shutdown begins (the engine still open)."""
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await self.writer.stop()
            return message
        return wrapped


class AuditRecord(BaseModel):
    id: int
    at: datetime
    subject: str
    role: str
    org: str
    method: str
    route: str
    path: str
    status: int
    object_id: str | None
    request_id: str


class AuditPage(BaseModel):
    items: list[AuditRecord]
    next_cursor: int | None = Field(
        description="pass as `cursor` for the next page; null on the last")


router = APIRouter(tags=["audit"])
Regulator = Annotated[Principal, Depends(authorize("regulator"))]


@router.get("/v1/audit", response_model=AuditPage)
async def list_audit(
    request: Request, caller: Regulator,
    org: str | None = None, subject: str | None = None,
    since: Annotated[datetime | None, Query(description="at or after (RFC 3339)")] = None,
    until: Annotated[datetime | None, Query(description="before (RFC 3339)")] = None,
    cursor: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """Who wrote what, when, from which request: the regulator's view of this service's
    writes, oldest first, filtered by organisation, subject and time."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise validation_problem([{"loc": ("query", name),
                                       "msg": text("needs a UTC offset (RFC 3339)")}])
    runtime = request.app.state.runtime
    limit = min(limit, runtime.settings.max_page_size)
    a = audit_log.c
    query = select(audit_log).order_by(a.id).limit(limit + 1)
    if org is not None:
        query = query.where(a.org == org)
    if subject is not None:
        query = query.where(a.subject == subject)
    if since is not None:
        query = query.where(a.at >= since)
    if until is not None:
        query = query.where(a.at < until)
    if cursor is not None:
        query = query.where(a.id > cursor)
    async with runtime.reader.connect() as conn:
        rows = (await conn.execute(query)).all()
    items = [AuditRecord.model_validate(row._asdict()) for row in rows[:limit]]
    return AuditPage(items=items, next_cursor=items[-1].id if len(rows) > limit else None)
