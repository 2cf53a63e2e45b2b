"""The platform for end-to-end tests: every service as its own process, on the session's
Kafka broker and PostgreSQL (one database per service)."""

from __future__ import annotations

import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services import launcher
from services.devstack.kafka import KafkaBroker
from services.devstack.net import free_loopback_port
from services.devstack.postgres import PostgresCluster
from services.runtime.auth import mint_token

SECRET = "e2e-test-secret-0123456789abcdef0123"
DATABASES: dict[str, str] = {}
"""The running platform's database URL per service: for a test that runs a service's
clock-driven job at a later instant (the e2e services keep the real clock)."""


def bearer(role: str, org: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + mint_token(SECRET, role=role, org=org)}


@pytest.fixture(scope="module")  # gone before other tests start apps in the same groups
def platform(kafka: KafkaBroker, postgres: PostgresCluster) -> Iterator[dict[str, str]]:
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers, "VBP_JWT_SECRET": SECRET,
           "VBP_RELAY_INTERVAL_S": "0.1"}
    for name in launcher.SERVICES:
        db = f"e2e_{name}_{int(time.time())}"
        env[f"VBP_{name.upper()}_DATABASE_URL"] = DATABASES[name] = postgres.create_database(db)
    logs = Path(tempfile.mkdtemp(prefix="vbp-e2e-logs-"))
    procs = [launcher.start_service(name, free_loopback_port(), env, logs)
             for name in launcher.SERVICES]
    try:
        launcher.wait_ready(procs, timeout=120)
        yield {p.name: p.url for p in procs}
    finally:
        launcher.stop_services(procs)
        for p in procs:  # graceful: uvicorn re-raises the SIGTERM after its shutdown
            log = p.log.read_text(errors="replace")
            assert p.process.returncode in (0, -signal.SIGTERM), log[-3000:]
            assert f'"message": "{p.name} stopped"' in log, log[-3000:]
        shutil.rmtree(logs)  # kept when a service did not stop cleanly, to look into


