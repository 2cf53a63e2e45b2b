"""The real services for the cluster tests: catalog, orders and supply as processes of
``vbp serve`` (services/launcher.py), on the test's Kafka cluster and PostgreSQL, seeded over
HTTP the way the end-to-end tests do it (tests/e2e/world.py), with orders placed by a hospital
over HTTP and what each service did counted from its database and from Kafka."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sized
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer
from sqlalchemy import text

from contracts.orders import ORDERS_TOPIC, OrderCancelled, OrderPlaced
from contracts.supply import DELIVERIES_TOPIC, OrderRouted
from services import launcher
from services.devstack.net import free_loopback_port
from services.orders.store import ORDER
from services.runtime.db import make_engine
from tests.cluster.conftest import MIN_INSYNC, REPLICAS
from tests.e2e.conftest import SECRET, bearer
from tests.e2e.world import assign_distributor, listing_in_orders, publish_program

REGION = "重庆市"


@dataclass
class Platform:
    """Service processes sharing one environment (Kafka, one database per service)."""

    bootstrap: str
    databases: dict[str, str]
    logs: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="vbp-cluster-")))
    processes: list[launcher.ServiceProcess] = field(default_factory=list)
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    listing: str = ""
    """The listing the hospital orders (set once seeded)."""

    @property
    def program(self) -> str:
        return f"CQ-CLUSTER-{self.run}"

    @property
    def hospital(self) -> dict[str, str]:
        return bearer("institution", f"H-{self.run}")

    @property
    def env(self) -> dict[str, str]:
        env = {"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "VBP_JWT_SECRET": SECRET,
               "VBP_RELAY_INTERVAL_S": "0.1", "VBP_KAFKA_REPLICATION_FACTOR": str(REPLICAS),
               "VBP_KAFKA_MIN_INSYNC_REPLICAS": str(MIN_INSYNC),
               # an infrastructure outage is retried, not dead-lettered as a poison message
               "VBP_CONSUMER_MAX_RETRIES": "1000"}
        env.update({f"VBP_{name.upper()}_DATABASE_URL": url
                    for name, url in self.databases.items()})
        return env

    def start(self, service: str, role: str, instance_id: str = "") -> launcher.ServiceProcess:
        """One process of ``service`` in ``role`` (api, worker or all); with ``instance_id``
        its consumers are static members of their groups under that name."""
        n = len(self.processes)
        proc = launcher.start_service(
            service, free_loopback_port(),
            {**self.env, "VBP_ROLE": role, "VBP_CONSUMER_INSTANCE_ID": instance_id},
            self.logs / f"{n:02d}-{service}-{role}")
        self.processes.append(proc)
        return proc

    def urls(self, service: str, role: str = "api") -> list[str]:
        return [p.url for p in self.processes
                if p.name == service and p.process.poll() is None
                and f"-{service}-{role}" in str(p.log.parent)]

    def logged(self, phrase: str) -> int:
        """How many log lines of all the processes contain ``phrase``."""
        return sum(line.count(phrase) for proc in self.processes
                   for line in proc.log.read_text(errors="replace").splitlines())

    def stop(self) -> None:
        launcher.stop_services(self.processes)
        shutil.rmtree(self.logs, ignore_errors=True)


def start_platform(bootstrap: str, create_database: Callable[[str], str], *,
                   orders_api: int = 2, orders_workers: int = 1, supply_workers: int = 1,
                   static_members: bool = False) -> Platform:
    """Catalog (one process), orders (``orders_api`` api processes and ``orders_workers``
    workers) and supply (an api process and ``supply_workers`` workers), ready, with a program
    listed in orders and a distributor assigned for the region in supply."""
    run = uuid.uuid4().hex[:6]
    platform = Platform(bootstrap, {s: create_database(f"c_{s}_{run}")
                                    for s in ("catalog", "orders", "supply")}, run=run)
    try:
        platform.start("catalog", "all")
        for _ in range(orders_api):
            platform.start("orders", "api")
        for i in range(orders_workers):
            platform.start("orders", "worker", f"orders-w{i}" if static_members else "")
        platform.start("supply", "api")
        for i in range(supply_workers):
            platform.start("supply", "worker", f"supply-w{i}" if static_members else "")
        launcher.wait_ready(platform.processes, timeout=240)
        catalog = platform.processes[0].url
        platform.listing = publish_program(catalog, platform.program, REGION)
        assign_distributor(platform.urls("supply")[0], f"D-{run}", REGION)
        listing_in_orders(platform.urls("orders")[0], platform.program, platform.hospital)
    except BaseException:
        platform.stop()
        raise
    return platform


CANCEL_EVERY = 4


@dataclass
class Load:
    """A hospital placing orders over HTTP at ``rate`` per second, spread over the orders api
    processes; an order counts as acknowledged when its ``201`` arrived."""

    platform: Platform
    rate: float
    acknowledged: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    """Orders cancelled right after their placement (every ``CANCEL_EVERY``-th): a second
    event on the order's key, which supply must apply after the first (per-key order)."""
    failed: int = 0
    longest_stall: float = 0.0
    """The longest time without an acknowledgement while the load ran."""
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        p = self.platform
        body = {"institution_id": f"H-{p.run}", "listing_id": p.listing, "units": 1,
                "unit_price": "730.00"}
        loop = asyncio.get_running_loop()
        last_ack = loop.time()
        pending: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(timeout=60) as client:

            async def place(url: str) -> None:
                nonlocal last_ack
                headers = {**p.hospital, "Idempotency-Key": uuid.uuid4().hex}
                try:
                    r = await client.post(f"{url}/v1/orders", json=body, headers=headers)
                except httpx.HTTPError:
                    self.failed += 1
                    return
                if r.status_code == 201:
                    order_id = r.json()["order_id"]
                    self.acknowledged.append(order_id)
                    now = loop.time()
                    self.longest_stall = max(self.longest_stall, now - last_ack)
                    last_ack = now
                    if len(self.acknowledged) % CANCEL_EVERY == 0:
                        await cancel(url, order_id)
                else:
                    self.failed += 1

            async def cancel(url: str, order_id: str) -> None:
                headers = {**p.hospital, "Idempotency-Key": uuid.uuid4().hex}
                try:
                    r = await client.post(f"{url}/v1/orders/{order_id}/cancel",
                                          json={"reason": "cluster test"}, headers=headers)
                except httpx.HTTPError:
                    return  # not acknowledged: not counted either way
                if r.status_code == 200:
                    self.cancelled.append(order_id)

            n = 0
            while not self._stop.is_set():
                tick = loop.time()
                urls = p.urls("orders")
                task = asyncio.create_task(place(urls[n % len(urls)]))
                pending.add(task)
                task.add_done_callback(pending.discard)
                n += 1
                await asyncio.sleep(max(0.0, 1 / self.rate - (loop.time() - tick)))
            await asyncio.gather(*pending)
        self.longest_stall = max(self.longest_stall, loop.time() - last_ack)


