"""Structured JSON logs carrying the service, request id and trace id."""

from __future__ import annotations

import logging
import sys

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
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiokafka").setLevel("WARNING")
    logging.getLogger("uvicorn.access").setLevel("WARNING")
