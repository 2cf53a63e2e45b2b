"""Shared pieces of the supply rules: the base of their refusals and the check that an
instant is timezone-aware."""

from __future__ import annotations

from datetime import datetime

from services.runtime.texts import text


class SupplyError(ValueError):
    """A step the supply rules refuse."""



def aware(instant: datetime, what: str = "instant") -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(text("{field} must be timezone-aware", field=what))
    return instant
