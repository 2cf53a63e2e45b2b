"""Kafka clients built from settings, topic creation, and retrying while the broker is away."""

from __future__ import annotations

import asyncio
import functools
import logging
import struct
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from contracts.registry import TOPIC_BY_NAME, dead_letter_topic

log = logging.getLogger("vbp.kafka")
T = TypeVar("T")

REQUEST_TIMEOUT_MS = 15_000
"""How long the producer waits for a produce response, for metadata, or for room in its
buffer. With ``enable_idempotence`` aiokafka retries an unacknowledged batch until it is
delivered (it never expires one), so the outbox relay bounds its own wait on top of this."""


BATCH_BYTES = 256 * 1024
"""A record batch's size (aiokafka's default is 16 KiB): a relay round of 500 events fills one
batch per partition instead of eight, each partition's batches going one after another (a
quarter of the broker's default ``message.max.bytes``)."""


def make_producer(bootstrap_servers: str, client_id: str) -> AIOKafkaProducer:
    """The idempotent producer (``enable_idempotence`` implies ``acks=all``)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=BATCH_BYTES,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
        retry_backoff_ms=200,
    )


_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (``org.apache.kafka.common.utils.Utils.murmur2``, as aiokafka's
    ``partitioner.murmur2``), reading the key four bytes at a time with one ``struct`` call:
    a third of aiokafka's pure-Python loop's time."""
    length = len(data)
    h = 0x9747B28C ^ length
    words = length // 4
    for k in struct.unpack_from(f"<{words}I", data):
        k = (k * _M) & _MASK
        k = ((k ^ (k >> 24)) * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = length & 3
    if tail:
        rest = data[words * 4:]
        if tail == 3:
            h ^= rest[2] << 16
        if tail >= 2:
            h ^= rest[1] << 8
        h = ((h ^ rest[0]) * _M) & _MASK
    h = ((h ^ (h >> 13)) * _M) & _MASK
    return h ^ (h >> 15)


@functools.lru_cache(maxsize=1 << 16)
def partition_of(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (Java's and aiokafka's alike) gives ``key``
    among ``partitions`` (numbered 0..n-1): a key keeps its partition whoever produces it. The
    last keys are cached (an order's events follow one another)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


async def keep_trying(
    attempt: Callable[[], Awaitable[T]], *, what: str, first_delay: float = 0.2,
    max_delay: float = 15.0, log_every: float = 60.0, deadline: float | None = None,
    retry_on: tuple[type[Exception], ...] = (Exception,),
    on_failure: Callable[[Exception], None] | None = None,
) -> T:
    """Run ``attempt`` until it succeeds, with exponential backoff capped at ``max_delay``.

    The first failure is logged at WARNING, then at most one line every ``log_every`` seconds
    (a broker away for an hour is one problem, not 10,000 log lines); success after failures
    at INFO. With ``deadline`` (the loop's time) the last failure is raised once it has
    passed; without, it never gives up: only cancellation (or an exception not in
    ``retry_on``) ends it. ``on_failure`` sees every failure (to report it, e.g. on
    ``/readyz``)."""
    loop = asyncio.get_running_loop()
    delay = first_delay
    failures = 0
    logged_at: float | None = None
    while True:
        try:
            result = await attempt()
        except asyncio.CancelledError:
            raise
        except retry_on as exc:
            failures += 1
            if on_failure is not None:
                on_failure(exc)
            now = loop.time()
            if deadline is not None and now > deadline:
                raise
            if logged_at is None or now - logged_at >= log_every:
                logged_at = now
                log.warning("%s: broker not reachable yet (%s: %s); %d attempt(s), retrying "
                            "every %.0f s at most", what, exc.__class__.__name__, exc,
                            failures, max_delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
            continue
        if failures:
            log.info("%s: connected after %d failed attempt(s)", what, failures)
        return result


async def start_with_retry(
    starter: AIOKafkaProducer | AIOKafkaAdminClient, *, what: str,
    timeout: float | None = 60.0,
) -> None:
    """Start a client, retrying while the broker is not reachable yet (for ``timeout``
    seconds; ``None``: until cancelled)."""
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    await keep_trying(starter.start, what=what, max_delay=3.0, deadline=deadline,
                      retry_on=(KafkaError, OSError))


async def stop_producer(producer: AIOKafkaProducer, *, timeout: float = 10.0) -> None:
    """Flush and close, waiting at most ``timeout`` seconds. With the broker away, aiokafka's
    ``stop`` would wait for ever for batches the idempotent producer never gives up on: then
    its sender is cancelled, and those events, still unmarked in the outbox, go again at the
    next start."""
    stopping = asyncio.ensure_future(producer.stop())
    try:
        await asyncio.wait_for(asyncio.shield(stopping), timeout)
    except TimeoutError:
        log.warning("Kafka producer not flushed within %.0f s: closing it anyway", timeout)
        # aiokafka has no public way to abandon what it holds: its stop() returns once the
        # sender task is done
        sender = getattr(getattr(producer, "_sender", None), "sender_task", None)
        if sender is not None:
            sender.cancel()
        await stopping


def replication_for(brokers: int, replication_factor: int,
                    min_insync_replicas: int) -> tuple[int, int]:
    """The replication factor and ``min.insync.replicas`` to create topics with on a cluster of
    ``brokers``: the settings, capped at the brokers there are (a single dev broker still gets
    its topics) and the minimum at the replicas there will be (else no ``acks=all`` write could
    ever succeed)."""
    replicas = max(1, min(replication_factor, brokers))
    return replicas, max(1, min(min_insync_replicas, replicas))


async def ensure_topics(
    bootstrap_servers: str, names: Iterable[str], *, partitions: int = 4, dlt: bool = True,
    timeout: float | None = 60.0, replication_factor: int = 1, min_insync_replicas: int = 1,
) -> None:
    """Create the topics (and their dead-letter topics) if missing, with ``replication_factor``
    replicas and ``min.insync.replicas`` (``Settings.kafka_replication_factor`` and
    ``kafka_min_insync_replicas``; see :func:`replication_for`); wait up to ``timeout`` seconds
    for the broker (``0``: one attempt, raising ``KafkaError`` if it is away)."""
    wanted: dict[str, int] = {}
    for name in names:
        topic = TOPIC_BY_NAME.get(name)
        wanted[name] = topic.partitions if topic else partitions
        if dlt:
            wanted[dead_letter_topic(name)] = 1
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="vbp-admin")
    try:
        await start_with_retry(admin, what="admin", timeout=timeout)
        existing = set(await admin.list_topics())
        missing = sorted((n, p) for n, p in wanted.items() if n not in existing)
        if not missing:
            return
        replicas, min_isr = replication_for(
            len((await admin.describe_cluster())["brokers"]), replication_factor,
            min_insync_replicas)
        if (replicas, min_isr) != (replication_factor, min_insync_replicas):
            log.warning("topics created with replication %d and min.insync.replicas %d "
                        "(asked %d and %d): the cluster has fewer brokers", replicas, min_isr,
                        replication_factor, min_insync_replicas)
        configs = {"min.insync.replicas": str(min_isr)}
        new = [NewTopic(name=n, num_partitions=p, replication_factor=replicas,
                        topic_configs=configs) for n, p in missing]
        try:
            await admin.create_topics(new)
        except TopicAlreadyExistsError:
            pass
    finally:
        await admin.close()
