"""A local single-node Apache Kafka broker (KRaft, combined broker + controller) for dev and tests.

The broker's jars come from Maven Central through ``deploy/kafka/pom.xml`` (see
:func:`ensure_jars`); Java 17 runs ``kafka.Kafka`` directly, without the Kafka shell scripts.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

from services.devstack.net import free_loopback_port, port_accepts

REPO_ROOT = Path(__file__).resolve().parents[2]
POM = REPO_ROOT / "deploy" / "kafka" / "pom.xml"
LOG4J2_CONFIG = REPO_ROOT / "deploy" / "kafka" / "log4j2.yaml"
DEFAULT_CACHE_DIR = REPO_ROOT / ".cache" / "kafka"

READY_MARKER = "Transitioning from RECOVERY to RUNNING"
STAMP_NAME = ".complete"
NODE_ID = 1
NETWORK_ERRORS = (
    "could not transfer", "unknownhost", "name or service not known", "name resolution",
    "connection refused", "timed out", "unreachable", "no route to host", "proxy",
    "no plugin found for prefix",  # what `mvn -q` says when it cannot download the plugin
)  # fmt: skip
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


class DevstackError(RuntimeError):
    """A local infrastructure component could not be set up, started or stopped."""


# --------------------------------------------------------------------------------------- helpers


def tail(path: Path, lines: int = 40, start: int = 0) -> str:
    """The last ``lines`` lines of a text file (from byte offset ``start``), or a placeholder."""
    try:
        with path.open("rb") as fh:
            fh.seek(start)
            data = fh.read()
    except OSError:
        return f"<{path} not readable>"
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def find_java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise DevstackError("java not found (install OpenJDK 17 or set JAVA_HOME)")
    return java


def new_cluster_id() -> str:
    """A KRaft cluster id: a random UUID, URL-safe base64 without padding (as Kafka formats it)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")


# ------------------------------------------------------------------------------------------ jars


def _pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def jars_ready(jars: Path) -> bool:
    """True when ``jars`` holds a complete download for the current pom.xml."""
    stamp = jars / STAMP_NAME
    return stamp.is_file() and stamp.read_text().strip() == _pom_digest()


