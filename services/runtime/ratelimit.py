"""Limits (issue #17, OWASP API4): per-organisation rate limits and a request timeout.

``Limits`` is a pure ASGI middleware outside the request-context middleware, so it also covers
the direct routes (``direct.py``):
- **Rate limits**: an in-process token bucket per (service, organisation, kind), ``kind``
  being ``write`` (POST, PUT, PATCH, DELETE: ``VBP_RATE_LIMIT_WRITES_PER_S``, burst
  ``VBP_RATE_LIMIT_WRITES_BURST``) or ``read`` for expensive reads (a GET of a collection —
  a list, search, export or report route, whose path does not end in an object id:
  ``VBP_RATE_LIMIT_READS_PER_S`` / ``…_BURST``). A request over the limit is answered 429
  ``application/problem+json`` with ``Retry-After`` before it reaches a route, so it holds no
  database connection. The organisation comes from the bearer token (verified, through the
  verifier's cache); a request without a valid token is not counted here (the route answers
  401). With several api processes the limit is per process.
- **Timeout**: a request still running after ``VBP_REQUEST_TIMEOUT_S`` is cancelled (its
  work stops at its next await; a database transaction in flight is rolled back as its
  connection is released) and answered 503 ``request-timeout`` if no response had started.
  A body over 1 MiB (a bulk import) gets ``VBP_REQUEST_TIMEOUT_BULK_S`` instead.

Both answers carry ``X-Request-Id`` like every other response: the request's own, or one made
here and handed on in the request's headers, so that the request-context middleware, its log
lines and the audit record use the same id.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi.security.utils import get_authorization_scheme_param
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.runtime.auth import caller_var
from services.runtime.problems import Problem, problem_response
from services.runtime.texts import text

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_BUCKETS = 100_000
BULK = 1024 * 1024


@dataclass
class Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """Token buckets by key: ``rate`` tokens a second up to ``burst``; ``take`` answers 0 when
    a token was taken, else the seconds until one will be there."""

    def __init__(self, rate: float, burst: int,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._now = monotonic
        self._buckets: dict[Any, Bucket] = {}

    def take(self, key: Any) -> float:
        now = self._now()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:  # bounded memory: full buckets are forgot
                self._buckets = {k: b for k, b in self._buckets.items()
                                 if b.tokens + (now - b.at) * self.rate < self.burst}
            bucket = self._buckets[key] = Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate


def with_request_id(scope: Scope) -> tuple[Scope, str]:
    """The request's ``X-Request-Id`` (the first, as the request context reads it), or a new
    one put in a copy of the scope's headers (in place of an empty one)."""
    headers = scope["headers"]
    for name, value in headers:
        if name == b"x-request-id":
            if value:
                return scope, value.decode("latin-1")
            break
    request_id = uuid.uuid4().hex
    kept = [(k, v) for k, v in headers if k != b"x-request-id"]
    return {**scope, "headers": [*kept, (b"x-request-id", request_id.encode())]}, request_id


class Limits:
    """Pure ASGI middleware: rate limits per organisation, and the request timeout."""

    def __init__(self, app: ASGIApp, runtime: Any,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._app = app
        self._runtime = runtime
        s = runtime.settings
        self._service = runtime.spec.name
        self._timeout: float = s.request_timeout_s
        self._bulk_timeout: float = s.request_timeout_bulk_s
        self._writes = (TokenBuckets(s.rate_limit_writes_per_s, s.rate_limit_writes_burst,
                                     monotonic) if s.rate_limit_writes_per_s > 0 else None)
        self._reads = (TokenBuckets(s.rate_limit_reads_per_s, s.rate_limit_reads_burst,
                                    monotonic) if s.rate_limit_reads_per_s > 0 else None)
        self._expensive: dict[str, bool] = {}
        self._templates: list[tuple[re.Pattern[str], str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        scope, request_id = with_request_id(scope)
        buckets = self._buckets(scope)
        if buckets is not None:
            wait = await self._limited(buckets, scope)
            if wait:
                retry = max(1, math.ceil(wait))
                response = problem_response(Problem(
                    429, "rate-limited", "Too many requests",
                    text("your organisation's limit for this kind of request on {service} is "
                         "{rate:g}/s (burst {burst}); retry in {retry} s", service=self._service,
                         rate=buckets.rate, burst=buckets.burst, retry=retry),
                    retry_after_s=retry), instance=scope["path"])
                response.headers["Retry-After"] = str(retry)
                response.headers["X-Request-Id"] = request_id
                await response(scope, receive, send)
                return
        timeout = self._timeout_of(scope)
        if not timeout:
            await self._app(scope, receive, send)
            return
        started = False

        async def noting_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            async with asyncio.timeout(timeout):
                await self._app(scope, receive, noting_send)
        except TimeoutError:
            if started:  # too late to answer: the response is cut short
                raise
            response = problem_response(Problem(
                503, "request-timeout", "Request took too long",
                text("not answered within {timeout:g} s; its work was cancelled",
                     timeout=timeout)),
                instance=scope["path"])
            response.headers["X-Request-Id"] = request_id
            await response(scope, receive, send)

    def _timeout_of(self, scope: Scope) -> float:
        """``request_timeout_s``, or ``request_timeout_bulk_s`` for a body over ``BULK``
        bytes (announced by Content-Length, as imports are sent)."""
        for name, value in scope["headers"]:
            if name == b"content-length":
                if value.isdigit() and int(value) > BULK:
                    return self._bulk_timeout
                break
        return self._timeout

    def _buckets(self, scope: Scope) -> TokenBuckets | None:
        method = scope["method"]
        if method in WRITES:
            return self._writes
        if method == "GET" and self._reads is not None and self._is_expensive(scope):
            return self._reads
        return None

    def _is_expensive(self, scope: Scope) -> bool:
        """A GET of a collection under ``/v1/`` (its route's path does not end in a
        parameter): lists, searches, exports, reports."""
        path: str = scope["path"]
        known = self._expensive.get(path)
        if known is not None:
            return known
        expensive = False
        if path.startswith("/v1/"):
            for regex, template in self._get_templates(scope["app"]):
                if regex.match(path):
                    expensive = not template.endswith("}")
                    break
        if len(self._expensive) < 10_000:  # paths with ids are many: keep the cache bounded
            self._expensive[path] = expensive
        return expensive

    def _get_templates(self, app: Any) -> list[tuple[re.Pattern[str], str]]:
        """The documented GET routes (their OpenAPI paths), static ones first."""
        if self._templates is None:
            paths = [p for p, ops in app.openapi().get("paths", {}).items() if "get" in ops]
            paths.sort(key=lambda p: (p.count("{"), p))
            self._templates = [(compile_path(p)[0], p) for p in paths]
        return self._templates

    async def _limited(self, buckets: TokenBuckets, scope: Scope) -> float:
        token = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, token = get_authorization_scheme_param(value.decode("latin-1"))
                token = token if scheme.lower() == "bearer" and token else None
                break
        if token is None:
            return 0.0
        try:
            caller = await self._runtime.verifier.verify(token)
        except Problem:
            return 0.0  # the route refuses it (401)
        callers = caller_var.get()
        if callers is not None:
            callers.append(caller)
        return buckets.take((self._service, caller.org))
