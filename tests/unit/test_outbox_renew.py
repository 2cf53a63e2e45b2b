"""The relay replaces a producer that cannot go on (an idempotent producer whose sequence
numbers no longer match a restarted broker's: a chaos run saw payments' relay fail every round
with OutOfOrderSequenceNumber and never recover)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import errors as kafka_errors

from services.runtime.clock import SystemClock
from services.runtime.outbox import OutboxRelay, _InFlight


async def run_rounds(relay: OutboxRelay, failure: Exception, rounds: int = 3) -> list[Any]:
    used: list[Any] = []

    async def publish_batch() -> int:
        used.append(relay._producer)
        if len(used) == 1:
            relay._in_flight = _InFlight([1], ["t"], [])
            raise failure
        if len(used) >= rounds:
            relay._stopping = True
        return 0

    relay.publish_batch = publish_batch  # type: ignore[method-assign]
    await asyncio.wait_for(relay._run(), 10)
    return used


async def test_a_fatal_producer_error_renews_the_producer_and_drops_what_it_held() -> None:
    renewed: list[Any] = []

    async def renew(broken: Any) -> Any:
        renewed.append(broken)
        return "fresh producer"

    relay = OutboxRelay(None, "old producer", service="t", clock=SystemClock(),  # type: ignore[arg-type]
                        interval=0.01, renew=renew)
    used = await run_rounds(relay, kafka_errors.OutOfOrderSequenceNumber())
    assert renewed == ["old producer"]
    assert used[0] == "old producer" and set(used[1:]) == {"fresh producer"}
    assert relay._in_flight is None  # sent again by the next rounds, not waited for


async def test_other_failures_keep_the_producer() -> None:
    renewed: list[Any] = []

    async def renew(broken: Any) -> Any:
        renewed.append(broken)
        return "fresh producer"

    relay = OutboxRelay(None, "old producer", service="t", clock=SystemClock(),  # type: ignore[arg-type]
                        interval=0.01, renew=renew)
    used = await run_rounds(relay, kafka_errors.KafkaConnectionError())
    assert renewed == [] and set(used) == {"old producer"}
