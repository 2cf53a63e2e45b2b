"""Clock-driven jobs: deadlines that fire by themselves.

A service lists its jobs in ``ServiceSpec.schedules``; the Runtime starts a ``Scheduler`` in
the processes that relay and consume (roles ``all`` and ``worker``). One instance per service
leads, through a PostgreSQL session advisory lock held on a connection of its own (on SQLite,
one process: always the leader); the others keep trying, so a leader that dies is replaced.

Time is the injectable clock's: a job runs when ``clock.now()`` has reached its next run, and
is given that ``now``. The loop looks every ``poll_s`` real seconds, so a test or a simulation
that moves a ``FixedClock`` sees the jobs run within a poll; ``tick()`` runs what is due at
once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.runtime.clock import Clock
from services.runtime.db import UnitOfWork, is_postgres

log = logging.getLogger("vbp.scheduler")

Job = Callable[[Callable[[], UnitOfWork], datetime], Awaitable[Any]]
"""A job: given a unit-of-work factory and the clock's now, does what is due (idempotently:
running it twice at the same instant finds nothing the second time)."""


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    job: Job
    every: timedelta = timedelta(minutes=1)
    """Business time between runs (by the injectable clock)."""


def leader_lock_key(service: str) -> int:
    """The advisory lock id of a service's scheduler (a signed 64-bit number)."""
    digest = hashlib.sha256(f"vbp-scheduler:{service}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Scheduler:
    def __init__(self, jobs: Sequence[ScheduledJob], *, service: str, engine: AsyncEngine,
                 clock: Clock, uow: Callable[[], UnitOfWork], poll_s: float = 1.0) -> None:
        self._jobs = list(jobs)
        self._service = service
        self._engine = engine
        self._clock = clock
        self._uow = uow
        self._poll_s = poll_s
        self._last: dict[str, datetime] = {}
        self._lock_conn: AsyncConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self.runs: dict[str, int] = {j.name: 0 for j in self._jobs}

    @property
    def leading(self) -> bool:
        return self._lock_conn is not None or not is_postgres(self._engine)

    async def _lead(self) -> bool:
        """Take (or keep) the leadership: a session advisory lock on a held connection."""
        if not is_postgres(self._engine) or self._lock_conn is not None:
            return True
        conn = await self._engine.connect()
        try:
            got = (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                      {"k": leader_lock_key(self._service)})).scalar()
            await conn.commit()
        except Exception:
            await conn.close()
            raise
        if got:
            self._lock_conn = conn
            log.info("%s scheduler leads", self._service)
            return True
        await conn.close()
        return False

    async def tick(self) -> dict[str, Any]:
        """Run every job whose time has come (by the clock); returns their results."""
        if not await self._lead():
            return {}
        now = self._clock.now()
        results: dict[str, Any] = {}
        for job in self._jobs:
            last = self._last.get(job.name)
            if last is not None and last <= now < last + job.every:
                continue  # (a clock set back, as a simulation may, runs the job again)
            results[job.name] = await job.job(self._uow, now)
            self.runs[job.name] += 1
            self._last[job.name] = now
        return results

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s scheduler: a job failed; retried at the next poll",
                              self._service)
                await self._release()
            await asyncio.sleep(self._poll_s)

    async def start(self) -> None:
        if self._jobs and self._task is None:
            self._task = asyncio.create_task(self._loop(), name=f"{self._service}-scheduler")

    async def _release(self) -> None:
        conn, self._lock_conn = self._lock_conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()  # closing the session releases its advisory lock

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._release()
