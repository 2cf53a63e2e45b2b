"""Events that payments writes to the outbox by itself, many at a time (issue #14: the overdue
scan and the acceptances' ``PayableOpened``): time-ordered event ids, spans, and instants as
the contracts dump them. Each payload is compared with the contract's own dump in the tests."""

from __future__ import annotations

import secrets
from datetime import datetime


def uuid7_prefix(at: datetime) -> str:
    """The first 20 hex digits of an RFC 9562 version-7 UUID of ``at`` (milliseconds, then
    random bits), hyphenated; 12 hex digits (a counter) complete it."""
    ms = int(at.timestamp() * 1000) & (1 << 48) - 1
    rand_a, variant, rand_b = secrets.randbits(12), 8 | secrets.randbits(2), secrets.randbits(12)
    return f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7{rand_a:03x}-{variant:x}{rand_b:03x}-"


def json_instant(at: datetime) -> str:
    """An aware instant as the contracts dump it in JSON (pydantic: ``Z`` for a zero offset,
    microseconds when there are any)."""
    if at.tzinfo is None:
        raise ValueError("naive datetime: instants must be timezone-aware")
    text = at.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def child_span(traceparent: str | None, span: str) -> str:
    """Span ``span`` (16 hex digits) in the trace of ``traceparent`` (a new trace when it is
    not valid), as ``tracing.child_of`` makes one with a random span."""
    parts = traceparent.split("-") if traceparent else []
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return f"00-{secrets.token_hex(16)}-{span}-01"
    return f"{parts[0]}-{parts[1]}-{span}-{parts[3]}"
