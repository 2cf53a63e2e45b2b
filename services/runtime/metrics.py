"""Prometheus metrics every service exposes on ``/metrics`` (base units, ``_total`` counters,
no unbounded labels such as order or hospital ids)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import Counter, Gauge, Histogram

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
    "Events seen by a consumer, by outcome (processed, duplicate, ignored, retried, dead_lettered)",
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
