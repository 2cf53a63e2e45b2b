"""``vbp import winning`` without a server (issue #12, item 5): the key it sends, and what it
tells the user when the import is refused."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import httpx
import pytest

from services import cli


def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, answer: httpx.Response,
        *args: str) -> list[httpx.Request]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer

    client = functools.partial(httpx.AsyncClient, transport=httpx.MockTransport(handler))
    monkeypatch.setattr(httpx, "AsyncClient", client)
    table = tmp_path / "winning.csv"
    table.write_bytes(b"seq,product_name\n")
    code = cli.main(["import", "winning", "--token", "t", *args, str(table)])
    seen.append(httpx.Request("GET", f"http://exit/{code}"))
    return seen


def test_the_key_is_the_programs_and_the_contents(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    ok = httpx.Response(201, json={"imported": 1})
    first, done = run(monkeypatch, tmp_path, ok, "--program", "P1")
    assert done.url.path == "/0"
    assert first.url.path == "/v1/programs/P1/winning-products"
    assert first.headers["Idempotency-Key"] == cli.winning_import_key(
        "P1", b"seq,product_name\n", "text/csv; charset=utf-8")
    other, _ = run(monkeypatch, tmp_path, ok, "--program", "P2")
    assert other.headers["Idempotency-Key"] != first.headers["Idempotency-Key"]


def test_a_refusal_says_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    problem = {"type": "urn:vbp:problem:corrections-need-confirmation", "status": 409}
    _, done = run(monkeypatch, tmp_path, httpx.Response(409, json=problem), "--program", "P1")
    assert done.url.path == "/1"
    out = capsys.readouterr()
    assert json.loads(out.out)["status"] == 409
    assert "--corrections-reason" in out.err
