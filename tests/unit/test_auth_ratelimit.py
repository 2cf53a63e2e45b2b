"""Token buckets of the per-organisation rate limits (issue #17, API4), on a fake monotonic
clock; the bulk-import timeout chosen by the announced body size."""

from types import SimpleNamespace

from services.runtime.ratelimit import BULK, Limits, TokenBuckets
from services.runtime.settings import Settings


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