async def rows_of(url: str, sql: str, ids: list[str]) -> list[Any]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql), {"ids": ids})).all())
    finally:
        await engine.dispose()


async def found_in_orders(p: Platform, ids: list[str]) -> set[str]:
    rows = await rows_of(p.databases["orders"],
                         "SELECT order_id FROM orders WHERE order_id = ANY(:ids)", ids)
    return {r[0] for r in rows}


async def routed_in_supply(p: Platform, ids: list[str]) -> dict[str, datetime]:
    """Supply's routing of each order (its ``orders`` row, keyed by order id): routed_at."""
    rows = await rows_of(p.databases["supply"], "SELECT order_id, routed_at FROM orders "
                         "WHERE order_id = ANY(:ids) AND routed_at IS NOT NULL", ids)
    return {r[0]: r[1] for r in rows}


async def routed_in_orders(p: Platform, ids: list[str]) -> Counter[str]:
    """How many times orders applied each order's routing: its 'routed' history rows, or
    'routed_ignored' for an order cancelled before its routing arrived (a second application
    of the same ``OrderRouted`` would write a second one)."""
    rows = await rows_of(p.databases["orders"], "SELECT subject_id, count(*) FROM history "
                         f"WHERE subject_kind = '{ORDER}' "
                         "AND change IN ('routed', 'routed_ignored') "
                         "AND subject_id = ANY(:ids) GROUP BY subject_id", ids)
    return Counter({r[0]: r[1] for r in rows})


Counted = TypeVar("Counted", bound=Sized)


