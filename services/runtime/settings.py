"""Settings from the environment (``VBP_…``). Nothing connects at import time."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, AwareDatetime, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "vbp-local-development-secret-change-me"


class Settings(BaseSettings):
    """What a service needs to run. Per-service database URL: ``VBP_<SERVICE>_DATABASE_URL``."""

    model_config = SettingsConfigDict(env_prefix="VBP_", extra="ignore")

    service: str = "service"
    database_url: str = ""
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "VBP_KAFKA_BOOTSTRAP_SERVERS"),
    )
    environment: str = "development"
    jwt_secret: str = DEV_JWT_SECRET
    jwks_url: str | None = None
    jwt_audience: str | None = None
    # security (issue #17; services/runtime/auth.py, audit.py, ratelimit.py)
    jwt_issuer: str | None = None
    jwt_leeway_s: float = Field(default=30.0, ge=0, le=300)
    """Clock skew allowed on ``exp``/``nbf``/``iat`` (bounded: at most 5 minutes)."""
    jwks_ttl_s: float = 300.0
    jwks_min_refresh_s: float = 10.0
    """At most one JWKS fetch per this many seconds for tokens naming an unknown ``kid``."""
    rate_limit_writes_per_s: float = 1000.0
    """Per organisation and service (per process), writes (POST/PUT/PATCH/DELETE); 0: none.
    The defaults stop a runaway client, not a busy hospital (the benchmarks drive a few
    hundred requests a second from one organisation)."""
    rate_limit_writes_burst: int = 2000
    rate_limit_reads_per_s: float = 500.0
    """Per organisation and service (per process), expensive reads (collections: lists,
    searches, exports, reports); 0: none."""
    rate_limit_reads_burst: int = 1000
    request_timeout_s: float = 30.0
    """A request running longer is answered 503 and its work cancelled; 0: no limit."""
    request_timeout_bulk_s: float = 900.0
    """The timeout of a request whose body is over 1 MiB (a bulk import: 200,000 rows take
    minutes)."""
    clock_epoch_sim: AwareDatetime | None = None
    """With it, the services' clock is accelerated (``vbp simulate``, docs/simulation.md):
    now = ``clock_epoch_sim`` + (wall now − ``clock_epoch_wall``) × ``clock_rate``."""
    clock_epoch_wall: float | None = None
    """Unix seconds at which the simulated clock read ``clock_epoch_sim`` (default: start-up)."""
    clock_rate: float = Field(default=1.0, gt=0)
    log_level: str = "INFO"
    data_dir: Path = Path("var")
    role: Literal["all", "api", "worker"] = "all"
    """What this process runs: ``all`` (HTTP, outbox relay and consumers), ``api`` (HTTP only;
    its commits wake the ``worker``'s relay through PostgreSQL NOTIFY) or ``worker`` (relay and
    consumers, HTTP for health and metrics)."""
    relay_interval_s: float = 0.2
    relay_gather_s: float = 0.025
    """After a wake-up, how long the relay lets further commits join its round (fewer, fuller
    produce requests against a little delay)."""
    relay_batch_size: int = 500
    relay_send_timeout_s: float = 10.0
    """How long a relay round waits for Kafka's acknowledgements before it counts a failure
    (``vbp_outbox_send_timeouts_total``); the deliveries stay in flight, never sent twice."""
    outbox_sample_interval_s: float = 2.0
    """How often the outbox backlog and oldest-row age are measured from the database."""
    kafka_retry_max_s: float = 15.0
    """While the broker is unreachable, the longest pause between two attempts to connect
    (topics, producer, consumers); the process serves and retries, it never exits for it."""
    group_commit_linger_s: float = 0.003
    """How long a write waits for others to share its transaction (``GroupCommit``). At 300
    orders/s, 3 ms halves the transactions and cuts the machine's CPU per order by a fifth, for
    3 ms more latency (docs/architecture.md, HTTP)."""
    consumer_max_retries: int = 4
    consumer_backoff_s: float = 0.2
    consumer_batch_size: int = 500
    consumer_instance_id: str | None = None
    """Kafka static membership (KIP-345): this process's stable name in its consumer groups
    (``group.instance.id``). A process started again under the same name takes over the
    partitions of the one that died at once, without a rebalance and without waiting for the
    dead one's session to time out (10 s). Unset or empty (the default): dynamic membership.
    The chart sets it to the worker pod's name (a StatefulSet's names are stable; docs/deploy.md).
    A static member does not leave the group when it stops: its partitions wait for its
    return, or for the session timeout, so each running process needs a name of its own."""
    max_body_bytes: int = 16 * 1024 * 1024
    max_page_size: int = 500
    kafka_partitions: int = 4
    kafka_replication_factor: int = 1
    """Replicas of each topic the service creates: 3 on a cluster of three or more brokers
    (docs/deploy.md); capped at the brokers there are, so 1 broker still works."""
    kafka_min_insync_replicas: int = 1
    """``min.insync.replicas`` of the topics created: with ``acks=all``, a write is acknowledged
    once this many replicas have it (2 of 3 survives one broker lost)."""

    @classmethod
    def for_service(cls, service: str, **overrides: object) -> Settings:
        """Settings of one service; its database URL from ``VBP_<SERVICE>_DATABASE_URL``,
        defaulting to an embedded SQLite file under ``VBP_DATA_DIR``."""
        settings = cls(service=service, **overrides)  # type: ignore[arg-type]
        if not settings.database_url:
            url = os.environ.get(f"VBP_{service.upper()}_DATABASE_URL", "")
            if not url:
                settings.data_dir.mkdir(parents=True, exist_ok=True)
                url = f"sqlite+aiosqlite:///{settings.data_dir / (service + '.db')}"
            settings = settings.model_copy(update={"database_url": url})
        return settings
