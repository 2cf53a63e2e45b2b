"""RFC 9457 problem details (``application/problem+json``) and the handlers that produce them.

The contract of a problem, for clients and the OpenAPI documents, is
``contracts.problems.ProblemDetails``. Failures nobody turned into a problem are answered by the
request middleware (``app._RequestContext``), inside the request's context: a lost database is
a 503 (``unavailable``, ``Outage``), anything else a 500 carrying the request id.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl

import asyncpg
import fastapi.routing
import pydantic_core._pydantic_core as _pydantic_core
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from contracts.problems import MEDIA_TYPE
from contracts.problems import TYPE_PREFIX as TYPE_PREFIX
from services.runtime.texts import Text, text, worded

PROBLEM_JSON = MEDIA_TYPE
RETRY_AFTER_S = 5
"""What a 503 asks the client to wait before it tries again (``Retry-After``)."""
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

    def texts(self) -> Iterator[Text]:
        """The texts of its detail and its members (the ``reason`` of each bad row…) that
        carry their template: what ``i18n`` says in Chinese."""
        todo: list[Any] = [self.detail, self.extensions]
        while todo:
            value = todo.pop()
            if isinstance(value, Text):
                yield value
            elif isinstance(value, dict):
                todo += value.values()
            elif isinstance(value, list | tuple):
                todo += value


@dataclass(frozen=True)
class Refusal:
    """A kind of refusal a service answers with: status, stable slug (the problem's
    ``type``) and title. Each service lists its own in ``errors.py`` and its README's
    "Problem types" table is checked against that list (tests/unit/test_service_shape.py)."""

    status: int
    slug: str
    title: str

    def __call__(self, detail: str, **extensions: Any) -> Problem:
        """The problem; ``detail`` is best a ``texts.text(template, **values)``, which
        ``i18n`` says in Chinese too."""
        return Problem(self.status, self.slug, self.title, detail, **extensions)

    def refused(self, problem: Problem) -> bool:
        """Whether ``problem`` is this refusal."""
        return (problem.status, problem.type, problem.title) == (self.status, self.slug,
                                                                 self.title)


def refusals_of(module: ModuleType) -> list[Refusal]:
    """The refusals a service's ``errors`` module declares (its module-level ``Refusal``s)."""
    return [v for v in vars(module).values() if isinstance(v, Refusal)]


def not_found(what: str, ident: str) -> Problem:
    return Problem(404, "not-found", f"{what} not found",
                   text("no {what} {ident!r} visible to you", what=what, ident=ident))


answered: ContextVar[list[Problem] | None] = ContextVar("vbp_problems_answered", default=None)
"""Where a ``ProblemResponse`` notes the problem it answers with, when someone (``i18n``'s
middleware, around the whole app) set a list to note it in."""


