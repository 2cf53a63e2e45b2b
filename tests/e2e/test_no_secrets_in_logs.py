"""No secret or token in any log line (issue #17): every service runs as its own process (log
level DEBUG, more than production logs), an end-to-end flow drives them with bearer tokens —
valid ones, an expired one, a forged one, one of a role the route does not serve — and then
every service's log output is searched for those tokens and for the JWT secret."""

from __future__ import annotations

import csv
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services import launcher
from services.devstack.kafka import KafkaBroker
from services.devstack.net import free_loopback_port
from services.devstack.postgres import PostgresCluster
from services.runtime.auth import mint_token
from tests.conftest import SHARED

pytestmark = pytest.mark.e2e
SECRET = "e2e-logs-secret-" + uuid.uuid4().hex  # this run's own: found nowhere else
RUN = uuid.uuid4().hex[:6]


@pytest.fixture(scope="module")
def platform_logs(kafka: KafkaBroker, postgres: PostgresCluster
                  ) -> Iterator[tuple[dict[str, str], list[Path]]]:
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers, "VBP_JWT_SECRET": SECRET,
           "VBP_RELAY_INTERVAL_S": "0.1", "VBP_LOG_LEVEL": "DEBUG"}
    for name in launcher.SERVICES:
        env[f"VBP_{name.upper()}_DATABASE_URL"] = postgres.create_database(
            f"e2e_logs_{name}_{RUN}")
    logs = Path(tempfile.mkdtemp(prefix="vbp-e2e-secret-logs-"))
    procs = [launcher.start_service(name, free_loopback_port(), env, logs)
             for name in launcher.SERVICES]
    try:
        launcher.wait_ready(procs, timeout=120)
        yield {p.name: p.url for p in procs}, [p.log for p in procs]
    finally:
        launcher.stop_services(procs)
    shutil.rmtree(logs)


def winning_rows() -> list[dict[str, Any]]:
    with (SHARED / "data" / "chongqing-stents-2023-winning.csv").open(encoding="utf-8") as f:
        return [{**row, "seq": int(row["seq"])} for row in csv.DictReader(f)]


def test_no_token_or_secret_appears_in_any_log_line(
        platform_logs: tuple[dict[str, str], list[Path]]) -> None:
    urls, logs = platform_logs
    regulator = mint_token(SECRET, role="regulator", org="BUREAU")
    hospital = mint_token(SECRET, role="institution", org="H0001")
    expired = mint_token(SECRET, role="regulator", org="BUREAU", ttl_s=-3600)
    forged = mint_token("another-secret-0123456789abcdef-forged", role="regulator", org="B")
    used = [regulator, hospital, expired, forged]

    def h(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    program_id = f"CQ-LOGS-{RUN}"
    r = httpx.post(f"{urls['catalog']}/v1/programs", headers=h(regulator), json={
        "program_id": program_id, "category": "冠脉支架", "region": "重庆市",
        "notice_no": "渝医保办〔2023〕3号", "organiser": "national",
        "execution_start": "2023-01-31T00:00:00+08:00", "cycle_years": 3,
        "preset": "chongqing-stents-2023"})
    assert r.status_code == 201, r.text
    r = httpx.post(f"{urls['catalog']}/v1/programs/{program_id}/winning-products",
                   json={"rows": winning_rows()}, headers=h(regulator), timeout=30)
    assert r.status_code == 201, r.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the listings travel to orders over Kafka
        r = httpx.get(f"{urls['orders']}/v1/listings", params={"program_id": program_id},
                      headers=h(hospital))
        assert r.status_code == 200, r.text
        if len(r.json()["items"]) == 14:
            break
        time.sleep(0.2)
    else:
        pytest.fail("listings did not reach orders")
    for name, url in urls.items():  # refusals, on every service
        assert httpx.get(f"{url}/v1/audit", headers=h(regulator)).status_code == 200
        for token in (expired, forged):
            assert httpx.get(f"{url}/v1/audit", headers=h(token)).status_code == 401, name
        assert httpx.get(f"{url}/v1/audit", headers=h(hospital)).status_code == 403
        # a token where a body is expected, malformed: the problem must not echo it either
        r = httpx.post(f"{url}/v1/audit", headers={**h(forged), "Content-Type": "text/plain"},
                       content=forged)
        assert r.status_code in (401, 405), name

    time.sleep(1)  # the last lines written
    text = "\n".join(log.read_text(errors="replace") for log in logs)
    assert len(text.splitlines()) > 20  # the logs were captured at all (DEBUG)
    secrets = {"the JWT secret": SECRET, **{f"token {i}": t for i, t in enumerate(used)}}
    for what, secret in secrets.items():
        parts = {secret} | ({secret.rsplit(".", 1)[1]} if secret.count(".") == 2 else set())
        for part in parts:  # the whole token, and its signature alone
            lines = [line for line in text.splitlines() if part in line]
            assert not lines, f"{what} found in the logs: {lines[:3]}"
