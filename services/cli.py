"""The ``vbp`` command line."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from services.launcher import SERVICES

if TYPE_CHECKING:
    import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.role is not None:  # read by the app's Settings, in every worker process
        os.environ["VBP_ROLE"] = args.role
    uvicorn.run(
        f"services.{args.service}.app:create_app", factory=True, host=args.host,
        port=args.port or SERVICES[args.service], log_config=None, access_log=False,
        timeout_graceful_shutdown=20, workers=args.workers,
    )
    return 0


def _token(args: argparse.Namespace) -> int:
    from services.runtime.auth import mint_token
    from services.runtime.settings import Settings

    settings = Settings()
    if args.ttl <= 0:
        print("--ttl must be positive: every token expires", file=sys.stderr)
        return 2
    if settings.jwks_url:
        print("VBP_JWKS_URL is set: tokens come from the identity provider, not `vbp token`",
              file=sys.stderr)
        return 2
    # always with an expiry (tokens without ``exp`` are refused); iss/aud when configured
    print(mint_token(settings.jwt_secret, role=args.role, org=args.org, subject=args.subject,
                     ttl_s=args.ttl, issuer=settings.jwt_issuer,
                     audience=settings.jwt_audience))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from services.runtime.db import make_engine
    from services.runtime.migrate import upgrade
    from services.runtime.settings import Settings

    spec = importlib.import_module(f"services.{args.service}.app").SPEC
    settings = Settings.for_service(args.service)

    async def run() -> None:
        engine = make_engine(settings.database_url)
        try:
            await upgrade(engine, spec.migrations)
        finally:
            await engine.dispose()

    asyncio.run(run())
    print(f"{args.service}: migrated {settings.database_url}")
    return 0


def _dlt_replay(args: argparse.Namespace) -> int:
    from services.runtime.deadletters import replay_dead_letters
    from services.runtime.settings import Settings

    n = asyncio.run(replay_dead_letters(Settings().kafka_bootstrap_servers, args.topic))
    print(f"replayed {n} dead letters to {args.topic}, each for the consumer group that "
          "dead-lettered it (the others skip it)")
    return 0


def _payments_reconcile(args: argparse.Namespace) -> int:
    """Exit status 0 when every balance equals its transfers and debits equal credits."""
    from services.payments.reconcile import reconcile
    from services.runtime.db import make_engine
    from services.runtime.settings import Settings

    settings = Settings.for_service("payments")

    async def run() -> bool:
        engine = make_engine(settings.database_url)
        try:
            report = await reconcile(engine)
        finally:
            await engine.dispose()
        print("\n".join(report.lines()))
        return report.ok

    return 0 if asyncio.run(run()) else 1


CONTENT_TYPES = {
    ".txt": "text/plain; charset=utf-8",
    ".tsv": "text/tab-separated-values; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".json": "application/json",
}


def winning_import_key(program: str, content: bytes, content_type: str,
                       corrections_reason: str | None = None) -> str:
    """The ``Idempotency-Key`` of importing a winning-products table (issue #12, item 5).

    It covers what the import is: the program, the file's content (sha256) and format, and the
    corrections reason if any. The same file into another program, or corrected content after a
    failed import, is a new request with a new key; running the identical command again replays
    the first answer. (A refused import, 4xx, is never remembered: only a committed import is.)
    """
    import hashlib

    digest = hashlib.sha256()
    for part in (program, content_type, corrections_reason or ""):
        digest.update(part.encode())
        digest.update(b"\x1f")
    digest.update(content)
    return f"import-winning-{digest.hexdigest()}"


HINTS = {
    "idempotency-key-reused": "this Idempotency-Key was used for another request; run the "
                              "command again with --idempotency-key set to a new value",
    "table-rejected": "nothing was imported: correct the rows listed above in the file, then "
                      "run the same command again",
    "corrections-need-confirmation": "nothing was imported: to apply these changes to listed "
                                     "products, run again with --corrections-reason \"why\"",
    "not-found": "publish the program first (POST /v1/programs), or check --program",
}


async def import_winning_file(
    client: httpx.AsyncClient, program: str, name: str, content: bytes, *, token: str,
    corrections_reason: str | None = None, idempotency_key: str | None = None,
) -> httpx.Response:
    """POST a file's content to ``/v1/programs/{program}/winning-products``, its format from
    the file ``name``'s suffix, keyed by :func:`winning_import_key`."""
    content_type = CONTENT_TYPES[Path(name).suffix.lower()]
    key = idempotency_key or winning_import_key(program, content, content_type,
                                                corrections_reason)
    params = {"corrections_reason": corrections_reason} if corrections_reason else {}
    return await client.post(
        f"/v1/programs/{program}/winning-products", content=content, params=params,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type,
                 "Idempotency-Key": key})


