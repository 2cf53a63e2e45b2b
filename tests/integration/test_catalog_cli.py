"""``vbp import winning`` on the real PostgreSQL and Kafka (issue #12, item 5): the request's
Idempotency-Key covers the program, the format and the content, so the same file goes into
several programs, and a corrected file after a failed import is a new request."""

from __future__ import annotations

import httpx
import pytest

from services.cli import import_winning_file, winning_import_key
from services.runtime.auth import mint_token
from tests.conftest import SHARED
from tests.integration.apps import SECRET
from tests.integration.test_catalog import REGULATOR, publish_program

pytestmark = pytest.mark.integration
TOKEN = mint_token(SECRET, role="regulator", org="BUREAU")
SEED = (SHARED / "seeds" / "000_7fa77ec0ebae0095.txt").read_bytes()
CSV_BYTES = (SHARED / "data" / "chongqing-stents-2023-winning.csv").read_bytes()


async def cli_import(client: httpx.AsyncClient, program: str, name: str, content: bytes,
                     reason: str | None = None) -> httpx.Response:
    return await import_winning_file(client, program, name, content, token=TOKEN,
                                     corrections_reason=reason)


async def test_the_same_file_imports_into_two_programs(client: httpx.AsyncClient) -> None:
    first = await publish_program(client, program_id="CQ-STENT-2023")
    second = await publish_program(client, program_id="CQ-STENT-2023-B")
    for pid in (first, second):
        r = await cli_import(client, pid, "notice.txt", SEED)
        assert r.status_code == 201, r.text
        assert (r.json()["program_id"], r.json()["imported"]) == (pid, 14)
    # the identical command again is a replay of the first answer, not a second import
    again = await cli_import(client, second, "notice.txt", SEED)
    assert (again.status_code, again.headers.get("Idempotent-Replayed")) == (201, "true")
    assert again.json()["imported"] == 14


async def test_a_failed_import_is_not_remembered_and_corrected_content_imports(
        client: httpx.AsyncClient) -> None:
    # the program is not published yet: 404, and nothing remembered under the key
    r = await cli_import(client, "CQ-STENT-2023", "winning.csv", CSV_BYTES)
    assert r.status_code == 404
    pid = await publish_program(client)
    broken = CSV_BYTES.replace("国械注准20163132305".encode(),
                               "国械注准2016313230".encode())  # R-CAT-2: 10 digits
    assert broken != CSV_BYTES
    r = await cli_import(client, pid, "winning.csv", broken)
    assert r.status_code == 422
    assert [e["row"] for e in r.json()["errors"]] == [1]
    r = await cli_import(client, pid, "winning.csv", CSV_BYTES)  # same name, fixed content
    assert r.status_code == 201, r.text
    assert r.json()["imported"] == 14
    assert "Idempotent-Replayed" not in r.headers


async def test_a_corrected_file_with_the_same_name_is_a_new_request(
        client: httpx.AsyncClient) -> None:
    """The first import took a table with a typo (201, remembered); the publisher's corrected
    file has the same name (and, copied with ``cp -p``, the same modification time): it is a
    new request, applied as a correction, never the first answer replayed or refused."""
    pid = await publish_program(client)
    typo = CSV_BYTES.replace(b"747,48,795", b"746,48,794")
    assert typo != CSV_BYTES
    r = await cli_import(client, pid, "winning.csv", typo)
    assert (r.status_code, r.json()["imported"]) == (201, 14)
    r = await cli_import(client, pid, "winning.csv", CSV_BYTES)
    assert r.status_code == 409  # a change to a listed product needs a reason
    r = await cli_import(client, pid, "winning.csv", CSV_BYTES, reason="勘误")
    assert r.status_code == 201, r.text
    assert (r.json()["corrected"], r.json()["unchanged"]) == (1, 13)
    listing = (await client.get("/v1/listings", headers=REGULATOR,
                                params={"registration_no": "国械注准20163131174"})).json()
    assert listing["items"][0]["listing_price"] == "795.00"


def test_the_key_covers_program_format_content_and_reason() -> None:
    key = winning_import_key("P1", CSV_BYTES, "text/csv")
    assert key == winning_import_key("P1", CSV_BYTES, "text/csv")
    assert len({key, winning_import_key("P2", CSV_BYTES, "text/csv"),
                winning_import_key("P1", CSV_BYTES + b"\n", "text/csv"),
                winning_import_key("P1", CSV_BYTES, "text/plain"),
                winning_import_key("P1", CSV_BYTES, "text/csv", "勘误")}) == 5
    assert key.isascii() and len(key) <= 200  # an HTTP header, within the server's limit