def ensure_jars(cache_dir: Path = DEFAULT_CACHE_DIR) -> Path:
    """Download the broker's runtime jars into ``<cache_dir>/jars`` unless already there.

    A stamp file (holding the pom's digest) is written only after Maven succeeded, so an
    interrupted download, or a changed pom, is fetched again from scratch.
    """
    jars = cache_dir / "jars"
    if jars_ready(jars):
        return jars
    mvn = shutil.which("mvn")
    if mvn is None:
        raise DevstackError("mvn (Apache Maven) not found: it is needed to fetch the Kafka jars")
    if jars.exists():
        shutil.rmtree(jars)
    jars.mkdir(parents=True)
    cmd = [
        mvn, "-q", "-B", "-Dstyle.color=never", "-f", str(POM), "dependency:copy-dependencies",
        f"-DoutputDirectory={jars}", "-DincludeScope=runtime",
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = ANSI_ESCAPE.sub("", "\n".join((result.stdout + result.stderr).splitlines()[-30:]))
        network = any(s in output.lower() for s in NETWORK_ERRORS)
        cause = "Maven Central could not be reached" if network else "Maven failed"
        raise DevstackError(
            f"fetching the Kafka jars from Maven Central failed ({cause}; check network access,"
            f" proxy settings or ~/.m2/settings.xml): {' '.join(cmd)}\n{output}"
        )
    if not any(jars.glob("kafka_*.jar")):
        raise DevstackError(f"Maven succeeded but no kafka_*.jar landed in {jars}")
    (jars / STAMP_NAME).write_text(_pom_digest() + "\n")
    return jars


# ---------------------------------------------------------------------------------------- broker


class KafkaBroker:
    """One Kafka process acting as both KRaft controller and broker, listening on 127.0.0.1.

    ``data_dir`` keeps the configuration, the cluster id, the log segments (``logs/``) and the
    process output (``broker.log``); starting again on the same directory keeps the data.
    """

    def __init__(
        self,
        jars: Path,
        data_dir: Path,
        port: int | None = None,
        *,
        controller_port: int | None = None,
        heap: str = "768m",
    ) -> None:
        self.jars = jars
        self.data_dir = data_dir
        self.port = port if port is not None else free_loopback_port()
        self.controller_port = (
            controller_port if controller_port is not None else self._other_free_port()
        )
        self.heap = heap
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_fh: IO[bytes] | None = None

    # --------------------------------------------------------------- paths and properties

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def properties_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def broker_log(self) -> Path:
        return self.data_dir / "broker.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _other_free_port(self) -> int:
        for _ in range(20):
            candidate = free_loopback_port()
            if candidate != self.port:
                return candidate
        raise DevstackError("could not find a free loopback port for the Kafka controller")

    def server_properties(self) -> dict[str, str]:
        port, cport = self.port, self.controller_port
        return {
            "process.roles": "broker,controller",
            "node.id": str(NODE_ID),
            "controller.quorum.voters": f"{NODE_ID}@127.0.0.1:{cport}",
            "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.log_dir),
            "num.partitions": "4",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "10",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
            "delete.topic.enable": "true",
        }

    # ------------------------------------------------------------------------- lifecycle

    def _write_properties(self) -> None:
        lines = [f"{key}={value}" for key, value in self.server_properties().items()]
        header = "# Written by services/devstack/kafka.py on every start; edits are overwritten.\n"
        self.properties_file.write_text(header + "\n".join(lines) + "\n")

    def _cluster_id(self) -> str:
        path = self.data_dir / "cluster.id"
        if path.is_file():
            return path.read_text().strip()
        cluster_id = new_cluster_id()
        path.write_text(cluster_id + "\n")
        return cluster_id

    def _java_base(self) -> list[str]:
        return [
            find_java(),
            f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
            "-Djava.awt.headless=true",
            "-cp",
            f"{self.jars}/*",
        ]

    def _format_storage(self) -> None:
        """Format the log dir once; a formatted dir (meta.properties) is left as it is."""
        if (self.log_dir / "meta.properties").is_file():
            return
        cmd = [
            *self._java_base(), "-Xmx256m", "kafka.tools.StorageTool", "format",
            f"--cluster-id={self._cluster_id()}", f"--config={self.properties_file}",
        ]  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, text=True, cwd=self.data_dir)
        if result.returncode != 0:
            output = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
            raise DevstackError(f"formatting Kafka storage in {self.log_dir} failed:\n{output}")

    def start(self, timeout: float = 90) -> None:
        """Start the broker and return once it serves clients; raise with the log tail if not."""
        if self.is_running():
            raise DevstackError(f"Kafka broker already running (pid {self.pid})")
        if not (self.jars.is_dir() and any(self.jars.glob("kafka_*.jar"))):
            raise DevstackError(f"no Kafka jars in {self.jars}: run ensure_jars() first")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._write_properties()
        self._format_storage()
        offset = self.broker_log.stat().st_size if self.broker_log.exists() else 0
        self._log_fh = self.broker_log.open("ab")
        self._log_fh.write(f"=== devstack: starting broker {time.ctime()} ===\n".encode())
        self._log_fh.flush()
        cmd = [
            *self._java_base(), f"-Xmx{self.heap}", "-Xms128m", "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20", "-XX:+ExitOnOutOfMemoryError",
            "kafka.Kafka", str(self.properties_file),
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_fh,
            stderr=subprocess.STDOUT,
            cwd=self.data_dir,
            start_new_session=True,  # a Ctrl-C in the terminal goes to us, not to the JVM
        )
        atexit.register(self.stop)  # never leave an orphaned JVM behind us
        try:
            self._wait_ready(offset, timeout)
        except BaseException:
            self._kill()
            raise

    def _wait_ready(self, offset: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        marker_seen = False
        assert self._proc is not None
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code is not None:
                raise DevstackError(
                    f"Kafka broker exited with code {code} during start-up; "
                    f"{self.broker_log} ends with:\n{tail(self.broker_log, start=offset)}"
                )
            if not marker_seen:
                marker_seen = self._log_contains(READY_MARKER, offset)
            # The marker is logged just before the client listener opens: wait for both.
            if marker_seen and port_accepts(self.port):
                return
            time.sleep(0.2)
        raise DevstackError(
            f"Kafka broker not ready after {timeout:.0f}s; "
            f"{self.broker_log} ends with:\n{tail(self.broker_log, start=offset)}"
        )

    def _log_contains(self, needle: str, offset: int) -> bool:
        with self.broker_log.open("rb") as fh:
            fh.seek(offset)
            return needle.encode() in fh.read()

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM (controlled shutdown), wait up to ``timeout`` s, then SIGKILL."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self._release()

    def _kill(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        self._release()

    def _release(self) -> None:
        atexit.unregister(self.stop)
        self._proc = None
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None

    def __enter__(self) -> KafkaBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------------------- cluster


class KafkaNode(KafkaBroker):
    """One node of a :class:`KafkaCluster`: a combined KRaft controller and broker whose quorum
    is every node of the cluster, and whose internal topics are replicated like the platform's
    (``default.replication.factor`` and ``min.insync.replicas`` of the cluster)."""

    def __init__(
        self, jars: Path, data_dir: Path, *, node_id: int, cluster_id: str,
        port: int, controller_port: int, voters: str, replicas: int, min_insync: int,
        heap: str = "384m",
    ) -> None:
        super().__init__(jars, data_dir, port, controller_port=controller_port, heap=heap)
        self.node_id = node_id
        self.cluster_id = cluster_id
        self.voters = voters
        self.replicas = replicas
        self.min_insync = min_insync

    def server_properties(self) -> dict[str, str]:
        replicas, min_isr = str(self.replicas), str(self.min_insync)
        return {
            **super().server_properties(),
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.voters,
            "default.replication.factor": replicas,
            "min.insync.replicas": min_isr,
            "offsets.topic.replication.factor": replicas,
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": min_isr,
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": min_isr,
            # a restarted node takes its partitions' leadership back once it is in sync
            "auto.leader.rebalance.enable": "true",
            "leader.imbalance.check.interval.seconds": "10",
        }

    def _cluster_id(self) -> str:  # every node's storage formatted with the cluster's id
        return self.cluster_id

    def kill(self) -> None:
        """SIGKILL the node (no controlled shutdown): what a crashed machine looks like."""
        self._kill()


class KafkaCluster:
    """``size`` KRaft nodes on 127.0.0.1, each a controller and a broker with its own ports
    and data folder (``<data_dir>/node-<id>``), ``controller.quorum.voters`` listing them all,
    storage formatted with one cluster id. Topics default to ``replicas`` replicas (at most
    ``size``) and ``min.insync.replicas`` = ``min_insync``."""

    def __init__(
        self, jars: Path, data_dir: Path, *, size: int = 3, replicas: int = 3,
        min_insync: int = 2, heap: str = "384m",
    ) -> None:
        if size < 1 or not 1 <= min_insync <= replicas <= size:
            raise DevstackError(f"need 1 <= min_insync ({min_insync}) <= replicas "
                                f"({replicas}) <= size ({size})")
        self.data_dir = data_dir
        ports: list[int] = []
        while len(ports) < 2 * size:
            port = free_loopback_port()
            if port not in ports:
                ports.append(port)
        data_dir.mkdir(parents=True, exist_ok=True)
        id_file = data_dir / "cluster.id"
        if not id_file.is_file():
            id_file.write_text(new_cluster_id() + "\n")
        cluster_id = id_file.read_text().strip()
        voters = ",".join(f"{i + 1}@127.0.0.1:{ports[size + i]}" for i in range(size))
        self.nodes = [
            KafkaNode(jars, data_dir / f"node-{i + 1}", node_id=i + 1, cluster_id=cluster_id,
                      port=ports[i], controller_port=ports[size + i], voters=voters,
                      replicas=replicas, min_insync=min_insync, heap=heap)
            for i in range(size)
        ]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap_servers for node in self.nodes)

    def start(self, timeout: float = 180) -> None:
        """Start every node at once (a node is ready only when the quorum is), return when all
        serve clients; stop them all and raise if one does not."""
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            futures = [pool.submit(node.start, timeout) for node in self.nodes]
            errors = [f.exception() for f in futures]
        failed = [e for e in errors if e is not None]
        if failed:
            self.stop()
            raise failed[0]

    def stop(self, timeout: float = 30) -> None:
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda node: node.stop(timeout), self.nodes))

    def __enter__(self) -> KafkaCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