def _import_winning(args: argparse.Namespace) -> int:
    """The same import as ``POST /v1/programs/{id}/winning-products``, from a file."""
    import json

    import httpx

    from services.runtime.auth import mint_token
    from services.runtime.settings import Settings

    path = Path(args.file)
    if path.suffix.lower() not in CONTENT_TYPES:
        print(f"unknown file type {path.suffix!r}; use one of {', '.join(CONTENT_TYPES)}",
              file=sys.stderr)
        return 2
    settings = Settings()
    token = args.token or os.environ.get("VBP_TOKEN") or mint_token(
        settings.jwt_secret, role="regulator", org=args.org, subject="vbp-cli",
        issuer=settings.jwt_issuer, audience=settings.jwt_audience)

    content = path.read_bytes()

    async def send() -> httpx.Response:
        async with httpx.AsyncClient(base_url=args.url.rstrip("/"), timeout=120) as client:
            return await import_winning_file(
                client, args.program, path.name, content, token=token,
                corrections_reason=args.corrections_reason,
                idempotency_key=args.idempotency_key)

    response = asyncio.run(send())
    body = response.json()
    print(json.dumps(body, ensure_ascii=False, indent=2))
    if response.is_success:
        return 0
    kind = str(body.get("type", "")).rsplit(":", 1)[-1] if isinstance(body, dict) else ""
    if kind in HINTS:
        print(f"vbp: {HINTS[kind]}", file=sys.stderr)
    return 1


def _monitoring_rebuild(args: argparse.Namespace) -> int:
    """Replay the topics into fresh read models of monitoring and swap them in."""
    from services.monitoring.rebuild import bar, rebuild
    from services.runtime.db import make_engine
    from services.runtime.settings import Settings

    settings = Settings.for_service("monitoring")

    async def run() -> None:
        engine = make_engine(settings.database_url)
        try:
            result = await rebuild(engine, settings.kafka_bootstrap_servers, progress=bar())
        finally:
            await engine.dispose()
        print(f"monitoring: rebuilt from {result.events:,} events (+{result.tail_events:,} "
              f"after the swap) in {result.seconds:.1f} s")

    asyncio.run(run())
    return 0


def _bench(args: argparse.Namespace) -> int:
    """Issue #19: the benchmarks with targets and their raw baselines, one run, one table."""
    sys.path.insert(0, str(REPO_ROOT))  # bench/ is the repository's, not part of the package
    from bench import suite

    return suite.run(args)


def _contracts(args: argparse.Namespace) -> int:
    from contracts import schemagen

    return schemagen.main(["--check"] if args.action == "check" else [])


def _clients(args: argparse.Namespace) -> int:
    from services import clients

    return clients.main(args.out, tuple(args.service or clients.SERVICES))


