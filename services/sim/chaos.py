"""``vbp chaos``: the simulation while its platform is being broken, then the invariants.

At seeded random moments one of: a service process killed with SIGKILL (restarted after a
few seconds), the Kafka broker stopped and started, PostgreSQL crashed (immediate shutdown)
and started. The first three faults are one of each kind (in a seeded order), so even a short
run has them all. Faults come only within a window of wall time (the simulated year's, by
default) and at most ``max_faults`` of them: then the platform recovers and the driver finishes
the chains the faults held up. (Faulting until the driver's queue was empty never ended on a
loaded machine: every fault delayed chains, which kept the queue non-empty, which let more
faults come.) A supervisor restarts any service that exits (one whose database was down at
its start does). When the year is driven through, the platform is made whole, left to settle
(outboxes drained, consumers caught up) and checked (services/sim/invariants.py)."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from services.sim.platform import Platform


@dataclass
class Chaos:
    platform: Platform
    seed: int
    mean_gap_s: float = 20.0
    """Mean wall seconds between two faults."""
    window_s: float | None = None
    """Wall seconds after the start within which faults come (None: until stopped)."""
    max_faults: int | None = None
    log: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def stop(self) -> None:
        self._stop.set()

    async def _pause(self, seconds: float) -> bool:
        """Sleep; True when told to stop meanwhile."""
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
            return True
        except TimeoutError:
            return False

    async def supervise(self) -> None:
        """Restart every service that is not running, each second, until stopped."""
        while not await self._pause(1.0):
            for name in self.platform.dead():
                try:
                    await asyncio.to_thread(self.platform.restart, name)
                    self.counts["service restarts"] += 1
                except Exception as exc:
                    self.log.append(f"restarting {name} failed: {exc}"[:500])

    async def run(self) -> None:
        rng = random.Random(self.seed * 104_729 + 3)
        started = time.monotonic()
        services = sorted(self.platform.procs)
        first = [0.0, 0.75, 0.9]  # a SIGKILL, a broker restart, a PostgreSQL crash
        rng.shuffle(first)
        n = 0
        while True:
            gap = rng.expovariate(1 / self.mean_gap_s)
            if self.window_s is not None and n < len(first):  # one of each kind, whatever
                left = self.window_s - (time.monotonic() - started)  # the window
                gap = min(gap, max(left, 0.0) / (len(first) - n + 1))
            elif self.window_s is not None and (
                    time.monotonic() - started + gap > self.window_s):
                return
            if self.max_faults is not None and n >= self.max_faults:
                return
            if await self._pause(gap):
                return
            roll = first[n] if n < len(first) else rng.random()
            n += 1
            at = f"{time.monotonic() - started:6.1f}s"
            try:
                await self._fault(rng, roll, at, services)
            except Exception as exc:  # a fault that went wrong must not end the chaos
                self.counts["faults that failed"] += 1
                self.log.append(f"{at} the fault failed: {type(exc).__name__}: {exc}"[:500])
                await asyncio.to_thread(self.platform.heal)

    async def _fault(self, rng: random.Random, roll: float, at: str,
                     services: list[str]) -> None:
        """One fault: 70 % a SIGKILLed service, 15 % a broker restart, 15 % a PostgreSQL crash."""
        if roll < 0.7:
            name = rng.choice(services)
            self.platform.kill(name)  # the supervisor starts it again
            self.counts["SIGKILL " + name] += 1
            self.log.append(f"{at} SIGKILL {name}")
        elif roll < 0.85:
            self.log.append(f"{at} broker restart")
            await asyncio.to_thread(self.platform.restart_broker, rng.uniform(1, 5))
            self.counts["broker restarts"] += 1
        else:
            self.log.append(f"{at} PostgreSQL crash and restart")
            await asyncio.to_thread(self.platform.restart_postgres, rng.uniform(1, 5))
            self.counts["PostgreSQL crashes"] += 1