async def until_all(count: Callable[[], Awaitable[Counted]], ids: list[str],
                    timeout: float = 240) -> Counted:
    """``count()`` (what became of the orders ``ids``) once it covers every one of them, or
    as it is when the time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        got = await count()
        if len(got) >= len(set(ids)) or time.monotonic() > deadline:
            return got
        await asyncio.sleep(1.0)


async def cancelled_in_supply(p: Platform, ids: list[str]) -> set[str]:
    """The orders among ``ids`` that supply holds as cancelled."""
    rows = await rows_of(p.databases["supply"], "SELECT order_id FROM orders WHERE "
                         "order_id = ANY(:ids) AND status = 'cancelled'", ids)
    return {r[0] for r in rows}


async def events_per_key(bootstrap: str, topic: str, ce_type: str, keys: Iterable[str],
                         timeout: float = 60) -> Counter[str]:
    """Records of ``ce_type`` on ``topic`` per key among ``keys``, read from the beginning
    until each key has one (or the time runs out) and then to the end."""
    wanted = set(keys)
    by_key: Counter[str] = Counter()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for r in records:
                    key = (r.key or b"").decode()
                    headers = dict(r.headers)
                    if key in wanted and headers.get("ce_type") == ce_type.encode():
                        by_key[key] += 1
            quiet = 0 if batch else quiet + 1
            if len(by_key) >= len(wanted) and quiet >= 2:  # all seen, and read to the end
                break
    finally:
        await consumer.stop()
    return by_key


@dataclass
class Outcome:
    acknowledged: int
    found_in_orders: int
    order_placed_on_kafka: int
    order_placed_duplicated: int
    routed_in_supply: int
    order_routed_on_kafka: int
    order_routed_duplicated: int
    routed_in_orders: int
    routed_in_orders_twice: int
    cancelled: int
    order_cancelled_on_kafka: int
    order_cancelled_duplicated: int
    cancelled_in_supply: int

    def figures(self) -> dict[str, object]:
        return {
            "acknowledged": self.acknowledged, "found_in_orders_db": self.found_in_orders,
            "OrderPlaced_on_kafka": self.order_placed_on_kafka,
            "OrderPlaced_duplicated": self.order_placed_duplicated,
            "routed_in_supply_db": self.routed_in_supply,
            "OrderRouted_on_kafka": self.order_routed_on_kafka,
            "OrderRouted_duplicated": self.order_routed_duplicated,
            "routing_applied_in_orders_db": self.routed_in_orders,
            "routing_applied_twice_in_orders_db": self.routed_in_orders_twice,
            "cancelled": self.cancelled, "OrderCancelled_on_kafka": self.order_cancelled_on_kafka,
            "OrderCancelled_duplicated": self.order_cancelled_duplicated,
            "cancelled_in_supply_db_after_routing": self.cancelled_in_supply}

    def check(self) -> None:
        n = self.acknowledged
        assert n > 0
        assert self.found_in_orders == n, "an acknowledged order is missing from its database"
        assert self.order_placed_on_kafka == n, "an acknowledged order has no OrderPlaced"
        assert self.order_placed_duplicated == 0, "an OrderPlaced is on Kafka twice"
        assert self.routed_in_supply == n, "supply did not route every order"
        assert self.order_routed_on_kafka == n, "an order has no OrderRouted"
        assert self.order_routed_duplicated == 0, "an order was routed twice"
        assert self.routed_in_orders == n, "orders did not apply every order's routing"
        assert self.routed_in_orders_twice == 0, "orders applied an order's routing twice"
        assert self.cancelled > 0, "no order was cancelled"
        assert self.order_cancelled_on_kafka == self.cancelled, "a cancellation is missing"
        assert self.order_cancelled_duplicated == 0, "an OrderCancelled is on Kafka twice"
        # per-key order: placed, then cancelled, on one key; the other way round supply would
        # have ignored the cancellation of an order it did not know, then routed it
        assert self.cancelled_in_supply == self.cancelled, "a cancellation overtook its order"


async def outcome(p: Platform, acknowledged: list[str], cancelled: list[str]) -> Outcome:
    """What became of the acknowledged orders (and the ``cancelled`` among them) in orders,
    on Kafka and in supply."""
    routed = await until_all(lambda: routed_in_supply(p, acknowledged), acknowledged)
    cancelled_there = await until_all(lambda: cancelled_in_supply(p, cancelled), cancelled)
    cancelled_keys = await events_per_key(p.bootstrap, ORDERS_TOPIC, OrderCancelled.TYPE,
                                          cancelled)
    placed_keys = await events_per_key(p.bootstrap, ORDERS_TOPIC, OrderPlaced.TYPE,
                                                   acknowledged)
    routed_keys = await events_per_key(p.bootstrap, DELIVERIES_TOPIC, OrderRouted.TYPE,
                                          acknowledged)
    applied = await until_all(lambda: routed_in_orders(p, acknowledged), acknowledged)
    return Outcome(
        acknowledged=len(acknowledged),
        found_in_orders=len(await found_in_orders(p, acknowledged)),
        order_placed_on_kafka=len(placed_keys),
        order_placed_duplicated=sum(c - 1 for c in placed_keys.values()),
        routed_in_supply=len(routed),
        order_routed_on_kafka=len(routed_keys),
        order_routed_duplicated=sum(c - 1 for c in routed_keys.values()),
        routed_in_orders=len(applied),
        routed_in_orders_twice=sum(1 for c in applied.values() if c > 1),
        cancelled=len(cancelled), order_cancelled_on_kafka=len(cancelled_keys),
        order_cancelled_duplicated=sum(c - 1 for c in cancelled_keys.values()),
        cancelled_in_supply=len(cancelled_there))