def _run(args: argparse.Namespace) -> int:
    """Start a local Kafka broker (unless KAFKA_BOOTSTRAP_SERVERS is set) and all services."""
    from services import launcher
    from services.devstack.kafka import KafkaBroker, ensure_jars

    broker = None
    env: dict[str, str] = {}
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        print("Kafka: fetching the broker's jars (first run only) and starting it…", flush=True)
        broker = KafkaBroker(ensure_jars(), REPO_ROOT / ".cache" / "kafka" / "data",
                             port=args.kafka_port)
        broker.start()
        bootstrap = broker.bootstrap_servers
        env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
    env.setdefault("VBP_DATA_DIR", str(REPO_ROOT / "var"))
    procs: list[launcher.ServiceProcess] = []
    prom = None
    stop = False

    def on_signal(_signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    try:
        for name, port in SERVICES.items():
            procs.append(launcher.start_service(name, port, env, REPO_ROOT / "var" / "logs"))
        launcher.wait_ready(procs, progress=lambda line: print(line, flush=True))
        prom = launcher.start_prometheus(procs, REPO_ROOT / "var" / "prometheus")
        print(f"\nVBP platform is up (Kafka at {bootstrap}):\n")
        for p in procs:
            print(f"  {p.name:<11} {p.url}   docs {p.url}/docs   metrics {p.url}/metrics")
        print(f"  {'prometheus':<11} {prom.url}   alerts {prom.url}/alerts" if prom else
              "  prometheus  not installed: python -m services.devstack prometheus-install")
        print(f"\n  logs in {REPO_ROOT / 'var' / 'logs'}; a token: vbp token --role regulator "
              "--org BUREAU\n  Ctrl-C stops everything.", flush=True)
        while not stop and all(p.process.poll() is None for p in procs):
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping…", flush=True)
        launcher.stop_services(procs)
        if prom is not None:
            prom.stop()
        if broker is not None:
            broker.stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vbp", description="VBP execution platform")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="start Kafka and all five services")
    p.add_argument("--kafka-port", type=int, default=9092)
    p.set_defaults(func=_run)

    p = sub.add_parser("serve", help="run one service")
    p.add_argument("service", choices=sorted(SERVICES))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int, default=int(os.environ.get("VBP_WORKERS", "1")),
                   help="processes serving HTTP (each also runs a relay and consumers "
                        "unless --role api)")
    p.add_argument("--role", choices=["all", "api", "worker"],
                   help="all (default): HTTP, outbox relay and consumers in one process; "
                        "api: HTTP only, with a 'worker' process of the same service relaying "
                        "and consuming (PostgreSQL only)")
    p.set_defaults(func=_serve)

    p = sub.add_parser("token", help="mint a local bearer token")
    p.add_argument("--role", required=True,
                   choices=["regulator", "operator", "institution", "enterprise", "distributor",
                            "agency"])
    p.add_argument("--org", required=True)
    p.add_argument("--subject")
    p.add_argument("--ttl", type=int, default=12 * 3600)
    p.set_defaults(func=_token)

    p = sub.add_parser("migrate", help="bring a service's database to the newest revision")
    p.add_argument("service", choices=sorted(SERVICES))
    p.set_defaults(func=_migrate)

    p = sub.add_parser("dlt", help="dead letters")
    dlt = p.add_subparsers(dest="action", required=True)
    r = dlt.add_parser("replay", help="send a topic's dead letters back to it, each for the "
                       "consumer group that failed it only")
    r.add_argument("topic")
    r.set_defaults(func=_dlt_replay)

    p = sub.add_parser("import", help="bulk imports")
    imp = p.add_subparsers(dest="what", required=True)
    w = imp.add_parser("winning", help="the notice's winning products table (.txt/.csv/.xlsx)")
    w.add_argument("--program", required=True)
    w.add_argument("--url", default=f"http://127.0.0.1:{SERVICES['catalog']}")
    w.add_argument("--token", help="bearer token (default: $VBP_TOKEN or a local one)")
    w.add_argument("--org", default="BUREAU", help="regulator org for a local token")
    w.add_argument("--corrections-reason", help="apply changes to listed products, why")
    w.add_argument("--idempotency-key",
                   help="override the key (default: from the program, format and content)")
    w.add_argument("file")
    w.set_defaults(func=_import_winning)

    p = sub.add_parser("payments", help="payments tools")
    pay = p.add_subparsers(dest="payments_command", required=True)
    r = pay.add_parser("reconcile", help="recompute every ledger balance from the transfers "
                                         "and compare with the stored balances (R-PAY-6)")
    r.set_defaults(func=_payments_reconcile)
    p = sub.add_parser("monitoring", help="the monitoring service's read models")
    mon = p.add_subparsers(dest="action", required=True)
    m = mon.add_parser("rebuild", help="replay the topics into fresh read models, swap them in")
    m.set_defaults(func=_monitoring_rebuild)

    p = sub.add_parser("bench", help="benchmarks against raw baselines, one table (issue #19)")
    p.add_argument("--quick", action="store_true",
                   help="a short run (seconds per figure, a lower rate): that all runs")
    for flag, kind, what in [
            ("--concurrency", int, "closed-loop clients (full 32)"),
            ("--closed", float, "seconds of each closed-loop run (full 20)"),
            ("--rate", float, "orders per second of the open-loop runs (full 300)"),
            ("--open", float, "seconds of each open-loop run (full 30)"),
            ("--events", int, "OrderPlaced events for routing and the raw loop (full 20000)"),
            ("--rows", int, "agreements imported before ordering (full 28000)")]:
        p.add_argument(flag, type=kind, help=what)
    p.set_defaults(func=_bench)

    # issue #19: vbp simulate, vbp chaos, vbp check (services/sim/)
    from services.sim.commands import register as register_simulation

    register_simulation(sub)

    p = sub.add_parser("contracts", help="JSON Schemas and AsyncAPI")
    p.add_argument("action", choices=["generate", "check"])
    p.set_defaults(func=_contracts)

    p = sub.add_parser("clients", help="generate typed Python clients of the services' HTTP "
                                       "APIs (openapi-python-client)")
    p.add_argument("--out", type=Path, default=Path("clients"),
                   help="folder for the packages vbp_<service>_client (default: ./clients)")
    p.add_argument("--service", action="append", choices=sorted(SERVICES),
                   help="only this service (repeatable); all five by default")
    p.set_defaults(func=_clients)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
