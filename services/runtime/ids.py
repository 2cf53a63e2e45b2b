"""Time-ordered ids, one recipe for every service: a later id sorts after an earlier one (so
pages run oldest first) and cannot be guessed (48 random bits)."""

from __future__ import annotations

import secrets
from datetime import datetime


def time_ordered_id(prefix: str, now: datetime) -> str:
    """``O-018c2f6a1b2c4f9e0a1b2c3d``: the prefix, milliseconds since the epoch (12 hex digits)
    and 12 random hex digits."""
    return f"{prefix}-{int(now.timestamp() * 1000):012x}{secrets.token_hex(6)}"
