"""Prometheus metrics every service exposes on ``/metrics`` (base units, ``_total`` counters,
no unbounded labels such as order or hospital ids)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from itertools import pairwise

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

log = logging.getLogger("vbp.metrics")

HTTP_REQUESTS = Counter(
    "vbp_http_requests_total", "HTTP requests", ["service", "method", "route", "status"]
)
HTTP_DURATION = Histogram(
    "vbp_http_request_duration_seconds",
    "HTTP request duration",
    ["service", "method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONSUMER_EVENTS = Counter(
    "vbp_consumer_events_total",
    "Events seen by a consumer, by outcome (processed, duplicate, ignored, retried, "
    "dead_lettered, held)",
    ["service", "consumer", "topic", "outcome"],
)
CONSUMER_DURATION = Histogram(
    "vbp_consumer_handle_duration_seconds",
    "Time to apply one event",
    ["service", "consumer", "topic"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
)
CONSUMER_LAG = Gauge(
    "vbp_consumer_lag_messages",
    "Messages behind the partition's high watermark",
    ["service", "consumer", "topic", "partition"],
)
CONSUMER_LAST_POLL = Gauge(
    "vbp_consumer_last_poll_timestamp_seconds",
    "When the consumer last polled the broker (Unix time): it is alive and not stuck",
    ["service", "consumer"],
)
CONSUMER_INFRA_FAILURES = Counter(
    "vbp_consumer_infrastructure_failures_total",
    "Attempts that failed because the database or broker was away (retried without limit, "
    "never dead-lettered)",
    ["service", "consumer"],
)
DEAD_LETTERS = Counter(
    "vbp_dead_letters_total", "Events sent to a dead-letter topic", ["service", "topic"]
)
OUTBOX_BACKLOG = Gauge("vbp_outbox_backlog_events", "Unpublished outbox events", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "vbp_outbox_oldest_unpublished_age_seconds",
    "Age of the oldest unpublished outbox event",
    ["service"],
)
OUTBOX_PUBLISHED = Counter(
    "vbp_outbox_published_total", "Outbox events published to Kafka", ["service", "topic"]
)
OUTBOX_FAILURES = Counter(
    "vbp_outbox_publish_failures_total", "Failed relay publishing rounds", ["service"]
)
GROUP_COMMIT_SIZE = Histogram(
    "vbp_group_commit_requests",
    "Requests applied together in one transaction (runtime/groupcommit.py)",
    ["service"],
    buckets=(1, 2, 4, 8, 16, 32, 64),
)

# --------------------------------------------------------------------------------------------
# Database pool use, read from each engine's pool when /metrics is scraped (every role).

DB_POOL_SIZE = Gauge("vbp_db_pool_size_connections", "Connections the pool keeps open",
                     ["service"])
DB_POOL_CHECKED_OUT = Gauge("vbp_db_pool_checked_out_connections",
                            "Pool connections lent out to requests, consumers and the relay",
                            ["service"])
DB_POOL_OVERFLOW = Gauge("vbp_db_pool_overflow_connections",
                         "Connections open beyond the pool size (negative: room left)",
                         ["service"])
DB_POOL_LIMIT = Gauge("vbp_db_pool_max_connections",
                      "Most connections the pool will open (size + max overflow)", ["service"])


def watch_pool(service: str, engine: AsyncEngine) -> None:
    """Report ``engine``'s pool use under ``service`` whenever /metrics is read.

    Pools without these figures (SQLite's) report nothing."""
    pool = engine.sync_engine.pool
    if not isinstance(pool, QueuePool):
        return
    DB_POOL_SIZE.labels(service).set_function(pool.size)
    DB_POOL_CHECKED_OUT.labels(service).set_function(pool.checkedout)
    DB_POOL_OVERFLOW.labels(service).set_function(pool.overflow)
    DB_POOL_LIMIT.labels(service).set(pool.size() + max(pool._max_overflow, 0))


# --------------------------------------------------------------------------------------------
# Business metrics sampled from a service's own database (services/<name>/telemetry.py).
#
# A business figure is read from the tables when /metrics is scraped rather than counted at
# each call site: it survives restarts, counts what every process wrote (api and worker roles),
# and leaves the services' route bodies alone. Only a process that runs the outbox relay
# (role all or worker) samples, so a figure is reported once per service however many api
# processes run. Counters read this way are totals since the program began (orders placed,
# deliveries made): they only grow, so rate() and increase() work on them as on any counter.

Labels = tuple[str, ...]


class Sampled(Collector):
    """A metric whose series are replaced as a whole by each sample (no stale label sets).

    ``kind`` is ``counter`` or ``gauge``; a counter's name is given without ``_total``."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str],
                 kind: str = "gauge", registry: CollectorRegistry = REGISTRY) -> None:
        if kind not in ("counter", "gauge"):
            raise ValueError(f"kind must be counter or gauge, not {kind!r}")
        self.name, self.documentation, self.kind = name, documentation, kind
        self.labels = tuple(labels)
        self.values: dict[Labels, float] = {}
        registry.register(self)

    def replace(self, values: Mapping[Labels, float | int | Decimal]) -> None:
        for key in values:
            if len(key) != len(self.labels):
                raise ValueError(f"{self.name}: labels {key} for {self.labels}")
        self.values = {key: float(value) for key, value in values.items()}

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def collect(self) -> Iterable[Metric]:
        family = self._family()
        for key, value in self.values.items():
            family.add_metric(list(key), value)
        return [family]

    def _family(self) -> CounterMetricFamily | GaugeMetricFamily:
        if self.kind == "counter":
            return CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        return GaugeMetricFamily(self.name, self.documentation, labels=self.labels)


class SampledHistogram(Collector):
    """A histogram read from the database: per label set, the cumulative count of observations
    at or under each bucket's upper bound, and their sum."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str],
                 buckets: Sequence[float], registry: CollectorRegistry = REGISTRY) -> None:
        self.name, self.documentation = name, documentation
        self.labels = tuple(labels)
        self.buckets = tuple(buckets)
        self.values: dict[Labels, tuple[list[int], float]] = {}
        registry.register(self)

    def replace(self, values: Mapping[Labels, tuple[Sequence[int], float]]) -> None:
        """``values[labels] = (cumulative counts per bucket and +Inf last, sum)``."""
        for key, (counts, _) in values.items():
            if len(counts) != len(self.buckets) + 1:
                raise ValueError(f"{self.name}{key}: {len(counts)} counts for "
                                 f"{len(self.buckets)} buckets and +Inf")
            if any(a > b for a, b in pairwise(counts)):
                raise ValueError(f"{self.name}{key}: counts must be cumulative: {counts}")
        self.values = {key: (list(counts), float(total))
                       for key, (counts, total) in values.items()}

    def describe(self) -> Iterable[Metric]:
        return [HistogramMetricFamily(self.name, self.documentation, labels=self.labels)]

    def collect(self) -> Iterable[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        bounds = [*(str(float(b)) for b in self.buckets), "+Inf"]
        for key, (counts, total) in self.values.items():
            family.add_metric(list(key), list(zip(bounds, map(float, counts), strict=True)),
                              total)
        return [family]


TELEMETRY_DURATION = Gauge("vbp_telemetry_sample_duration_seconds",
                           "Time the last sample of business metrics took", ["service"])
TELEMETRY_ERRORS = Counter("vbp_telemetry_errors_total",
                           "Business-metric samples that failed (the last values stay)",
                           ["service"])

Sampler = Callable[[], Awaitable[None]]
_samplers: dict[str, Sampler] = {}


def add_sampler(service: str, sampler: Sampler) -> None:
    """Run ``sampler`` (it reads the database and ``replace``s its metrics) before /metrics."""
    _samplers[service] = sampler


def remove_sampler(service: str, sampler: Sampler) -> None:
    if _samplers.get(service) is sampler:
        del _samplers[service]


async def sample(timeout: float = 5.0) -> None:
    """Refresh every business metric; a slow or failing sampler keeps its last values.

    Two scrapes at once sample twice: each ``replace`` swaps a whole set of series at once."""
    for service, sampler in list(_samplers.items()):
        started = time.perf_counter()
        try:
            await asyncio.wait_for(sampler(), timeout)
        except Exception:
            TELEMETRY_ERRORS.labels(service).inc()
            log.warning("business metrics of %s not sampled", service, exc_info=True)
        TELEMETRY_DURATION.labels(service).set(time.perf_counter() - started)


OUTBOX_SEND_TIMEOUTS = Counter(
    "vbp_outbox_send_timeouts_total",
    "Relay rounds whose events Kafka did not acknowledge within VBP_RELAY_SEND_TIMEOUT_S "
    "(also counted in vbp_outbox_publish_failures_total)",
    ["service"],
)
CONSUMER_OUTCOMES = ("processed", "duplicate", "ignored", "retried", "dead_lettered")


def start_at_zero(service: str, *, relays: bool, publishes: Iterable[str] = (),
                  consumers: Mapping[str, Iterable[str]] | None = None) -> None:
    """Export a process's counters at 0 from its start, for every label value known in
    advance, so that an absent series never stands for "no failures": a failure counter
    appears before its first failure, and an alert on its rate has a series to watch. The
    relay's counters only where a relay runs (``relays``)."""
    GROUP_COMMIT_SIZE.labels(service)
    if relays:
        OUTBOX_FAILURES.labels(service)
        OUTBOX_SEND_TIMEOUTS.labels(service)
    for topic in publishes:
        OUTBOX_PUBLISHED.labels(service, topic)
    for consumer, topics in (consumers or {}).items():
        for topic in topics:
            DEAD_LETTERS.labels(service, topic)
            CONSUMER_DURATION.labels(service, consumer, topic)
            for outcome in CONSUMER_OUTCOMES:
                CONSUMER_EVENTS.labels(service, consumer, topic, outcome)
