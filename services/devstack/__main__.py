"""Command line for shell scripts: local Kafka and PostgreSQL for dev and tests.

python -m services.devstack kafka-jars                 # fetch the broker jars, print their dir
python -m services.devstack postgres-install           # apt-get install postgresql if missing
python -m services.devstack helm-install               # go install helm if missing
python -m services.devstack kafka --data-dir DIR [--port N]      # broker in the foreground
python -m services.devstack postgres --data-dir DIR [--port N]   # PostgreSQL in the foreground
python -m services.devstack kafka-cluster --data-dir DIR [--size 3]  # KRaft cluster, foreground
python -m services.devstack postgres-pair --data-dir DIR  # primary + synchronous standby
python -m services.devstack prometheus-install         # apt-get install prometheus if missing
python -m services.devstack prometheus --data-dir DIR [--port N]  # Prometheus scraping `make run`
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from services.devstack import prometheus
from services.devstack.helm import ensure_helm
from services.devstack.kafka import DEFAULT_CACHE_DIR, KafkaBroker, KafkaCluster, ensure_jars
from services.devstack.postgres import PostgresCluster, PostgresPair, ensure_installed


def _interrupt_on_signals() -> None:
    """Make SIGTERM behave like Ctrl-C, so ``finally`` blocks stop what we started.

    SIGINT gets Python's handler back too: a shell starting us with ``&`` leaves it ignored.
    """

    def handler(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _serve(name: str, start: Callable[[], str], running: Callable[[], bool], log: Path) -> int:
    """Start, print where to connect, then block until SIGINT/SIGTERM or the process dies."""
    try:
        print(start(), flush=True)
        while running():
            time.sleep(1.0)
        print(f"{name} exited unexpectedly; see {log}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


def _cmd_kafka_jars(args: argparse.Namespace) -> int:
    print(ensure_jars(args.cache_dir))
    return 0


def _cmd_postgres_install(_args: argparse.Namespace) -> int:
    print(ensure_installed())
    return 0


def _cmd_helm_install(_args: argparse.Namespace) -> int:
    print(ensure_helm())
    return 0


def _cmd_prometheus_install(_args: argparse.Namespace) -> int:
    print("\n".join(prometheus.ensure_installed()))
    return 0


def _cmd_prometheus(args: argparse.Namespace) -> int:
    data_dir = args.data_dir.resolve()
    config = prometheus.write_config(data_dir, prometheus.local_targets())
    server = prometheus.PrometheusServer(config, data_dir, args.port)

    def start() -> str:
        server.start(timeout=args.timeout)
        return server.url

    try:
        return _serve("Prometheus", start, server.is_running, server.log_file)
    finally:
        server.stop()


def _cmd_kafka(args: argparse.Namespace) -> int:
    jars = ensure_jars(args.cache_dir)
    broker = KafkaBroker(jars, args.data_dir.resolve(), args.port)

    def start() -> str:
        broker.start(timeout=args.timeout)
        return broker.bootstrap_servers

    try:
        return _serve("Kafka broker", start, broker.is_running, broker.broker_log)
    finally:
        broker.stop()


def _cmd_postgres(args: argparse.Namespace) -> int:
    cluster = PostgresCluster(args.data_dir.resolve(), args.port)

    def start() -> str:
        cluster.start(timeout=args.timeout)
        return cluster.dsn("postgres")

    try:
        return _serve("PostgreSQL", start, cluster.is_running, cluster.log_file)
    finally:
        cluster.stop()


def _cmd_kafka_cluster(args: argparse.Namespace) -> int:
    jars = ensure_jars(args.cache_dir)
    cluster = KafkaCluster(jars, args.data_dir.resolve(), size=args.size,
                           replicas=min(3, args.size), min_insync=min(2, args.size))

    def start() -> str:
        cluster.start(timeout=args.timeout)
        return cluster.bootstrap_servers

    def running() -> bool:
        return all(node.is_running() for node in cluster.nodes)

    try:
        return _serve("Kafka cluster", start, running, cluster.data_dir)
    finally:
        cluster.stop()


def _cmd_postgres_pair(args: argparse.Namespace) -> int:
    pair = PostgresPair(args.data_dir.resolve())

    def start() -> str:
        pair.start(timeout=args.timeout)
        return pair.url("postgres")

    try:
        return _serve("PostgreSQL pair", start, pair.primary.is_running, pair.data_dir)
    finally:
        pair.stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m services.devstack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    jars = sub.add_parser("kafka-jars", help="download the Kafka broker jars (if missing)")
    jars.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    jars.set_defaults(func=_cmd_kafka_jars)

    install = sub.add_parser("postgres-install", help="install Debian's postgresql (if missing)")
    install.set_defaults(func=_cmd_postgres_install)

    helm = sub.add_parser("helm-install", help="go install helm (if missing)")
    helm.set_defaults(func=_cmd_helm_install)
    prom_install = sub.add_parser("prometheus-install",
                                  help="install Debian's prometheus and promtool (if missing)")
    prom_install.set_defaults(func=_cmd_prometheus_install)

    prom = sub.add_parser("prometheus", help="run Prometheus on the `make run` services until "
                          "SIGINT/SIGTERM (deploy/prometheus config, targets on 127.0.0.1)")
    prom.add_argument("--data-dir", type=Path, required=True)
    prom.add_argument("--port", type=int, default=9090)
    prom.add_argument("--timeout", type=float, default=60)
    prom.set_defaults(func=_cmd_prometheus)

    kafka = sub.add_parser("kafka", help="run a single-node broker until SIGINT/SIGTERM")
    kafka.add_argument("--data-dir", type=Path, required=True)
    kafka.add_argument("--port", type=int, default=None)
    kafka.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    kafka.add_argument("--timeout", type=float, default=90)
    kafka.set_defaults(func=_cmd_kafka)

    kc = sub.add_parser("kafka-cluster", help="run a KRaft cluster of --size nodes (topics: "
                        "replication 3, min.insync.replicas 2) until SIGINT/SIGTERM")
    kc.add_argument("--data-dir", type=Path, required=True)
    kc.add_argument("--size", type=int, default=3)
    kc.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    kc.add_argument("--timeout", type=float, default=240)
    kc.set_defaults(func=_cmd_kafka_cluster)

    pair = sub.add_parser("postgres-pair", help="run a primary and a synchronous streaming "
                          "standby until SIGINT/SIGTERM; prints the multi-host URL")
    pair.add_argument("--data-dir", type=Path, required=True)
    pair.add_argument("--timeout", type=float, default=120)
    pair.set_defaults(func=_cmd_postgres_pair)

    pg = sub.add_parser("postgres", help="run a PostgreSQL cluster until SIGINT/SIGTERM")
    pg.add_argument("--data-dir", type=Path, required=True)
    pg.add_argument("--port", type=int, default=None)
    pg.add_argument("--timeout", type=float, default=60)
    pg.set_defaults(func=_cmd_postgres)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _interrupt_on_signals()
    try:
        return int(args.func(args))
    except RuntimeError as exc:  # DevstackError / PostgresError: a readable message, no trace
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
