"""What the benchmarks share: throwaway infrastructure, a service process, an open-loop load
generator, and percentiles. Everything listens on 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import multiprocessing
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

import aiohttp

from services import launcher
from services.devstack.kafka import KafkaBroker, ensure_jars
from services.devstack.net import free_loopback_port
from services.devstack.postgres import PostgresCluster

SECRET = "bench-secret-0123456789abcdef0123456789"


@dataclass
class Infra:
    bootstrap: str
    postgres: PostgresCluster
    root: Path


@contextmanager
def infrastructure() -> Iterator[Infra]:
    """A throwaway Kafka broker and PostgreSQL cluster, removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="vbp-bench-"))
    os.chmod(root, 0o755)
    broker = KafkaBroker(ensure_jars(), root / "kafka")
    pg = PostgresCluster(root / "pg")
    try:
        with ThreadPoolExecutor(2) as pool:  # side by side; generous on a shared machine
            for f in [pool.submit(broker.start, 300), pool.submit(pg.start, 300)]:
                f.result()
        yield Infra(broker.bootstrap_servers, pg, root)
    finally:
        broker.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Service:
    url: str
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the service and its worker processes."""
        return tree_cpu_seconds(self.pid)


def tree_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = " ".join(p.read_text() for p in Path(f"/proc/{pid}/task").glob("*/children"))
    except OSError:  # the process has gone
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(tree_cpu_seconds(int(child)) for child in children.split())


@contextmanager
def service(name: str, infra: Infra, **env: str) -> Iterator[Service]:
    """One service as its own process on PostgreSQL."""
    url = infra.postgres.create_database(f"bench_{name}")
    proc = launcher.start_service(
        name, free_loopback_port(),
        {"KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap, "VBP_JWT_SECRET": SECRET,
         f"VBP_{name.upper()}_DATABASE_URL": url, "VBP_LOG_LEVEL": "WARNING", **env},
        infra.root / "logs")
    try:
        launcher.wait_ready([proc], timeout=120)
        yield Service(proc.url, proc.process.pid)
    finally:
        launcher.stop_services([proc])


@dataclass
class LoadResult:
    sent: int
    errors: int
    duration_s: float
    latencies_ms: list[float]
    timeline: list[tuple[float, float]] = field(default_factory=list)
    """(seconds from the run's start to the request's scheduled start, its latency in ms)."""
    started: float = 0.0
    """When the run started, on ``time.monotonic()`` (asyncio's clock)."""

    def report(self, title: str) -> str:
        return (f"{title}: {self.sent} requests in {self.duration_s:.1f} s "
                f"({self.sent / self.duration_s:.0f}/s), errors {self.errors}, latency "
                f"{summary(self.latencies_ms)}")

    def over(self, over_ms: float) -> dict[int, list[float]]:
        """The latencies over ``over_ms``, by the second of the run they were started in."""
        slow: dict[int, list[float]] = {}
        for at, ms in self.timeline:
            if ms > over_ms:
                slow.setdefault(int(at), []).append(ms)
        return slow

    def slow_seconds(self, over_ms: float = 50.0) -> str:
        """Where the slow requests were: in how many of the run's seconds, and the worst of
        those seconds (a few bursts read differently from a tail spread over the run)."""
        slow = self.over(over_ms)
        if not slow:
            return f"no request over {over_ms:.0f} ms"
        worst = sorted(slow.items(), key=lambda kv: -len(kv[1]))[:5]
        shown = ", ".join(f"second {sec}: {len(v)} (max {max(v):.0f} ms)" for sec, v in worst)
        return (f"requests over {over_ms:.0f} ms: {sum(map(len, slow.values()))}, in "
                f"{len(slow)} of the run's {math.ceil(self.duration_s)} seconds; worst: {shown}")


def summary(values: list[float], unit: str = "ms") -> str:
    if not values:
        return "no values"
    ordered = sorted(values)
    return (f"p50 {pct(ordered, 50):.1f}  p95 {pct(ordered, 95):.1f}  "
            f"p99 {pct(ordered, 99):.1f}  max {ordered[-1]:.1f}  "
            f"mean {statistics.fmean(values):.1f} {unit}")


def pct(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


@contextmanager
def collector_paused() -> Iterator[None]:
    """The load generator's own garbage collector held off while it measures: a full
    collection of its heap takes tens of milliseconds, which would show as server latency."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


async def open_loop(
    rate: float, duration_s: float,
    request: Callable[[aiohttp.ClientSession, int], Awaitable[bool]],
    *, connections: int = 64, session: aiohttp.ClientSession | None = None,
) -> LoadResult:
    """Fire requests at a fixed arrival rate (not waiting for answers), measuring each from its
    scheduled start, so a slow server shows as latency rather than as a lower rate.
    Each request is started when it is due (not all created up front: creating thousands of
    tasks at once would itself make the first requests late). aiohttp: light enough on the
    client side not to be what is measured; ``session`` to reuse warm connections."""
    latencies: list[float] = []
    timeline: list[tuple[float, float]] = []
    errors = 0
    total = int(rate * duration_s)
    now = time.monotonic  # asyncio's clock; uvloop's loop.time() is cached, in milliseconds

    async def one(i: int, scheduled: float) -> None:
        nonlocal errors
        assert session is not None
        try:
            ok = await request(session, i)
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        ms = (now() - scheduled) * 1000
        latencies.append(ms)
        timeline.append((scheduled - start, ms))
        if not ok:
            errors += 1

    async def fire() -> None:
        running: set[asyncio.Task[None]] = set()
        for i in range(total):
            scheduled = start + i / rate
            if (delay := scheduled - now()) > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(i, scheduled))
            running.add(task)
            task.add_done_callback(running.discard)
        await asyncio.gather(*running)

    owned = session is None
    if session is None:
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections),
                                        timeout=aiohttp.ClientTimeout(total=30))
    try:
        with collector_paused():
            start = now()
            await fire()
            elapsed = now() - start
    finally:
        if owned:
            await session.close()
    return LoadResult(total, errors, elapsed, latencies, timeline, start)


@dataclass(frozen=True)
class CpuTimes:
    """The machine's CPU time so far, in ticks, from /proc/stat's first line."""

    busy: int
    """user, nice, system, irq, softirq: what the machine's own processes used."""
    iowait: int
    steal: int
    """Time the hypervisor gave the VM's CPUs to someone else while they had work."""
    total: int

    @classmethod
    def parse(cls, stat: str) -> CpuTimes:
        user, nice, system, idle, iowait, irq, softirq, steal = (
            int(f) for f in stat.split("\n", 1)[0].split()[1:9])
        busy = user + nice + system + irq + softirq
        return cls(busy, iowait, steal, busy + idle + iowait + steal)

    def share(self, since: CpuTimes) -> tuple[float, float, float]:
        """(busy, steal, iowait) between ``since`` and this, each a fraction of all CPU time."""
        total = max(self.total - since.total, 1)
        return ((self.busy - since.busy) / total, (self.steal - since.steal) / total,
                (self.iowait - since.iowait) / total)


class MachineSampler:
    """What the machine did in each second of a run, sampled from /proc/stat on a thread of its
    own: how busy its CPUs were, how much time the hypervisor took (steal) and how much was
    spent waiting for the disk (iowait). Told apart, a slow second that the machine was taken
    from reads differently from one in which the services themselves were slow."""

    def __init__(self, interval_s: float = 0.1) -> None:
        self._interval = interval_s
        self._samples: list[tuple[float, CpuTimes]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="machine-sampler", daemon=True)

    def __enter__(self) -> MachineSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        stat = Path("/proc/stat")
        while True:
            self._samples.append((time.monotonic(), CpuTimes.parse(stat.read_text())))
            if self._stop.wait(self._interval):
                return

    def seconds(self, start: float) -> dict[int, tuple[float, float, float]]:
        """(busy, steal, iowait) in each whole second since ``start`` (``time.monotonic()``,
        the clock of asyncio's loop)."""
        return per_second(self._samples, start)

    def report(self, result: LoadResult, over_ms: float = 50.0) -> str:
        return machine_report(self.seconds(result.started), result, over_ms)


def machine_report(seconds: dict[int, tuple[float, float, float]], result: LoadResult,
                   over_ms: float = 50.0) -> str:
    """The machine during the run (``seconds``: ``MachineSampler.seconds``): in its slow
    seconds (a request over ``over_ms`` was scheduled in them) and in the others."""
    run = {s: v for s, v in seconds.items() if s < math.ceil(result.duration_s)}
    slow = set(result.over(over_ms))

    def mean(which: list[tuple[float, float, float]]) -> str:
        if not which:
            return "none"
        busy, steal, iowait = (statistics.fmean(v) * 100 for v in zip(*which, strict=True))
        return f"CPU busy {busy:.0f}%, steal {steal:.1f}%, iowait {iowait:.1f}%"

    worst = max((v[1] for v in run.values()), default=0.0) * 100
    stolen = {s for s, (_, steal, _) in run.items() if steal >= STOLEN}
    rest = sorted(ms for at, ms in result.timeline if int(at) not in stolen)
    return (f"machine (/proc/stat, per second): in the slow seconds "
            f"{mean([v for s, v in run.items() if s in slow])}; in the others "
            f"{mean([v for s, v in run.items() if s not in slow])}; "
            f"highest steal in one second {worst:.0f}%; seconds with steal over "
            f"{STOLEN:.0%}: {len(stolen)}, p99 of the requests started in the other seconds "
            f"{pct(rest, 99):.1f} ms ({len(rest)} requests)")


STOLEN = 0.10
"""A second in which the hypervisor took this share of the CPUs or more is one the machine
was taken from (``machine_report``)."""


def per_second(samples: list[tuple[float, CpuTimes]], start: float
               ) -> dict[int, tuple[float, float, float]]:
    """Samples (when, CPU times) as (busy, steal, iowait) shares per whole second since
    ``start``: each second from its first sample to the first of the next."""
    firsts: dict[int, CpuTimes] = {}
    for when, times in samples:
        if when >= start:
            firsts.setdefault(int(when - start), times)
    return {s: firsts[s + 1].share(firsts[s]) for s in sorted(firsts) if s + 1 in firsts}


def timed() -> Callable[[], float]:
    started = time.perf_counter()
    return lambda: time.perf_counter() - started


async def closed_loop(
    concurrency: int, duration_s: float,
    request: Callable[[aiohttp.ClientSession, int], Awaitable[bool]],
    *, session: aiohttp.ClientSession | None = None,
) -> LoadResult:
    """``concurrency`` clients, each sending its next request as soon as its previous one is
    answered, for ``duration_s`` seconds: the throughput a server reaches at that concurrency
    (its latency, measured from each request's start, is the queue it keeps). The same
    generator and concurrency for a service and its raw baseline make their ratio fair."""
    latencies: list[float] = []
    timeline: list[tuple[float, float]] = []
    errors = 0
    sent = 0
    now = time.monotonic

    async def client() -> None:
        nonlocal errors, sent
        assert session is not None
        while (began := now()) < stop:
            i, sent = sent, sent + 1
            try:
                ok = await request(session, i)
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            ms = (now() - began) * 1000
            latencies.append(ms)
            timeline.append((began - start, ms))
            if not ok:
                errors += 1

    owned = session is None
    if session is None:
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency),
                                        timeout=aiohttp.ClientTimeout(total=30))
    try:
        with collector_paused():
            start = now()
            stop = start + duration_s
            await asyncio.gather(*(client() for _ in range(concurrency)))
            elapsed = now() - start
    finally:
        if owned:
            await session.close()
    return LoadResult(sent, errors, elapsed, latencies, timeline, start)


