"""Request ids and W3C trace context, carried in context variables (logs read them too)."""

from __future__ import annotations

import secrets
from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
traceparent_var: ContextVar[str | None] = ContextVar("traceparent", default=None)


def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def valid_traceparent(value: str | None) -> bool:
    if not value:
        return False
    parts = value.split("-")
    return len(parts) == 4 and len(parts[1]) == 32 and len(parts[2]) == 16


def child_of(traceparent: str | None) -> str:
    """A new span in the same trace (or a new trace)."""
    if not traceparent or not valid_traceparent(traceparent):
        return new_traceparent()
    version, trace_id, _, flags = traceparent.split("-")
    return f"{version}-{trace_id}-{secrets.token_hex(8)}-{flags}"


def trace_id(traceparent: str | None) -> str | None:
    if traceparent and valid_traceparent(traceparent):
        return traceparent.split("-")[1]
    return None
