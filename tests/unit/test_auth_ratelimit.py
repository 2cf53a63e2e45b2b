"""Token buckets of the per-organisation rate limits (issue #17, API4), on a fake monotonic
clock; the bulk-import timeout chosen by the announced body size."""

import asyncio
from types import SimpleNamespace

import httpx
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from services.runtime.auth import TokenVerifier, mint_token
from services.runtime.ratelimit import BULK, Limits, TokenBuckets
from services.runtime.settings import Settings

SECRET = "unit-test-secret-0123456789abcdef0123"


def test_a_bucket_allows_its_burst_then_its_rate_and_says_when_to_retry() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=2.0, burst=3, monotonic=lambda: now[0])
    assert [buckets.take("H1") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("H1") == 0.5  # a token every 0.5 s
    assert buckets.take("H2") == 0.0  # another organisation has its own bucket
    now[0] = 0.5
    assert buckets.take("H1") == 0.0
    assert buckets.take("H1") > 0
    now[0] = 100.0  # refilled, but never beyond the burst
    assert [buckets.take("H1") for _ in range(4)][-1] > 0


def test_bulk_bodies_get_the_bulk_timeout() -> None:
    runtime = SimpleNamespace(settings=Settings(request_timeout_s=5, request_timeout_bulk_s=600),
                              spec=SimpleNamespace(name="orders"))
    limits = Limits(app=None, runtime=runtime)  # type: ignore[arg-type]

    def scope(length: int | None) -> dict[str, object]:
        headers = [] if length is None else [(b"content-length", str(length).encode())]
        return {"headers": headers}

    assert limits._timeout_of(scope(None)) == 5
    assert limits._timeout_of(scope(1000)) == 5
    assert limits._timeout_of(scope(BULK + 1)) == 600


async def test_429_and_timeout_answers_carry_the_request_id_the_service_sees() -> None:
    """``Limits`` answers outside the request context, so it gives the id itself (issue #17):
    the caller's ``X-Request-Id``, or a new one that the service behind it sees too."""
    seen: list[str] = []

    async def service(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(dict(scope["headers"])[b"x-request-id"].decode())
        if scope["path"] == "/slow":
            await asyncio.sleep(5)
        await Response(status_code=201)(scope, receive, send)

    runtime = SimpleNamespace(
        settings=Settings(rate_limit_writes_per_s=0.01, rate_limit_writes_burst=1,
                          request_timeout_s=0.2),
        spec=SimpleNamespace(name="catalog"), verifier=TokenVerifier(SECRET))
    limits = Limits(app=service, runtime=runtime)
    token = {"Authorization": "Bearer " + mint_token(SECRET, role="regulator", org="BUREAU")}
    transport = httpx.ASGITransport(app=limits)
    async with httpx.AsyncClient(transport=transport, base_url="http://catalog") as client:
        admitted = await client.post("/v1/programs", headers=token)
        assert admitted.status_code == 201 and len(seen) == 1
        limited = await client.post("/v1/programs", headers={**token, "X-Request-Id": "r-429"})
        assert limited.status_code == 429 and limited.headers["Retry-After"]
        assert limited.headers["X-Request-Id"] == "r-429"
        unnamed = await client.post("/v1/programs", headers=token)
        assert unnamed.status_code == 429
        assert len(unnamed.headers["X-Request-Id"]) == 32  # made here
        slow = await client.get("/slow", headers={"X-Request-Id": ""})
        assert slow.status_code == 503
        assert slow.json()["type"] == "urn:vbp:problem:request-timeout"
        assert slow.headers["X-Request-Id"] == seen[-1] != ""  # the id the service saw
        slow = await client.get("/slow", headers={"X-Request-Id": "r-slow"})
        assert slow.headers["X-Request-Id"] == seen[-1] == "r-slow"