Request = Callable[[aiohttp.ClientSession, int], Awaitable[bool]]


class Generator:
    """The load generator in a process of its own (uvloop when installed), so that what the
    benchmark's process does meanwhile (reading Kafka, a raw loop) does not delay its sends or
    its clock. ``request`` (picklable, e.g. ``bench/orders.py``'s ``Placer``) lives in that
    process; each run sends it back with the result (``self.request``), and a run may change
    it first (``prepare``). The same generator serves a service and its raw baseline, and it
    still schedules each open-loop request on its own and measures it from that time
    (``open_loop``): a late send counts as latency. Times are ``time.monotonic()``, one clock
    for every process of the machine."""

    def __init__(self, request: Request, connections: int) -> None:
        self.request = request
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_generate, args=(child, request, connections),
                                    name="bench-load-generator", daemon=True)

    async def __aenter__(self) -> Generator:
        self._process.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self._conn.send(None)
        await asyncio.to_thread(self._process.join, 30)
        if self._process.is_alive():
            self._process.kill()

    async def _run(self, kind: str, n: float, duration_s: float,
                   prepare: Callable[[Any], None] | None) -> LoadResult:
        self._conn.send((kind, n, duration_s, prepare))
        outcome = await asyncio.to_thread(self._conn.recv)
        if isinstance(outcome, BaseException):
            raise outcome
        result, self.request = outcome
        return cast(LoadResult, result)

    async def open_loop(self, rate: float, duration_s: float,
                        prepare: Callable[[Any], None] | None = None) -> LoadResult:
        """``open_loop`` in the generator's process, after ``prepare(request)`` there."""
        return await self._run("open", rate, duration_s, prepare)

    async def closed_loop(self, concurrency: int, duration_s: float,
                          prepare: Callable[[Any], None] | None = None) -> LoadResult:
        """``closed_loop`` in the generator's process."""
        return await self._run("closed", concurrency, duration_s, prepare)


def _generate(conn: Connection, request: Request, connections: int) -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    asyncio.run(_serve(conn, request, connections))


async def _serve(conn: Connection, request: Request, connections: int) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections),
                                     timeout=aiohttp.ClientTimeout(total=30)) as session:
        while (order := await asyncio.to_thread(conn.recv)) is not None:
            kind, n, duration_s, prepare = order
            try:
                if prepare is not None:
                    prepare(request)
                if kind == "open":
                    result = await open_loop(n, duration_s, request, session=session)
                else:
                    result = await closed_loop(int(n), duration_s, request, session=session)
            except Exception as exc:  # to the benchmark's process, which raises it
                conn.send(exc)
                continue
            conn.send((result, request))
