"""``vbp simulate``: an agreement year of a synthetic province, over the running services'
public HTTP APIs only, with their clock accelerated (services/runtime/clock.py).

Every action is an ordinary API call at a simulated instant: the driver keeps a queue of
actions by simulated time and runs each once the shared clock has reached it. Each order
is a chain — placed (orders) → shipped and delivered by the distributor it was routed to
(supply) → accepted (orders) → paid (payments) — with delays drawn from the seed. Beside
the chains: monthly fund payments (offsets, R-PAY-4), pacing evaluations (R-AGR-6) and
report closings, a distributor barred mid-year with replacement assignments (R-SUP-4),
credit records (R-CRD-1), and renewals at the year's end (R-AGR-2), some refused.

A request that fails for the platform's reasons (connection refused, 5xx, 429) is sent
again with the same ``Idempotency-Key`` until it is answered, so a retried action happens
once; every order acknowledged with a 201 is written to ``acknowledged.jsonl`` (the chaos
run's checker reads it).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import heapq
import itertools
import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

from services.runtime.auth import mint_token
from services.runtime.clock import (
    SHANGHAI,
    AcceleratedClock,
    add_months,
    end_of_next_month,
    local,
)
from services.sim.province import PRESET, Institution, Province

DAY = timedelta(days=1)
FUND_CHUNK = 25
"""Institutions per ``POST /v1/fund-payments`` (500 at once overran payments' 30 s request
timeout on the loaded test machine, and 100 did three times in a 10-minute chaos run)."""
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
Step = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Response:
    """An answer, read whole."""

    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class GaveUp(RuntimeError):
    """A request the platform did not answer within the driver's patience."""


@dataclass
class Stats:
    counts: Counter[str] = field(default_factory=Counter)
    calls: int = 0
    retries: int = 0
    started: float = field(default_factory=time.monotonic)
    steps: int = 0
    lag_total_s: float = 0.0
    """Simulated seconds between the instants steps were planned for and when they ran."""
    lag_max_s: float = 0.0

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] += n


@dataclass
class Order:
    institution: Institution
    registration_no: str
    units: int
    seq: int
    order_id: str | None = None
    distributor: str | None = None
    tries: int = 0
    waiting_since: float | None = None


