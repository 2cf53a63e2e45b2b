"""The clock-driven scheduler (services/runtime/scheduler.py) on the real PostgreSQL: one
leader per service through an advisory lock, jobs run by the injectable clock, and a
follower taking over when the leader stops."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.runtime.clock import FixedClock
from services.runtime.db import UnitOfWork, make_engine
from services.runtime.scheduler import ScheduledJob, Scheduler

pytestmark = pytest.mark.integration


async def test_one_leader_runs_the_jobs_by_the_clock_and_a_follower_takes_over(
        database_url: str) -> None:
    engine = make_engine(database_url)
    clock = FixedClock(datetime(2024, 1, 31, 16, 0, tzinfo=UTC))
    seen: list[tuple[str, datetime]] = []

    def job(who: str) -> ScheduledJob:
        async def run(uow: object, now: datetime) -> int:
            seen.append((who, now))
            return len(seen)
        return ScheduledJob("check", run, timedelta(minutes=1))

    def uow() -> UnitOfWork:
        return UnitOfWork(engine, clock=clock, source="/vbp/test")

    first = Scheduler([job("first")], service="payments-test", engine=engine, clock=clock,
                      uow=uow)
    second = Scheduler([job("second")], service="payments-test", engine=engine, clock=clock,
                       uow=uow)
    other = Scheduler([job("other")], service="another-service", engine=engine, clock=clock,
                      uow=uow)
    try:
        assert await first.tick() == {"check": 1}
        assert await second.tick() == {}  # the lock is held: a follower runs nothing
        assert await other.tick() == {"check": 2}  # another service has its own leader
        assert await first.tick() == {}  # not due again until the clock moves a minute
        clock.advance(timedelta(seconds=59))
        assert await first.tick() == {}
        clock.advance(timedelta(seconds=1))
        assert await first.tick() == {"check": 3}
        await first.stop()  # the session ends, the lock is released
        assert await second.tick() == {"check": 4}
        assert [who for who, _ in seen] == ["first", "other", "first", "second"]
        assert seen[2][1] == datetime(2024, 1, 31, 16, 1, tzinfo=UTC)
    finally:
        await first.stop()
        await second.stop()
        await other.stop()
        await engine.dispose()
