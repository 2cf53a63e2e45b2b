"""Issue #18: the real services on a PostgreSQL primary with a synchronous streaming standby,
reached through one multi-host URL with ``target_session_attrs=read-write`` (catalog, orders
and supply, each its own database). A hospital places orders over HTTP on two orders api
processes while the primary is killed with SIGKILL and the standby promoted: the services
reconnect by themselves (nothing restarts them), no acknowledged order is missing, and the
relays carry on without sending an event twice: rows whose "published" mark died with the
primary are found on Kafka and marked, not sent again (services/runtime/outbox.py)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from services.devstack.kafka import KafkaCluster
from services.devstack.postgres import PostgresPair
from tests.cluster.figures import report
from tests.cluster.platform import Load, outcome, start_platform

pytestmark = pytest.mark.timeout(900)
RATE = 30  # orders per second over HTTP
BEFORE_S, AFTER_S = 8.0, 15.0


async def test_the_primary_killed_mid_load_and_the_standby_promoted_loses_nothing(
    pg_pair: PostgresPair, kafka_cluster: KafkaCluster
) -> None:
    assert "target_session_attrs=read-write" in pg_pair.url(f"x_{uuid.uuid4().hex[:6]}")
    p = await asyncio.to_thread(start_platform, kafka_cluster.bootstrap_servers,
                                pg_pair.create_database)
    load = Load(p, RATE)
    try:
        load.start()
        await asyncio.sleep(BEFORE_S)
        assert pg_pair.standby.in_recovery()  # still a standby before the fault
        started = time.monotonic()
        await asyncio.to_thread(pg_pair.fail_over)
        failover_s = time.monotonic() - started
        assert not pg_pair.standby.in_recovery()
        await asyncio.sleep(AFTER_S)
        await load.stop()
        result = await outcome(p, load.acknowledged, load.cancelled)
        reconciled = p.logged("were already on Kafka")
    finally:
        await load.stop()
        await asyncio.to_thread(p.stop)
    report("postgres failover: primary SIGKILL, standby promoted, orders over HTTP",
           **result.figures(), failed_requests=load.failed,
           longest_http_stall_s=f"{load.longest_stall:.2f}",
           kill_and_promote_s=f"{failover_s:.1f}",
           relay_rounds_that_found_lost_marks=reconciled)
    result.check()
