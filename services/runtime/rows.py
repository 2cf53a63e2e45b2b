"""What every bulk import reports: the rows it cannot take (plain values, no framework)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RowError:
    """Why one row of an import cannot be taken: its number, the field (None when it is the
    row itself, or with ``row == 0`` the whole table), and a readable reason."""

    row: int
    field: str | None
    reason: str


def as_problem_errors(errors: Iterable[RowError]) -> list[dict[str, Any]]:
    """The ``errors`` member of an import's problem+json: one entry per bad row and field."""
    return [{"row": e.row, "field": e.field, "reason": e.reason} for e in errors]


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 problem``, ``2 problems``: a count with its noun in the right number."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"
