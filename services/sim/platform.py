"""The platform a simulation runs on: its own Kafka broker and PostgreSQL (one database per
service), and the five services as processes with the accelerated clock in their settings.
The chaos run kills and restarts each of these pieces (services/sim/chaos.py)."""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from services import launcher
from services.devstack.kafka import KafkaBroker, ensure_jars
from services.devstack.net import free_loopback_port
from services.devstack.postgres import PostgresCluster


@dataclass
class Platform:
    """Everything a simulation needs, started in ``root`` (a fresh temporary directory unless
    given; removed by :meth:`stop` when it made it and ``keep`` is false)."""

    clock_env: dict[str, str]
    root: Path | None = None
    keep: bool = False
    durable: bool = False
    """PostgreSQL with fsync and synchronous commits (the chaos run crashes it: without them a
    crash loses transactions already acknowledged, to HTTP clients and as Kafka offsets)."""
    secret: str = field(default_factory=lambda: secrets.token_hex(24))
    broker: KafkaBroker | None = None
    postgres: PostgresCluster | None = None
    env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, launcher.ServiceProcess] = field(default_factory=dict)
    _made_root: bool = False

    def start(self, progress: bool = True) -> None:
        self.start_infra()
        self.start_services(progress)

    def start_infra(self, timeout: float = 240) -> None:
        """The broker and PostgreSQL (the slow part: before the clock is chosen)."""
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="vbp-sim-"))
            self._made_root = True
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)  # PostgreSQL's own user must reach its data directory
        self.broker = KafkaBroker(ensure_jars(), self.root / "kafka")
        self.postgres = PostgresCluster(self.root / "pg", fsync=self.durable)
        self.broker.start(timeout=timeout)  # a loaded 2-core machine needs more than 90 s
        self.postgres.start(timeout=timeout)

    def start_services(self, progress: bool = True, timeout: float = 180) -> None:
        """The databases and the five services, with ``clock_env`` in their environment."""
        assert self.broker is not None and self.postgres is not None
        self.env = {"KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
                    "VBP_JWT_SECRET": self.secret, "VBP_RELAY_INTERVAL_S": "1.0",
                    "VBP_LOG_LEVEL": "WARNING", **self.clock_env}
        for name in launcher.SERVICES:
            self.env[f"VBP_{name.upper()}_DATABASE_URL"] = self.postgres.create_database(
                f"sim_{name}")
        for name in launcher.SERVICES:
            self.procs[name] = launcher.start_service(name, free_loopback_port(), self.env,
                                                      self.logs)
        launcher.wait_ready(list(self.procs.values()), timeout=timeout,
                            progress=(lambda line: print(line, flush=True)) if progress
                            else None)
        self.describe()

    @property
    def logs(self) -> Path:
        assert self.root is not None
        return self.root / "logs"

    @property
    def urls(self) -> dict[str, str]:
        return {name: p.url for name, p in self.procs.items()}

    @property
    def databases(self) -> dict[str, str]:
        return {name: self.env[f"VBP_{name.upper()}_DATABASE_URL"] for name in launcher.SERVICES}

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each service, PostgreSQL and the broker (their process
        trees, from /proc) and by this process (the simulator)."""
        from services.sim import cpu

        roots: dict[str, int | None] = {name: p.process.pid for name, p in self.procs.items()}
        if self.postgres is not None:
            pid_file = self.postgres.pgdata / "postmaster.pid"
            try:
                roots["postgresql"] = int(pid_file.read_text().split("\n", 1)[0])
            except (OSError, ValueError):
                roots["postgresql"] = None
        roots["kafka"] = self.broker.pid if self.broker is not None else None
        return {**cpu.tree_cpu(roots), "simulator": cpu.self_cpu()}

    def describe(self) -> Path:
        """``run.json`` in the root: what ``vbp check --run DIR`` reads."""
        assert self.root is not None and self.broker is not None
        path = self.root / "run.json"
        path.write_text(json.dumps({"bootstrap": self.broker.bootstrap_servers,
                                    "databases": self.databases, "urls": self.urls},
                                   indent=2))
        return path

    # --- faults (chaos) --------------------------------------------------------------------

    def kill(self, name: str) -> None:
        """SIGKILL a service process: no shutdown, nothing flushed."""
        proc = self.procs[name].process
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    def restart(self, name: str) -> None:
        """Start a service again on its port (after a kill, or after it exited)."""
        old = self.procs[name]
        if old.process.poll() is None:
            return
        self.procs[name] = launcher.start_service(name, old.port, self.env, self.logs)

    def dead(self) -> list[str]:
        return [name for name, p in self.procs.items() if p.process.poll() is not None]

    def restart_broker(self, down_s: float = 2.0) -> None:
        """Stop the broker and start it again on the same port and data."""
        assert self.broker is not None
        self.broker.stop()
        time.sleep(down_s)
        self.heal()

    def restart_postgres(self, down_s: float = 2.0) -> None:
        """Crash PostgreSQL (immediate shutdown: every connection lost) and start it again;
        it recovers from its WAL."""
        assert self.postgres is not None
        self.postgres.crash()
        time.sleep(down_s)
        self.heal()

    def heal(self, attempts: int = 5) -> None:
        """Start the broker and PostgreSQL again if they are not running (a start that fails,
        e.g. slow on a loaded machine, is tried again)."""
        assert self.broker is not None and self.postgres is not None
        for attempt in range(attempts):
            try:
                if not self.broker.is_running():
                    self.broker.start(timeout=180)
                if not self.postgres.is_running():
                    self.postgres.start(timeout=120)
                return
            except Exception:
                if attempt == attempts - 1:
                    raise
                time.sleep(2.0)

    def wait_ready(self, timeout: float = 180) -> None:
        launcher.wait_ready(list(self.procs.values()), timeout=timeout)

    def stop(self) -> None:
        launcher.stop_services(list(self.procs.values()))
        if self.broker is not None:
            self.broker.stop()
        if self.postgres is not None:
            self.postgres.stop()
        if self._made_root and not self.keep and self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
