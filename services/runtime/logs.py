"""Structured JSON logs carrying the service, request id and trace id."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from pythonjsonlogger.json import JsonFormatter

from services.runtime.tracing import request_id_var, trace_id, traceparent_var


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self._service
        record.request_id = request_id_var.get()
        record.trace_id = trace_id(traceparent_var.get())
        return True


@dataclass
class _Kind:
    """One kind of Kafka client record (logger and message template) in one episode."""

    first: float
    last_seen: float
    last_passed: float
    suppressed: int = 0


class KafkaClientLogLimiter(logging.Filter):
    """Tames the Kafka client's logs while a broker is away (issue #12.8, #12.16).

    aiokafka logs every failed connection attempt, metadata refresh, fetch and coordinator
    lookup, at ERROR, many times a second: a two-minute outage wrote 240,000 lines. Of each kind
    of record (logger and message template) the first passes, then at most one every
    ``interval`` seconds, saying how many like it were left out. An episode ends when the kind
    is not seen for ``interval`` seconds. A kind that has lasted less than ``persist`` seconds
    passes at WARNING instead of ERROR: at start-up the broker, a topic's metadata or the group
    coordinator are often not there *yet*; an outage that lasts is an ERROR. Records of other
    loggers pass untouched."""

    def __init__(self, interval: float = 30.0, persist: float = 60.0,
                 now: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._interval = interval
        self._persist = persist
        self._now = now
        self._kinds: dict[tuple[str, str], _Kind] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("aiokafka") or record.levelno < logging.WARNING:
            return True
        now = self._now()
        key = (record.name, str(record.msg))
        kind = self._kinds.get(key)
        if kind is None or now - kind.last_seen > self._interval:
            kind = self._kinds[key] = _Kind(first=now, last_seen=now,
                                            last_passed=now - self._interval)
        kind.last_seen = now
        if now - kind.last_passed < self._interval:
            kind.suppressed += 1
            return False
        if kind.suppressed:
            record.msg = (f"{record.msg} [{kind.suppressed} more like this in the last "
                          f"{now - kind.last_passed:.0f}s]")
        kind.suppressed = 0
        kind.last_passed = now
        if record.levelno >= logging.ERROR and now - kind.first < self._persist:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def quiet_kafka_client(handler: logging.Handler, *, persist: float = 60.0) -> None:
    """Only the Kafka client's warnings and errors, rate-limited (``KafkaClientLogLimiter``)."""
    handler.addFilter(KafkaClientLogLimiter(persist=persist))
    logging.getLogger("aiokafka").setLevel("WARNING")


def configure(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(request_id)s "
            "%(trace_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(_ContextFilter(service))
    quiet_kafka_client(handler)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("uvicorn.access").setLevel("WARNING")