class Driver:
    """Runs one province's year against services at ``urls`` sharing ``clock``."""

    def __init__(self, province: Province, urls: dict[str, str], clock: AcceleratedClock,
                 secret: str, *, days: int = 365, concurrency: int = 48,
                 out_dir: Path | None = None, patience_s: float = 600.0,
                 progress: bool = True) -> None:
        self.p = province
        self.urls = urls
        self.clock = clock
        self.secret = secret
        self.days = days
        self.concurrency = concurrency
        self.patience_s = patience_s
        self.progress = progress
        self.rng = random.Random(province.seed * 7919 + 1)
        self.stats = Stats()
        self.start = province.execution_start
        self.end = self.start + timedelta(days=days)
        self._queue: list[tuple[datetime, int, Step]] = []
        self._seq = itertools.count()
        self._tokens: dict[tuple[str, str], tuple[float, str]] = {}
        self._running: set[asyncio.Task[None]] = set()
        self.out_dir = out_dir
        self._acks = ((out_dir / "acknowledged.jsonl").open("a", buffering=1)  # a line at a time
                      if out_dir else None)
        self._session: aiohttp.ClientSession | None = None
        self.monthly_paid: Counter[tuple[str, str]] = Counter()
        self.barred_done = False
        self.errors: list[str] = []

    # --- HTTP ------------------------------------------------------------------------------

    def token(self, role: str, org: str) -> str:
        now = time.time()
        cached = self._tokens.get((role, org))
        if cached is None or cached[0] < now + 600:
            cached = (now + 12 * 3600, mint_token(self.secret, role=role, org=org))
            self._tokens[(role, org)] = cached
        return cached[1]

    @property
    def session(self) -> aiohttp.ClientSession:
        """The driver's HTTP client, made in the running event loop. aiohttp: about 0.3 ms of
        CPU a request where httpx took 4–6 ms at this concurrency (docs/performance.md)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=60.0, connect=5.0),
                connector=aiohttp.TCPConnector(limit=self.concurrency * 2))
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._acks is not None:
            self._acks.close()

    async def call(self, method: str, service: str, path: str, role: str, org: str, *,
                   key: str | None = None, json_body: Any = None, content: bytes | None = None,
                   content_type: str | None = None,
                   params: dict[str, Any] | None = None) -> Response:
        """One request, sent again (same Idempotency-Key) while the platform cannot answer."""
        headers = {"Authorization": f"Bearer {self.token(role, org)}"}
        if key is not None:
            digest = hashlib.sha256(f"{self.p.program_id}\x1f{key}".encode()).hexdigest()
            headers["Idempotency-Key"] = f"sim-{digest[:40]}"
        if content_type:
            headers["Content-Type"] = content_type
        data: bytes | None = content
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        query = {k: str(v) for k, v in params.items()} if params else None
        deadline = time.monotonic() + self.patience_s
        pause = 0.2
        while True:
            self.stats.calls += 1
            try:
                async with self.session.request(method, self.urls[service] + path,
                                                headers=headers, data=data,
                                                params=query) as answer:
                    response = Response(answer.status, await answer.read())
                if response.status_code not in RETRY_STATUSES:
                    return response
                problem = response.text[:200]
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if time.monotonic() > deadline:
                raise GaveUp(f"{method} {service}{path}: {problem}")
            self.stats.retries += 1
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)

    # --- scheduling ------------------------------------------------------------------------

    def at(self, when: datetime, step: Step) -> None:
        heapq.heappush(self._queue, (when, next(self._seq), step))

    def now(self) -> datetime:
        return self.clock.now()

    async def _run_step(self, step: Step, sem: asyncio.Semaphore) -> None:
        try:
            await step()
        except GaveUp as exc:
            self.stats.add("gave up")
            self.errors.append(str(exc))
        except Exception as exc:  # a bug in a step must not stop the year
            self.stats.add("step errors")
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            sem.release()

    async def run_queue(self, until_empty: bool = True,
                        on_tick: Callable[[], None] | None = None) -> None:
        """Run every queued step once its simulated instant has come, ``concurrency`` at a
        time, until the queue is empty and no step is running."""
        sem = asyncio.Semaphore(self.concurrency)
        while self._queue or self._running:
            if on_tick is not None:
                on_tick()
            if not self._queue:
                await asyncio.sleep(0.05)
                continue
            when = self._queue[0][0]
            wait = self.clock.wall_at(when) - time.time()
            if wait > 0:
                await asyncio.sleep(min(wait, 0.1))
                continue
            await sem.acquire()
            when, _, step = heapq.heappop(self._queue)
            lag = (self.now() - when).total_seconds()
            self.stats.lag_total_s += lag
            self.stats.lag_max_s = max(self.stats.lag_max_s, lag)
            self.stats.steps += 1
            task = asyncio.create_task(self._run_step(step, sem))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    # --- set-up (before the execution start) -----------------------------------------------

    async def setup(self) -> None:
        p = self.p
        reg = ("regulator", "BUREAU")
        r = await self.call("POST", "catalog", "/v1/programs", *reg, key="program", json_body={
            "program_id": p.program_id, "category": "冠脉支架", "region": p.region,
            "notice_no": "渝医保办〔2023〕3号", "organiser": "national",
            "execution_start": p.execution_start.isoformat(), "cycle_years": 2,
            "preset": PRESET})
        self._expect(r, 201, "program")
        r = await self.call("POST", "catalog", f"/v1/programs/{p.program_id}/winning-products",
                            *reg, key="winning", json_body={"rows": [
                                x.row() for x in p.products]})
        self._expect(r, 201, "winning products")
        for d in p.distributors:
            r = await self.call("POST", "supply", "/v1/distributors", *reg,
                                key=f"dist-{d.distributor_id}",
                                json_body={"distributor_id": d.distributor_id, "name": d.name})
            self._expect(r, 201, "distributor")
        for reg_no, dist in p.assignments.items():
            await self.assign(reg_no, dist, "regional distributor", p.execution_start - 30 * DAY)
        institutions = [{"institution_id": i.institution_id, "region": p.region,
                         "institution_type": i.institution_type, "name": i.name}
                        for i in p.institutions]
        for n in range(0, len(institutions), 20_000):
            r = await self.call("POST", "orders", "/v1/institutions", *reg,
                                key=f"institutions-{n}",
                                json_body={"institutions": institutions[n:n + 20_000]})
            self._expect(r, 201, "institutions")
        await self._until(self._orders_know_listings, "orders learning the listings")
        r = await self.call("POST", "orders", f"/v1/programs/{p.program_id}/agreements", *reg,
                            key="agreements-1", content=p.agreements_csv().encode(),
                            content_type="text/csv", params={"agreement_year": 1})
        self._expect(r, 201, "agreements")
        self.stats.add("agreements", len(p.agreements))
        self.plan()

    async def assign(self, reg_no: str, distributor: str, reason: str,
                     valid_from: datetime) -> None:
        enterprise = self.p.product(reg_no).enterprise_id

        async def once() -> bool:
            r = await self.call("POST", "supply", "/v1/assignments", "enterprise", enterprise,
                                key=f"assign-{reg_no}-{distributor}", json_body={
                                    "registration_no": reg_no, "distributor_id": distributor,
                                    "scope": "region", "region": self.p.region,
                                    "valid_from": valid_from.isoformat(), "reason": reason})
            return r.status_code == 201  # until supply has the listing from catalog

        await self._until(once, f"assigning {reg_no}")
        self.stats.add("assignments")

    async def _orders_know_listings(self) -> bool:
        r = await self.call("GET", "orders", "/v1/listings", "regulator", "BUREAU",
                            params={"program_id": self.p.program_id, "limit": 500})
        return r.status_code == 200 and len(r.json()["items"]) >= len(self.p.products)

    async def _until(self, check: Callable[[], Awaitable[bool]], what: str,
                     timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while not await check():
            if time.monotonic() > deadline:
                raise GaveUp(f"timed out: {what}")
            await asyncio.sleep(0.3)

    def _expect(self, r: Response, status: int, what: str) -> None:
        if r.status_code != status and not (status == 201 and r.status_code == 200):
            raise GaveUp(f"{what}: HTTP {r.status_code} {r.text[:500]}")

    # --- the year's plan -------------------------------------------------------------------

    def plan(self) -> None:
        """Queue every order, the monthly jobs, the bar, the credit records, the renewals."""
        p, rng = self.p, self.rng
        by_inst: dict[str, list[tuple[str, int]]] = {}
        for (inst_id, reg), units in p.agreements.items():
            by_inst.setdefault(inst_id, []).append((reg, units))
        seq = 0
        span = (self.end - self.start).total_seconds()
        for inst in p.institutions:
            n = max(1, round(inst.orders_per_year * self.days / 365))
            for reg, annual in by_inst.get(inst.institution_id, []):
                target = annual * inst.pace * self.days / 365
                placed = 0
                for k in range(n):
                    # the k-th order brings the cumulative units to the pace's line at its time
                    due = round(target * (k + 1) / n)
                    units = due - placed
                    if units <= 0:
                        continue
                    placed = due
                    jitter = rng.uniform(-0.4, 0.4) / n
                    when = self.start + timedelta(seconds=span * min(max(
                        (k + 0.5) / n + jitter, 0.0), 0.999))
                    seq += 1
                    order = Order(inst, reg, units, seq)
                    self.at(when, functools.partial(self.place, order))
        months = max(1, round(self.days / 30.44))
        for m in range(1, months + 2):  # and the month after the year: its offsets (R-PAY-4)
            boundary = add_months(self.start, m)
            if boundary > add_months(self.end, 1):
                break
            when = boundary + timedelta(hours=6)
            self.at(when, functools.partial(self.month_end, m, closed_month(when)))
        self.at(self.start + timedelta(seconds=span * 0.5), self.bar)
        self.at(self.end - timedelta(seconds=span * 0.03), self.renewals)

    # --- an order's chain ------------------------------------------------------------------

    async def place(self, o: Order) -> None:
        inst, price = o.institution, self.p.product(o.registration_no).winning_price
        r = await self.call("POST", "orders", "/v1/orders", "institution", inst.institution_id,
                            key=f"order-{o.seq}", json_body={
                                "institution_id": inst.institution_id,
                                "listing_id": self.p.listing(o.registration_no),
                                "units": o.units, "unit_price": str(price)})
        if r.status_code != 201:
            self.stats.add(f"orders refused ({_kind(r)})")
            return
        o.order_id = r.json()["order_id"]
        self.stats.add("orders placed")
        self.stats.add("units ordered", o.units)
        if self._acks is not None:
            self._acks.write(json.dumps({"order_id": o.order_id, "seq": o.seq}) + "\n")
        late = self.rng.random() < self._late_share(o)
        delay = timedelta(hours=self.rng.uniform(6, 40))
        self.at(self.now() + delay, lambda: self.ship(o, late))

    def _late_share(self, o: Order) -> float:
        dist = self.p.assignments[o.registration_no]
        return next(d.late_share for d in self.p.distributors if d.distributor_id == dist)

    def expected_distributor(self, registration_no: str) -> str:
        """Where supply routes the product's orders: its assignment, or after the bar its
        replacement (the driver tries it first; the order's own view says for sure)."""
        if self.barred_done and registration_no in self.p.backups:
            return self.p.backups[registration_no]
        return self.p.assignments[registration_no]

    async def ship(self, o: Order, late: bool) -> None:
        assert o.order_id is not None
        distributor = self.expected_distributor(o.registration_no) if o.tries == 0 else None
        if distributor is None:  # where supply routed it (orders learns it from supply later)
            r = await self.call("GET", "supply", f"/v1/deliveries/{o.order_id}", "regulator",
                                "BUREAU")
            body = r.json() if r.status_code == 200 else {}
            if body.get("status") == "routed" and body.get("distributor_id"):
                distributor = str(body["distributor_id"])
        if distributor is not None:
            r = await self.call("POST", "supply", f"/v1/deliveries/{o.order_id}/shipments",
                                "distributor", distributor, key=f"ship-{o.seq}-{distributor}",
                                json_body={"units": o.units})
            if r.status_code == 201:
                o.distributor = distributor
                self.stats.add("orders shipped")
                hours = self.rng.uniform(72, 240) if late else self.rng.uniform(4, 36)
                self.at(self.now() + timedelta(hours=hours), lambda: self.deliver(o, late))
                return
            if r.status_code != 404:  # 404: not (yet) routed to this distributor
                self.stats.add(f"shipments refused ({_kind(r)})")
                return
        o.tries += 1
        if o.tries == 2:
            self.stats.add("waits for routing")
        if self.still_waiting(o, o.tries):  # not routed yet, or taken back from a barred one
            self.at(self.again(o.tries, hours=12 if o.tries > 1 else 2),
                    lambda: self.ship(o, late))
        else:
            self.stats.add("orders never routed")

    async def deliver(self, o: Order, late: bool) -> None:
        assert o.order_id is not None and o.distributor is not None
        r = await self.call("POST", "supply", f"/v1/deliveries/{o.order_id}/deliveries",
                            "distributor", o.distributor, key=f"deliver-{o.seq}-{o.distributor}",
                            json_body={"units": o.units})
        if r.status_code != 201:
            self.stats.add(f"deliveries refused ({_kind(r)})")
            return
        self.stats.add("orders delivered")
        if late:
            self.stats.add("deliveries late")
        self.at(self.now() + timedelta(hours=self.rng.uniform(2, 60)), lambda: self.accept(o))

    def again(self, tries: int, hours: float) -> datetime:
        """When to try a step again that waits for an event to travel: ``hours`` simulated,
        or longer in wall time as the tries mount (0.25 s doubling to 8 s). At a high rate a
        few simulated hours are a fraction of a wall second; a lagging consumer then drew a
        409 or 404 every few tenths of a second for each waiting order, and the storm of
        them slowed the platform further."""
        wall_s = min(0.25 * 2 ** min(tries, 5), 8.0)
        return self.now() + max(timedelta(hours=hours), timedelta(seconds=wall_s * self.clock.rate))

    def still_waiting(self, o: Order, tries: int) -> bool:
        """Whether to try a step again that waits for an event to travel: for ``patience_s``
        wall seconds (a broker restarting holds events up; :meth:`again` spaces the tries)."""
        if tries == 0 or o.waiting_since is None:
            o.waiting_since = time.monotonic()
        return time.monotonic() - o.waiting_since < self.patience_s

    async def accept(self, o: Order, tries: int = 0) -> None:
        assert o.order_id is not None
        inst = o.institution.institution_id
        r = await self.call("POST", "orders", f"/v1/orders/{o.order_id}/acceptance",
                            "institution", inst, key=f"accept-{o.seq}",
                            json_body={"accepted_units": o.units})
        if r.status_code == 409 and self.still_waiting(o, tries):  # delivery not in orders yet
            self.at(self.again(tries, hours=6), lambda: self.accept(o, tries + 1))
            return
        if r.status_code not in (200, 201):
            self.stats.add(f"acceptances refused ({_kind(r)})")
            return
        self.stats.add("orders accepted")
        accepted = self.now()
        due = end_of_next_month(accepted)
        if o.institution.late_payer and self.rng.random() < 0.5:
            when = due + timedelta(days=self.rng.uniform(1, 45))
        else:
            when = accepted + (due - accepted) * self.rng.uniform(0.1, 0.9)
        amount = self.p.product(o.registration_no).winning_price * o.units
        self.at(when, lambda: self.pay(o, amount, due))

    async def pay(self, o: Order, amount: Decimal, due: datetime, tries: int = 0) -> None:
        assert o.order_id is not None
        r = await self.call("POST", "payments", f"/v1/payables/{o.order_id}/payments",
                            "institution", o.institution.institution_id,
                            key=f"pay-{o.seq}", json_body={"amount": str(amount)})
        if r.status_code == 404 and self.still_waiting(o, tries):  # the payable not opened yet
            self.at(self.again(tries, hours=12), lambda: self.pay(o, amount, due,
                                                                      tries + 1))
            return
        if r.status_code != 201:
            self.stats.add(f"payments refused ({_kind(r)})")
            return
        self.stats.add("payables paid")
        self.stats.add("amount paid (fen)", int(amount * 100))
        if self.now() >= due:
            self.stats.add("paid late")
        month = local(self.now()).strftime("%Y-%m")
        self.monthly_paid[(o.institution.institution_id, month)] += int(amount * 100)

    # --- monthly and yearly events ---------------------------------------------------------

    async def month_end(self, m: int, last: date) -> None:
        """After the m-th agreement month: the agency's fund payments for the calendar month
        ``last`` (the one ended before the step's planned instant, not before the clock's now:
        a step run late, as when the platform falls behind, must not pay a month twice and
        skip another), offsets (R-PAY-4), pacing judged (R-AGR-6), the month's report
        closed."""
        month = last.strftime("%Y-%m")
        payments = [{"institution_id": i.institution_id, "month": last.isoformat(),
                     "amount": str(self._fund_amount(i, month))} for i in self.p.institutions]
        for n in range(0, len(payments), FUND_CHUNK):  # a loaded payments answers 100 in time
            part = payments[n:n + FUND_CHUNK]
            try:
                r = await self.call("POST", "payments", "/v1/fund-payments", "agency",
                                    self.p.agency, key=f"fund-{month}-{n}",
                                    json_body={"payments": part})
            except GaveUp as exc:  # the month's other jobs still run
                self.stats.add("gave up")
                self.errors.append(str(exc))
                continue
            if r.status_code == 201:
                self.stats.add("fund payments", len(part))
                offsets = sum(Decimal(x["offset"]) for x in r.json()["results"])
                self.stats.add("prepayments offset (fen)", int(offsets * 100))
            else:
                self.stats.add(f"fund payments refused ({_kind(r)})")
        r = await self.call("POST", "orders", "/v1/pacing/evaluations", "operator", "BUREAU",
                            key=f"pacing-{m}", json_body={"program_id": self.p.program_id})
        self.stats.add("pacing evaluations" if r.status_code in (200, 201)
                       else f"pacing evaluations refused ({_kind(r)})")
        r = await self.call("POST", "monitoring", "/v1/report-closings", "operator", "BUREAU",
                            key=f"report-{month}", json_body={"month": month,
                                                              "region": self.p.region})
        self.stats.add("monthly reports closed" if r.status_code in (200, 201)
                       else f"report closings refused ({_kind(r)})")

    def _fund_amount(self, inst: Institution, month: str) -> Decimal:
        """The fund's monthly payment to an institution: its size, with the seed's noise."""
        base = {"tertiary": 2_000_000, "secondary": 300_000, "primary": 40_000}[inst.level]
        rng = random.Random(f"{self.p.seed}-{inst.institution_id}-{month}")
        return Decimal(round(base * rng.uniform(0.8, 1.2)))

    async def bar(self) -> None:
        """Mid-year: the worst distributor goes on the violation list (R-SUP-4) after a
        credit record (R-CRD-1); its products' enterprises assign a replacement, and the orders
        taken back from it are routed again."""
        p = self.p
        today = local(self.now()).date()
        r = await self.call("POST", "monitoring", "/v1/credit/records", "regulator", "BUREAU",
                            key="credit-barred", json_body={
                                "subject_kind": "distributor", "subject_id": p.barred,
                                "program_id": p.program_id, "level": "general",
                                "conduct": "late_delivery", "description": "配送多次超时",
                                "evidence": [f"模拟-{p.seed}-配送记录"],
                                "occurred_on": today.isoformat()})
        self.stats.add("credit records" if r.status_code == 201
                       else f"credit records refused ({_kind(r)})")
        r = await self.call("POST", "supply", "/v1/violations", "regulator", "BUREAU",
                            key="bar", json_body={"distributor_id": p.barred,
                                                  "reason": "违规: 配送严重超时", "years": 1})
        self.stats.add("distributors barred" if r.status_code == 201
                       else f"bars refused ({_kind(r)})")
        for reg_no, backup in p.backups.items():
            await self.assign(reg_no, backup, "replaces a barred distributor", self.now())
            self.stats.add("replacement assignments")
        self.barred_done = True
        for d in p.distributors:  # the late ones get a record of the lowest level
            if d.late_share >= 0.15 and d.distributor_id != p.barred:
                r = await self.call("POST", "monitoring", "/v1/credit/records", "regulator",
                                    "BUREAU", key=f"credit-{d.distributor_id}", json_body={
                                        "subject_kind": "distributor",
                                        "subject_id": d.distributor_id,
                                        "program_id": p.program_id, "level": "general",
                                        "conduct": "late_delivery", "description": "配送超时",
                                        "evidence": ["配送记录"],
                                        "occurred_on": today.isoformat()})
                self.stats.add("credit records" if r.status_code == 201
                               else f"credit records refused ({_kind(r)})")

    async def renewals(self) -> None:
        """Near the year's end every institution with agreements renews for year 2 (R-AGR-2);
        those asking for less than the thresholds are refused."""
        per_inst: dict[str, Counter[str]] = {}
        for (inst_id, reg), units in self.p.agreements.items():
            per_inst.setdefault(inst_id, Counter())[self.p.product(reg).enterprise_id] += units
        for inst in self.p.institutions:
            if inst.institution_id not in per_inst:
                continue
            demand = [{"enterprise_id": e, "units": max(0, round(u * inst.renewal_ratio))}
                      for e, u in sorted(per_inst[inst.institution_id].items())]
            self.at(self.now(), functools.partial(self.renew, inst, demand))

    async def renew(self, inst: Institution, demand: list[dict[str, Any]]) -> None:
        r = await self.call("POST", "orders", "/v1/renewals", "institution",
                            inst.institution_id, key=f"renew-{inst.institution_id}",
                            json_body={"program_id": self.p.program_id, "agreement_year": 2,
                                       "institution_id": inst.institution_id,
                                       "demand": demand})
        if r.status_code == 201:
            self.stats.add("renewals accepted")
        elif r.status_code == 422 and _kind(r) == "renewal-refused":
            self.stats.add("renewals refused")
        else:
            self.stats.add(f"renewals failed ({_kind(r)})")

    # --- the whole run ---------------------------------------------------------------------

    async def run(self) -> Stats:
        try:
            await self.setup()
            if self.progress:
                await self._run_with_bar()
            else:
                await self.run_queue()
        finally:
            await self.aclose()
        return self.stats

    async def _run_with_bar(self) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        total = (self.end - self.start).total_seconds()
        columns = (TextColumn("[bold]{task.fields[date]}"), BarColumn(),
                   TextColumn("{task.percentage:>3.0f}%"),
                   TextColumn("{task.fields[events]:,} events · {task.fields[rate]:,.0f}/s"
                              " · {task.fields[queued]:,} queued"), TimeElapsedColumn())
        with Progress(*columns, refresh_per_second=4) as bar:
            task = bar.add_task("year", total=total, date="", events=0, rate=0.0, queued=0)
            last = [0.0]

            def tick() -> None:
                now = time.monotonic()
                if now - last[0] < 0.25:
                    return
                last[0] = now
                seconds = now - self.stats.started
                done = min(max((self.now() - self.start).total_seconds(), 0.0), total)
                bar.update(task, completed=done, date=f"{local(self.now()):%Y-%m-%d %H:%M}",
                           events=self.stats.calls,
                           rate=self.stats.calls / seconds if seconds else 0.0,
                           queued=len(self._queue) + len(self._running))

            await self.run_queue(on_tick=tick)
            tick()


def closed_month(when: datetime) -> date:
    """The last day of the calendar month (Shanghai) ended before ``when``."""
    return (local(when).replace(day=1) - DAY).date()


def _kind(r: Response) -> str:
    with contextlib.suppress(ValueError, AttributeError):
        kind = str(r.json().get("type", ""))
        if kind:
            return kind.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    return f"HTTP {r.status_code}"


def summary_rows(stats: Stats, province: Province, wall_s: float, sim_from: datetime,
                 sim_to: datetime) -> list[tuple[str, str]]:
    """The final table's rows: what the province is, what happened, how fast."""
    c = stats.counts
    rows = [
        ("seed", str(province.seed)),
        ("institutions", f"{len(province.institutions):,}"),
        ("winning products", f"{len(province.products):,}"),
        ("distributors", f"{len(province.distributors):,}"),
        ("agreements (year 1)", f"{len(province.agreements):,} "
                                f"({sum(province.agreements.values()):,} units)"),
        ("simulated", f"{local(sim_from):%Y-%m-%d} → {local(sim_to):%Y-%m-%d}"),
    ]
    for name in sorted(c):
        value = c[name]
        if name.endswith("(fen)"):
            rows.append((name.replace(" (fen)", ""), f"{value / 100:,.2f} yuan"))
        else:
            rows.append((name, f"{value:,}"))
    rate = stats.calls / wall_s if wall_s else 0.0
    rows += [("HTTP requests", f"{stats.calls:,} ({stats.retries:,} retried)"),
             ("wall time", f"{wall_s / 60:.1f} min"), ("requests per second", f"{rate:,.0f}")]
    if stats.steps:
        rows.append(("steps late on their plan (simulated)",
                     f"mean {stats.lag_total_s / stats.steps / 3600:.1f} h, "
                     f"max {stats.lag_max_s / 3600:.1f} h"))
    return rows


def print_summary(rows: list[tuple[str, str]], title: str = "vbp simulate") -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("what")
    table.add_column("count", justify="right")
    for name, value in rows:
        table.add_row(name, value)
    Console().print(table)


def default_rate(days: int, minutes: float) -> float:
    """The rate at which ``days`` simulated days pass in ``minutes`` of wall time."""
    return days * 86_400 / (minutes * 60)


def make_clock(province: Province, rate: float, lead_s: float) -> AcceleratedClock:
    """The run's clock: the execution start comes ``lead_s`` wall seconds from now (the set-up
    happens in the simulated weeks before it)."""
    return AcceleratedClock(province.execution_start, time.time() + lead_s, rate)


def today_in_shanghai() -> date:
    return datetime.now(SHANGHAI).date()
