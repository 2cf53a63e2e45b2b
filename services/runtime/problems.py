"""RFC 9457 problem details (``application/problem+json``) and the handlers that produce them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:vbp:problem:"
log = logging.getLogger("vbp.problems")


class Problem(Exception):
    """A failure a client can act on: a stable ``type``, a status, and what went wrong."""

    def __init__(
        self,
        status: int,
        type: str,
        title: str,
        detail: str | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.type = type
        self.title = title
        self.detail = detail
        self.extensions = extensions

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": TYPE_PREFIX + self.type,
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        body.update(self.extensions)
        return body


def not_found(what: str, ident: str) -> Problem:
    return Problem(404, "not-found", f"{what} not found", f"no {what} {ident!r} visible to you")


def problem_response(problem: Problem, request: Request | None = None, *,
                     instance: str | None = None) -> JSONResponse:
    """The problem as application/problem+json; its ``instance`` is the request's path."""
    instance = request.url.path if request is not None else instance
    headers = {"WWW-Authenticate": "Bearer"} if problem.status == 401 else None
    return JSONResponse(
        problem.body(instance), status_code=problem.status, media_type=PROBLEM_JSON,
        headers=headers,
    )


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc, request)


def validation_problem(errors: Sequence[Any], prefix: tuple[str, ...] = ()) -> Problem:
    """422 naming every invalid field (from pydantic / FastAPI validation errors)."""
    fields = [
        {"field": _field((*prefix, *err.get("loc", ()))), "message": err.get("msg", "invalid")}
        for err in errors
    ]
    names = ", ".join(e["field"] for e in fields[:5])
    return Problem(
        422, "validation", "Request is not valid", f"invalid fields: {names}", errors=fields
    )


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(validation_problem(exc.errors()), request)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug = {404: "not-found", 405: "method-not-allowed", 401: "unauthorized"}.get(
        exc.status_code, "http-error"
    )
    problem = Problem(exc.status_code, slug, str(exc.detail))
    return problem_response(problem, request)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(Problem(500, "internal", "Internal server error"), request)


def install(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
