"""The Kafka client's log limiter (issue #12.8, #12.16), with a hand-moved clock."""

from __future__ import annotations

import logging

from services.runtime.logs import KafkaClientLogLimiter


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def record(name: str = "aiokafka.client", level: int = logging.ERROR,
           msg: str = "Unable connect to node with id %s: %s") -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, (1, "refused"), None)


def test_a_flood_passes_once_then_once_per_interval_with_a_count() -> None:
    clock = Clock()
    limiter = KafkaClientLogLimiter(interval=30, persist=60, now=clock)
    passed = []
    for _ in range(1000):  # 100 a second for 10 s
        r = record()
        if limiter.filter(r):
            passed.append(r)
        clock.t += 0.01
    assert len(passed) == 1
    clock.t += 25  # still the same outage, 35 s after the first
    r = record()
    assert limiter.filter(r)
    assert "[999 more like this in the last 35s]" in r.getMessage()


def test_transient_errors_are_warnings_unless_they_last() -> None:
    clock = Clock()
    limiter = KafkaClientLogLimiter(interval=30, persist=60, now=clock)
    first = record()
    assert limiter.filter(first)
    assert first.levelno == logging.WARNING
    lasting = None
    for _ in range(80):  # the coordinator is still not there after 80 s
        clock.t += 1
        r = record()
        if limiter.filter(r):
            lasting = r
    assert lasting is not None
    assert lasting.levelno == logging.ERROR
    clock.t += 31  # the outage ended; a new one starts as a warning again
    again = record()
    assert limiter.filter(again)
    assert again.levelno == logging.WARNING


def test_other_loggers_and_info_pass_untouched() -> None:
    limiter = KafkaClientLogLimiter(now=Clock())
    for _ in range(5):
        assert limiter.filter(record(name="vbp.consumer"))
        assert limiter.filter(record(level=logging.INFO))
