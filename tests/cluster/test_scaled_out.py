"""Issue #18: one service's consumers as three processes in one consumer group, on the
three-broker cluster. One process is killed with SIGKILL mid-stream (no goodbye to the group)
and a new one started: every event takes effect exactly once, each key's events in order, and
every key flows again once the group has rebalanced (the dead member is dropped when its
session times out: 10 s, services/runtime/consumer.py)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.devstack.kafka import KafkaCluster
from services.runtime.kafka import ensure_topics
from tests.cluster.conftest import MIN_INSYNC, REPLICAS
from tests.cluster.figures import report
from tests.integration.harness import Harness, effects

pytestmark = pytest.mark.timeout(900)
RATE, KEYS = 100, 24
SESSION_TIMEOUT_S = 10.0
REPO = Path(__file__).resolve().parents[2]


def start_consumer(url: str, bootstrap: str, topic: str, group: str,
                   logs: Path) -> subprocess.Popen[bytes]:
    log = (logs / f"consumer-{uuid.uuid4().hex[:6]}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "tests.cluster.consumer_proc", url, bootstrap, topic, group],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


async def effects_by_key(engine: AsyncEngine) -> dict[str, list[int]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(effects.c.ping_id, effects.c.n)
                                   .order_by(effects.c.seq))).all()
    by_key: dict[str, list[int]] = {}
    for key, n in rows:
        by_key.setdefault(key, []).append(n)
    return by_key


async def test_a_consumer_process_killed_mid_stream_and_replaced(
    kafka_cluster: KafkaCluster, engine_on_single: AsyncEngine, topic_name: str
) -> None:
    bootstrap = kafka_cluster.bootstrap_servers
    await ensure_topics(bootstrap, [topic_name], partitions=6, replication_factor=REPLICAS,
                        min_insync_replicas=MIN_INSYNC)
    h = Harness(engine_on_single, bootstrap, topic_name)
    await h.producer()
    relay = await h.relay()
    await relay.start()
    url = engine_on_single.url.render_as_string(hide_password=False)
    logs = Path(tempfile.mkdtemp(prefix="vbp-scaled-"))
    group = f"g-{uuid.uuid4().hex[:8]}"
    procs = [start_consumer(url, bootstrap, topic_name, group, logs) for _ in range(3)]
    written: list[str] = []
    stop_load = asyncio.Event()

    async def load() -> None:
        loop = asyncio.get_running_loop()
        while not stop_load.is_set():
            tick = loop.time()
            written.extend(await h.record(1, keys=KEYS, start=len(written)))
            await asyncio.sleep(max(0.0, 1 / RATE - (loop.time() - tick)))

    writer = asyncio.create_task(load())
    try:
        await h.wait_applied(1, timeout=120)  # the group is consuming
        await asyncio.sleep(5)
        victim = procs[0]
        before = await effects_by_key(engine_on_single)
        victim.kill()  # SIGKILL
        killed_at = time.monotonic()
        procs.append(start_consumer(url, bootstrap, topic_name, group, logs))
        # every key flowing again: each has an effect it did not have at the kill
        rebalance_s = -1.0
        while time.monotonic() - killed_at < 120:
            now = await effects_by_key(engine_on_single)
            if all(len(now.get(f"k{i}", [])) > len(before.get(f"k{i}", []))
                   for i in range(KEYS)):
                rebalance_s = time.monotonic() - killed_at
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(5)
        stop_load.set()
        await writer
        rows, applied = await h.wait_applied(len(written), timeout=180)
        by_key = await effects_by_key(engine_on_single)
    finally:
        stop_load.set()
        await writer
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        await relay.stop()
        await h.close()
    out_of_order = [k for k, ns in by_key.items() if ns != sorted(ns)]
    report("scaled-out consumers: one of three processes SIGKILLed, a new one started",
           written=len(written), effects=rows, distinct_effects=applied,
           duplicated=rows - applied, keys_out_of_order=len(out_of_order),
           rebalance_s=f"{rebalance_s:.1f}", session_timeout_s=SESSION_TIMEOUT_S)
    assert (rows, applied) == (len(written), len(written)), "effects not exactly once"
    assert not out_of_order, f"per-key order broken for {out_of_order}"
    assert 0 <= rebalance_s < 2 * SESSION_TIMEOUT_S + 5, "the group did not recover in time"
    shutil.rmtree(logs, ignore_errors=True)
