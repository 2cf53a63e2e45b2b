"""The monitoring service's refusals, in one place: each a domain error with its HTTP status,
stable slug and title; ``problem`` turns one into RFC 9457 problem+json (runtime ``Problem``)."""

from __future__ import annotations

from typing import Any, ClassVar

from services.runtime.problems import Problem


class Refusal(Exception):
    """A rule refused the request. Raised by the domain; mapped to a Problem by ``problem``."""

    status: ClassVar[int] = 422
    slug: ClassVar[str] = "refused"
    title: ClassVar[str] = "Refused"
    field: ClassVar[str | None] = None

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class LevelNotInScheme(Refusal):
    slug, title, field = "unknown-level", "Level not in the program's credit scheme", "body.level"


class UnknownProgram(Refusal):
    slug, title, field = "unknown-program", "Program not known to monitoring", "body.program_id"


class RecordNotActive(Refusal):
    status, slug, title = 409, "record-not-active", "Credit record not active"


class RecordNotProposed(Refusal):
    status, slug, title = 409, "record-not-proposed", "Credit record is not a proposal"


class RepairAlreadyPending(Refusal):
    status, slug, title = 409, "repair-pending", "A repair application is already pending"


class RepairNotPending(Refusal):
    status, slug, title = 409, "repair-not-pending", "No repair application pending"


class RepairTooEarly(Refusal):
    status, slug, title = 409, "repair-too-early", "Minimum period before repair not over"


class RepairTooSoonAfterRefusal(Refusal):
    status, slug, title = 409, "repair-reapply-too-soon", "Too soon after a refused repair"


class BadMonth(Refusal):
    slug, title, field = "bad-month", "Not a month that can be reported", "query.month"


def problem(refusal: Refusal) -> Problem:
    """The refusal as application/problem+json, naming the field where there is one."""
    extensions = dict(refusal.extensions)
    if refusal.field is not None:
        extensions.setdefault("errors", [{"field": refusal.field, "message": refusal.detail}])
    return Problem(refusal.status, refusal.slug, refusal.title, refusal.detail, **extensions)
