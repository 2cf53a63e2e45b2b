"""Start-up without the broker (issue #12 item 17), as plain functions: retrying until the
broker answers, never giving up and without a log line per attempt; and what ``vbp run`` says
a service still waits for."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from services.launcher import _checks
from services.runtime.kafka import keep_trying


async def test_keep_trying_waits_for_a_late_broker_however_late_and_logs_rarely(
        caplog: pytest.LogCaptureFixture) -> None:
    attempts = 0
    seen: list[str] = []

    async def connect() -> str:
        nonlocal attempts
        attempts += 1
        if attempts <= 200:
            raise ConnectionRefusedError("nothing listens")
        return "connected"

    with caplog.at_level(logging.INFO, logger="vbp.kafka"):
        got = await keep_trying(connect, what="orders: producer", first_delay=0.0001,
                                max_delay=0.0005, log_every=3600,
                                on_failure=lambda exc: seen.append(str(exc)))
    assert got == "connected" and attempts == 201
    assert len(seen) == 200
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once, not 200 times
    assert "orders: producer" in warnings[0].getMessage()
    assert any("after 200 failed" in r.getMessage() for r in caplog.records)


async def test_keep_trying_gives_up_only_at_a_deadline_it_is_given() -> None:
    async def connect() -> None:
        raise ConnectionRefusedError("nothing listens")

    deadline = asyncio.get_running_loop().time() + 0.05
    with pytest.raises(ConnectionRefusedError):
        await keep_trying(connect, what="admin", first_delay=0.001, max_delay=0.01,
                          deadline=deadline)
    task = asyncio.create_task(keep_trying(connect, what="admin", first_delay=0.001,
                                           max_delay=0.01))
    await asyncio.sleep(0.2)
    assert not task.done()  # without a deadline only cancellation ends it
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_keep_trying_does_not_retry_what_it_is_not_told_to() -> None:
    async def broken() -> None:
        raise AssertionError("a bug, not a late broker")

    with pytest.raises(AssertionError):
        await keep_trying(broken, what="x", retry_on=(ConnectionError,))


def test_vbp_run_says_what_a_service_waits_for() -> None:
    body = {"type": "urn:vbp:problem:not-ready", "status": 503,
            "checks": {"database": "ok", "kafka": "unavailable: connecting (KafkaConnectionError)"}}
    assert _checks(httpx.Response(503, json=body)) == \
        "kafka: unavailable: connecting (KafkaConnectionError)"
    assert _checks(httpx.Response(502, text="<html>bad gateway</html>")) == "HTTP 502"
