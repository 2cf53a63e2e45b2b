"""Group commit: idempotent writes that arrive while a transaction is in flight share the next.

On its own, one POST costs at least five round trips to PostgreSQL (BEGIN, the
Idempotency-Key lookup, the action's reads and writes, the outbox rows with the key row,
COMMIT), three of them bookkeeping. Under load requests queue up anyway; ``GroupCommit`` takes
what is queued (up to ``max_batch``) into one transaction: one BEGIN, one key lookup for all,
each action in turn (each sees the ones before it, exactly as if they had run one after the
other), one statement for all the outbox and key rows (``UnitOfWork.commit``), one COMMIT.
Before a transaction starts it waits ``linger_s`` (``VBP_GROUP_COMMIT_LINGER_S``) for the
requests arriving meanwhile, as a Kafka producer lingers: a few milliseconds more per request,
for fewer and fuller transactions (at 300 orders/s, 3 ms halves the transactions).

Each request still gets its own outcome, and no outcome leaks into another's commit:
- a stored response for its key is replayed, a key reused with another body is refused (422);
- a second request with a key already in the batch waits for the batch and is then replayed;
- an action that raises a ``Problem`` (a 4xx) gets it, the transaction is rolled back and the
  batch re-run without it, so nothing half-written by a refused request is committed;
- any other failure (a request with the same key committed by another process meanwhile, the
  database going away) re-runs each request of the batch on its own through
  ``IdempotentRequest.run``, which handles it as it always has.

A route whose action can be applied to many requests at once (``run_batched``: one query and
one insert for all instead of one each) gets consecutive requests of that action together; it
answers each with its result or the ``Problem`` refusing it, and a refused item writes nothing,
so a refusal costs the others nothing. Its requests may name a ``lock``: on PostgreSQL the
transaction takes an advisory lock per distinct name (all in one sorted order, so two batches
cannot deadlock) in the statement that looks the keys up, so requests naming the same lock are
decided one after the other across processes, at no extra round trip.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy import Integer, select, text, tuple_

from services.runtime import metrics
from services.runtime.db import UnitOfWork, idempotency_keys, is_postgres
from services.runtime.idempotency import EncodedJSON, IdempotentRequest, as_json
from services.runtime.problems import Problem

log = logging.getLogger("vbp.groupcommit")
saved = idempotency_keys.c
Action = Callable[[UnitOfWork], Awaitable[Any]]
BatchAction = Callable[[UnitOfWork, list[Any]], Awaitable[list[Any]]]
"""Applies many items in one unit of work: one outcome per item, in order, a result or the
``Problem`` refusing the item (which must then have written nothing)."""
LOCK_SPACE = 4
"""The advisory-lock key space of the locks requests name (``pg_advisory_xact_lock(4, …)``)."""
LOCKED = text(
    "SELECT count(pg_advisory_xact_lock(:space, h)) AS n FROM (SELECT DISTINCT hashtext(l) AS h"
    " FROM unnest(CAST(:locks AS text[])) AS l ORDER BY h) AS sorted"
).columns(n=Integer).subquery("locked")
"""Takes the named locks, in one order (one row)."""


@dataclass(eq=False)
class _Request:
    idem: IdempotentRequest
    principal: str
    action: Action
    status_code: int
    batch: BatchAction | None = None
    item: Any = None
    lock: str | None = None
    future: asyncio.Future[JSONResponse] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())

    @property
    def key(self) -> tuple[str, str] | None:
        return None if self.idem.key is None else (self.principal, self.idem.key)

    def answer(self, response: JSONResponse) -> None:
        if not self.future.done():  # the client may have gone: the write stands, unanswered
            self.future.set_result(response)

    def refuse(self, exc: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exc)


class GroupCommit:
    def __init__(self, uow: Callable[[], UnitOfWork], *, service: str, max_batch: int = 32,
                 linger_s: float = 0.0) -> None:
        self._uow = uow
        self._linger = linger_s
        self._service = service
        self._max_batch = max_batch
        self._queue: deque[_Request] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._batch: list[_Request] = []

    async def run(self, idem: IdempotentRequest, principal: str, action: Action, *,
                  status_code: int = 201) -> JSONResponse:
        """What ``idem.run(uow, principal, action)`` does, sharing a transaction with the
        requests queued at the same time."""
        return await self._enqueue(_Request(idem, principal, action, status_code))

    async def run_batched(self, idem: IdempotentRequest, principal: str, batch: BatchAction,
                          item: Any, *, status_code: int = 201,
                          lock: str | None = None) -> JSONResponse:
        """``run`` for an action applied to ``item`` together with the other items of the same
        ``batch`` queued with it; ``lock``: what must not be decided by two transactions at
        once (held from before the action reads until the commit)."""
        async def alone(uow: UnitOfWork) -> Any:
            if lock is not None:
                await _locked_and_stored(uow, [lock], [])
            (outcome,) = await batch(uow, [item])
            if isinstance(outcome, Problem):
                raise outcome
            return outcome
        return await self._enqueue(_Request(idem, principal, alone, status_code, batch, item,
                                            lock))

    async def _enqueue(self, request: _Request) -> JSONResponse:
        self._queue.append(request)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="group-commit")
        self._wake.set()
        return await request.future

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for request in [*self._batch, *self._queue]:
            request.refuse(Problem(503, "shutting-down", "Service shutting down"))
        self._queue.clear()

    async def _loop(self) -> None:
        while True:
            while not self._queue:
                self._wake.clear()
                await self._wake.wait()
            if self._linger and len(self._queue) < self._max_batch:
                await asyncio.sleep(self._linger)
            self._batch = batch = [self._queue.popleft()
                                   for _ in range(min(len(self._queue), self._max_batch))]
            metrics.GROUP_COMMIT_SIZE.labels(self._service).observe(len(batch))
            try:
                await self._together(batch)
            except Exception as exc:
                if len(batch) > 1:
                    log.info("batch of %d failed (%s); applying each on its own",
                             len(batch), exc.__class__.__name__)
                for request in batch:
                    if not request.future.done():
                        await self._alone(request)

    async def _alone(self, request: _Request) -> None:
        try:
            request.answer(await request.idem.run(self._uow(), request.principal,
                                                  request.action,
                                                  status_code=request.status_code))
        except Exception as exc:
            request.refuse(exc)

    async def _together(self, batch: list[_Request]) -> None:
        keys: set[tuple[str, str]] = set()
        first_of_key, again = [], []
        for request in batch:  # a key used twice in one batch: the second replays the first
            if request.key is not None and request.key in keys:
                again.append(request)
            else:
                first_of_key.append(request)
                if request.key is not None:
                    keys.add(request.key)
        pending = first_of_key
        while pending:
            pending = await self._attempt(pending)
        for request in again:
            await self._alone(request)

    async def _attempt(self, pending: list[_Request]) -> list[_Request]:
        """One transaction for ``pending``; returns who must go again (after a refusal)."""
        uow = self._uow()
        async with uow:
            stored = await _locked_and_stored(
                uow, [r.lock for r in pending if r.lock is not None],
                [r.key for r in pending if r.key is not None])
            fresh: list[_Request] = []
            for request in pending:
                row = stored.get(request.key) if request.key is not None else None
                if row is None:
                    fresh.append(request)
                    continue
                try:
                    request.answer(request.idem.replay(row))
                except Problem as reused:
                    request.refuse(reused)
            done: list[tuple[_Request, str]] = []
            for _, run in groupby(fresh, key=lambda r: r.batch or r):
                together = list(run)
                batch = together[0].batch
                if batch is not None:  # a batch action: one call, an outcome each
                    outcomes = await batch(uow, [r.item for r in together])
                    for request, outcome in zip(together, outcomes, strict=True):
                        if isinstance(outcome, Problem):
                            request.refuse(outcome)
                        else:
                            done.append((request, as_json(outcome)))
                    continue
                request = together[0]
                try:
                    body = as_json(await request.action(uow))
                except Problem as problem:
                    await uow.rollback()
                    request.refuse(problem)
                    return [r for r in pending if not r.future.done()]
                done.append((request, body))
            now = uow.clock.now()
            remembered = [r.idem.remembered(r.principal, r.status_code, body, now)
                          for r, body in done if r.idem.key is not None]
            uow.remember(remembered)
            await uow.commit()
        for request, body in done:
            request.answer(EncodedJSON(body, status_code=request.status_code))
        return []


async def _locked_and_stored(uow: UnitOfWork, locks: list[str], keys: list[tuple[str, str]]
                             ) -> dict[Any, Any]:
    """Take the ``locks`` (PostgreSQL; SQLite has one writer anyway), and the stored responses
    of ``keys``."""
    if not keys and not locks:
        return {}
    # an index lookup per key, whatever the statistics
    wanted = tuple_(saved.principal, saved.key).in_(keys)
    query = select(saved.principal, saved.key, saved.route, saved.request_hash,
                   saved.status_code, saved.response)
    if is_postgres(uow.conn):  # one row at least, all NULL when no key is stored
        rows = (await uow.conn.execute(
            query.select_from(LOCKED.outerjoin(idempotency_keys, wanted)),
            {"space": LOCK_SPACE, "locks": locks})).all()
    elif keys:
        rows = (await uow.conn.execute(query.where(wanted))).all()
    else:
        return {}
    return {(row.principal, row.key): row for row in rows if row.principal is not None}