class ProblemResponse(JSONResponse):
    """A problem's JSON answer that keeps the problem, and notes it in ``answered`` when it is
    sent, so that the texts' templates and values are at hand to say it in another language."""

    def __init__(self, problem: Problem, content: Any, **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.problem = problem

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        noted = answered.get()
        if noted is not None:
            noted.append(self.problem)
        await super().__call__(scope, receive, send)


def problem_response(problem: Problem, request: Request | None = None, *,
                     instance: str | None = None,
                     headers: dict[str, str] | None = None) -> JSONResponse:
    """The problem as application/problem+json; its ``instance`` is the request's path."""
    instance = request.url.path if request is not None else instance
    headers = dict(headers or {})
    if problem.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    elif problem.status == 503:
        headers.setdefault("Retry-After", str(RETRY_AFTER_S))
    return ProblemResponse(
        problem, problem.body(instance), status_code=problem.status, media_type=PROBLEM_JSON,
        headers=headers or None,
    )


def unavailable() -> Problem:
    return Problem(503, "service-unavailable", "Service unavailable",
                   text("the service's database cannot be reached; retry after a few seconds"))


def internal(request_id: str | None) -> Problem:
    """A failure nobody foresaw: the request id is what to quote when reporting it."""
    return Problem(500, "internal", "Internal server error",
                   text("quote request id {request_id} when you report it", request_id=request_id),
                   request_id=request_id)


_CONNECTION_ERRORS = (ConnectionError, TimeoutError, sa_exc.TimeoutError,
                      asyncpg.PostgresConnectionError,
                      asyncpg.exceptions.ConnectionDoesNotExistError)
# SQLSTATEs of a server that is gone or going: connection exceptions (class 08), shut down by
# the administrator, crashed, starting up or shutting down (57P01-57P03), too many connections
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached (rather than that the request or
    the code is wrong): refused or reset connections, a server shutting down or starting up,
    a connection SQLAlchemy invalidated, no pooled connection in time, SQLite locked."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen or len(seen) > 10:
            continue
        seen.add(id(e))
        if isinstance(e, _CONNECTION_ERRORS) or type(e) in (OSError, socket.gaierror):
            return True  # a plain OSError: asyncio's "Multiple exceptions: [Errno 111] …"
        if isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated:
            return True
        state = getattr(e, "sqlstate", None)
        if isinstance(state, str) and state.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        if isinstance(e, sa_exc.OperationalError) and "database is locked" in str(e):
            return True  # SQLite: another writer held it too long
        todo += [getattr(e, "orig", None), e.__cause__, e.__context__]
    return False


# SQLSTATEs of a value the database cannot take: NUL in text, a number or date out of range,
# text too long for its column
_BAD_VALUE_SQLSTATES = frozenset({"22021", "22P05", "22003", "22008", "22007", "22P02", "22001"})


def bad_value(exc: BaseException) -> Problem | None:
    """A 422 when ``exc`` says a value the client sent cannot be stored or compared (a NUL in
    a JSON string, a number beyond a column): input no contract bound caught, so no field is
    named, but it is the client's to fix rather than a 500."""
    e: BaseException | None = exc
    for _ in range(5):
        if e is None:
            break
        state = getattr(e, "sqlstate", None)
        if state in _BAD_VALUE_SQLSTATES or isinstance(e, OverflowError):
            first = str(e).splitlines()[0] if str(e) else e.__class__.__name__
            return Problem(422, "invalid-value", "A value cannot be taken",
                           first.split(": ", 1)[-1][:300])
        e = getattr(e, "orig", None) or e.__cause__
    return None


def nul_in_parameters(path: str, query_string: bytes) -> Problem | None:
    """422 naming the query parameters (or the path) that carry a NUL character, which no
    text column takes (PostgreSQL refuses it)."""
    fields = ["path"] if "\x00" in path else []
    if b"%00" in query_string:
        fields += [f"query.{name.replace(chr(0), '')}"
                   for name, value in parse_qsl(query_string.decode("latin-1"),
                                                keep_blank_values=True)
                   if "\x00" in name or "\x00" in value]
    if not fields:
        return None
    return Problem(422, "validation", "Request is not valid",
                   text("invalid fields: {fields}", fields=", ".join(fields[:5])),
                   errors=[{"field": f, "message": text("NUL characters are not allowed")}
                           for f in fields])


class Outage:
    """The database outage the requests of one service see: one WARNING when the first
    request fails for it, one when a request using the database succeeds again, and nothing
    per request in between (a restart used to log two tracebacks per request)."""

    def __init__(self, service: str) -> None:
        self._service = service
        self._since: float | None = None
        self._refused = 0

    @property
    def active(self) -> bool:
        return self._since is not None

    def failed(self, exc: BaseException) -> None:
        self._refused += 1
        if self._since is None:
            self._since = time.monotonic()
            log.warning("%s: database unavailable (%s: %s); answering 503 until it is back",
                        self._service, exc.__class__.__name__, str(exc)[:200])

    def recovered(self) -> None:
        if self._since is None:
            return
        log.warning("%s: database available again after %.1f s; %d requests answered 503",
                    self._service, time.monotonic() - self._since, self._refused)
        self._since, self._refused = None, 0


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc, request)


PYDANTIC_TEMPLATES: dict[str, str] = {
    e["type"]: e["message_template_python"] for e in _pydantic_core.list_all_errors()}
"""pydantic-core's English message template of each error type (``{max_length}``… are
values of the error's ``ctx``)."""


def pydantic_message(err: Any) -> str:
    """The message of a pydantic error as pydantic words it, carrying the template of its
    ``type`` and its ``ctx`` (so ``i18n`` says it in Chinese by type, not by words). A
    ``value_error`` raised with a ``texts.text(...)`` carries that text as its ``error``."""
    said = err.get("msg", "invalid")
    msg = said if isinstance(said, str) else str(said)  # a Text stays one
    template = PYDANTIC_TEMPLATES.get(str(err.get("type")))
    if template is None:
        return msg
    values: dict[str, Any] = {}
    for key, value in (err.get("ctx") or {}).items():
        if isinstance(value, BaseException):
            value = value.args[0] if len(value.args) == 1 and isinstance(value.args[0], Text) \
                else str(value)
        values[key] = value
    return worded(msg, template, **values)


def validation_problem(errors: Sequence[Any], prefix: tuple[str, ...] = ()) -> Problem:
    """422 naming every invalid field (from pydantic / FastAPI validation errors)."""
    fields = [
        {"field": _field((*prefix, *err.get("loc", ()))), "message": pydantic_message(err)}
        for err in errors
    ]
    names = ", ".join(e["field"] for e in fields[:5])
    return Problem(
        422, "validation", "Request is not valid", text("invalid fields: {fields}", fields=names),
        errors=fields
    )


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(validation_problem(exc.errors()), request)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app takes at the request's path (for ``Allow``)."""
    routes: Any = request.app.router.routes
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    if contexts is not None:  # FastAPI ≥ 0.16x: included routers' routes are contexts
        routes = contexts(routes)
    methods: set[str] = set()
    for route in routes:
        pattern = getattr(route, "path_regex", None)
        if pattern is not None and pattern.match(request.url.path):
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug = {400: "bad-request", 404: "not-found", 405: "method-not-allowed",
            401: "unauthorized"}.get(
        exc.status_code, "http-error"
    )
    headers = dict(exc.headers or {})
    if exc.status_code == 405:  # RFC 9110: every method of the resource, not one route's
        headers["Allow"] = ", ".join(allowed_methods(request))
    problem = Problem(exc.status_code, slug, str(exc.detail))
    return problem_response(problem, request, headers=headers)


def install(app: FastAPI) -> None:
    """The handlers of foreseen failures. The unforeseen ones are answered by the request
    middleware, where the request id is still known (``app._RequestContext``)."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
