"""Errors as every service sends them: RFC 9457 problem details (``application/problem+json``).

A client reads ``type`` (stable, ``urn:vbp:problem:<slug>``) to decide what to do, ``status``
for the HTTP status, and ``errors`` for what to fix: every invalid field, or every bad row of
an import. Extensions a problem carries besides these are listed with it (``checks`` of a
readiness probe, ``failures`` of a refused renewal…); a client may ignore them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:vbp:problem:"


class FieldError(BaseModel):
    """One invalid field (``body.rows.3.product_price``, ``query.limit``) or bad row."""

    model_config = ConfigDict(extra="allow")

    field: str | None = Field(default=None, description="where: body.…, query.…, header.…")
    message: str | None = None


class ProblemDetails(BaseModel):
    """An RFC 9457 problem: what went wrong, in a form a program can act on."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})

    type: str = Field(description="stable identifier of the kind of problem, "
                                  "urn:vbp:problem:<slug>",
                      examples=["urn:vbp:problem:validation"])
    title: str = Field(description="short summary of the kind of problem")
    status: int = Field(ge=100, le=599, description="the HTTP status code")
    detail: str | None = Field(default=None, description="what went wrong this time")
    instance: str | None = Field(default=None, description="the request's path")
    errors: list[FieldError] | None = Field(
        default=None, description="every invalid field or bad row, when there are any")
    request_id: str | None = Field(
        default=None, description="the request's x-request-id (on 500s: quote it when you "
                                  "report the error)")
