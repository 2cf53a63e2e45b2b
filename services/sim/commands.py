"""The ``vbp simulate``, ``vbp chaos`` and ``vbp check`` commands (services/cli.py adds them
with :func:`register`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from services.launcher import SERVICES

LEAD_S = 60.0
"""Wall seconds from the services' start to the execution start: their start-up and the
province's set-up fall in the simulated weeks before it (on a loaded machine they may take
longer; the first days' orders then run late, which the summary's lag line shows)."""


def register(sub: Any) -> None:
    """Add the simulation's subcommands to ``vbp``'s subparsers."""
    p = sub.add_parser("simulate", help="an agreement year of a synthetic province, over the "
                                        "services' HTTP APIs with an accelerated clock")
    _common(p, institutions=2000, minutes=12.0)
    p.add_argument("--attach", help="services already running: catalog=URL,orders=URL,… or a "
                                    "run.json; their clock from VBP_CLOCK_* (docs/simulation.md)")
    p.add_argument("--check", action="store_true",
                   help="check the invariants at the end (as vbp chaos does)")
    p.set_defaults(func=_simulate)

    p = sub.add_parser("chaos", help="the simulation while services, the broker and "
                                     "PostgreSQL are killed and restarted; then the invariants")
    _common(p, institutions=150, minutes=None)
    p.add_argument("--gap", type=float, default=20.0,
                   help="mean wall seconds between two faults (default 20)")
    p.add_argument("--window", type=float,
                   help="wall seconds from the year's start within which faults come "
                        "(default: the simulated days' wall time)")
    p.add_argument("--max-faults", type=int, help="at most this many faults")
    p.add_argument("--patience", type=float, default=600.0,
                   help="wall seconds a request or a wait for an event is tried (default 600)")
    p.add_argument("--time-limit", type=float,
                   help="fail (exit 3, saying where it was) after this many wall seconds")
    p.set_defaults(func=_chaos)

    p = sub.add_parser("check", help="check a run's invariants (topics and databases)")
    p.add_argument("--run", required=True, type=Path,
                   help="the run's directory (its run.json and acknowledged.jsonl)")
    p.set_defaults(func=_check)


def _common(p: argparse.ArgumentParser, *, institutions: int, minutes: float | None) -> None:
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--institutions", type=int, default=institutions)
    p.add_argument("--days", type=int, default=365, help="simulated days (default 365)")
    p.add_argument("--minutes", type=float, default=minutes,
                   help="wall minutes the simulated days take (sets --rate)")
    p.add_argument("--rate", type=float, help="simulated seconds per wall second")
    p.add_argument("--concurrency", type=int, default=48)
    p.add_argument("--tag", default="", help="suffix of every id (a second run on the same "
                                             "services)")
    p.add_argument("--dir", type=Path, help="keep the run here (data, logs, run.json)")
    p.add_argument("--no-progress", action="store_true")


def _rate(args: argparse.Namespace, default_minutes: float) -> float:
    from services.sim.simulate import default_rate

    if args.rate:
        return float(args.rate)
    return default_rate(args.days, args.minutes or default_minutes)


def _attach(spec: str) -> tuple[dict[str, str], Path | None]:
    if spec.endswith(".json"):
        run = json.loads(Path(spec).read_text())
        return dict(run["urls"]), Path(spec).parent
    urls = dict(part.split("=", 1) for part in spec.split(",") if part)
    missing = set(SERVICES) - set(urls)
    if missing:
        raise SystemExit(f"--attach names no URL for {', '.join(sorted(missing))}")
    return urls, None


def _simulate(args: argparse.Namespace) -> int:
    from services.runtime.clock import AcceleratedClock, clock_from_settings
    from services.runtime.settings import Settings
    from services.sim.cpu import per_unit_rows as cpu_rows
    from services.sim.platform import Platform
    from services.sim.province import generate
    from services.sim.simulate import Driver, make_clock, print_summary, summary_rows

    province = generate(args.seed, args.institutions, tag=args.tag)
    rate = _rate(args, 12.0)
    platform: Platform | None = None
    if args.attach:
        urls, run_dir = _attach(args.attach)
        settings = Settings()
        clock = clock_from_settings(settings.clock_epoch_sim, settings.clock_epoch_wall,
                                    settings.clock_rate)
        if not isinstance(clock, AcceleratedClock):
            print("--attach needs the services' clock in VBP_CLOCK_EPOCH_SIM, "
                  "VBP_CLOCK_EPOCH_WALL and VBP_CLOCK_RATE", file=sys.stderr)
            return 2
        secret, out_dir = settings.jwt_secret, args.dir or run_dir
    else:
        print(f"vbp simulate: seed {args.seed}, {len(province.institutions):,} institutions, "
              f"{rate:,.0f}× ({args.days} days in {args.days * 86400 / rate / 60:.1f} min); "
              "starting Kafka, PostgreSQL and the five services…", flush=True)
        platform = Platform({}, root=args.dir, keep=args.dir is not None)
        platform.start_infra()
        clock = make_clock(province, rate, lead_s=LEAD_S)
        platform.clock_env = clock.env()
        platform.start_services()
        urls, secret, out_dir = platform.urls, platform.secret, platform.root
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    cpu_before = platform.cpu() if platform is not None else {}
    try:
        driver = Driver(province, urls, clock, secret, days=args.days,
                        concurrency=args.concurrency, out_dir=out_dir,
                        progress=not args.no_progress)
        stats = asyncio.run(driver.run())
        wall = time.monotonic() - started
        rows = summary_rows(stats, province, wall, driver.start, clock.now())
        if platform is not None:
            rows += cpu_rows(cpu_before, platform.cpu(), stats.counts["orders placed"])
        print_summary(rows)
        for error in driver.errors[:10]:
            print(f"  error: {error}")
        ok = True
        if args.check and platform is not None:
            ok = _settle_and_check(platform, out_dir)
        return 0 if ok else 1
    finally:
        if platform is not None:
            platform.stop()


def _settle_and_check(platform: Any, out_dir: Path | None, timeout: float = 300) -> bool:
    from services.sim.invariants import check, read_acknowledged, wait_settled

    bootstrap, databases = platform.broker.bootstrap_servers, platform.databases
    print("waiting for the platform to settle (outboxes drained, consumers caught up)…",
          flush=True)
    settled = asyncio.run(wait_settled(bootstrap, databases, timeout=timeout))
    if not settled:
        print(f"  (not settled after {timeout:.0f} s: checking as it is)")
    acks = read_acknowledged(out_dir / "acknowledged.jsonl" if out_dir else None)
    report = asyncio.run(check(bootstrap, databases, acks))
    print("\n".join(report.lines()), flush=True)
    return report.ok


class TimeLimit(Exception):
    """The chaos run's overall time limit passed (``--time-limit``)."""


def _chaos(args: argparse.Namespace) -> int:
    from services.sim.chaos import Chaos
    from services.sim.platform import Platform
    from services.sim.province import generate
    from services.sim.simulate import Driver, make_clock, print_summary, summary_rows

    minutes = args.minutes or 2.0
    args.minutes = minutes
    province = generate(args.seed, args.institutions, tag=args.tag)
    rate = _rate(args, minutes)
    window = args.window if args.window is not None else args.days * 86_400 / rate
    limit: float | None = args.time_limit
    begun = time.monotonic()
    phase = ["starting the platform"]

    def left() -> float:
        """Seconds left of the time limit; raises TimeLimit when none."""
        if limit is None:
            return float("inf")
        remaining = limit - (time.monotonic() - begun)
        if remaining <= 0:
            raise TimeLimit
        return remaining

    print(f"vbp chaos: seed {args.seed}, {len(province.institutions):,} institutions, "
          f"{args.days} days in {minutes:.1f} min, a fault every ~{args.gap:.0f} s for "
          f"{window:.0f} s" + (f" (at most {args.max_faults})" if args.max_faults else "")
          + (f", time limit {limit:.0f} s" if limit else ""), flush=True)
    platform = Platform({}, root=args.dir, keep=args.dir is not None, durable=True)
    chaos = Chaos(platform, args.seed, mean_gap_s=args.gap, window_s=window,
                  max_faults=args.max_faults)
    driver: Driver | None = None
    try:
        platform.start_infra(timeout=min(240.0, left()))
        clock = make_clock(province, rate, lead_s=LEAD_S)
        platform.clock_env = clock.env()
        platform.start_services(timeout=min(180.0, left()))
        assert platform.root is not None
        started = time.monotonic()
        driver = Driver(province, platform.urls, clock, platform.secret, days=args.days,
                        concurrency=args.concurrency, out_dir=platform.root,
                        progress=not args.no_progress, patience_s=args.patience)
        d = driver

        async def run() -> Any:
            phase[0] = "setting the province up"
            await d.setup()  # the faults start with the year
            phase[0] = "driving the year under faults"
            monkey = asyncio.create_task(chaos.run())
            supervisor = asyncio.create_task(chaos.supervise())
            try:
                if args.no_progress:
                    await d.run_queue()
                else:
                    await d._run_with_bar()
            finally:
                chaos.stop()
                await asyncio.gather(monkey, supervisor, return_exceptions=True)
                await d.aclose()
            return d.stats

        async def bounded() -> Any:
            try:
                return await asyncio.wait_for(run(), left())
            except TimeoutError:
                raise TimeLimit from None

        stats = asyncio.run(bounded())
        wall = time.monotonic() - started
        phase[0] = "healing the platform"
        platform.heal()
        for name in platform.dead():
            platform.restart(name)
        platform.wait_ready(timeout=min(300, left()))
        rows = summary_rows(stats, province, wall, driver.start, clock.now())
        rows += [(k, f"{v:,}") for k, v in sorted(chaos.counts.items())]
        print_summary(rows, title="vbp chaos")
        _print_faults(chaos.log)
        for error in driver.errors[:10]:
            print(f"  error: {error}")
        phase[0] = "settling and checking the invariants"
        ok = _settle_and_check(platform, platform.root, timeout=min(300, left()))
        print(f"run kept in {platform.root}" if args.dir else "", flush=True)
        print(f"vbp chaos: {time.monotonic() - begun:.0f} s in all", flush=True)
        return 0 if ok and not driver.errors else 1
    except Exception as exc:
        late = limit is not None and time.monotonic() - begun > limit - 5
        if not isinstance(exc, TimeLimit) and not late:  # a start that ran out of time
            raise
        _print_faults(chaos.log)
        where = ""
        if driver is not None:
            where = (f"; {len(driver._queue):,} steps queued, {len(driver._running):,} running, "
                     f"{driver.stats.counts['orders placed']:,} orders placed, simulated "
                     f"{driver.now():%Y-%m-%d %H:%M} (UTC)")
        print(f"vbp chaos: FAILED — the time limit of {limit:.0f} s passed while "
              f"{phase[0]}{where}; the services' logs are in {platform.logs}", flush=True)
        return 3
    finally:
        platform.stop()


def _print_faults(log: list[str]) -> None:
    for line in log:
        print(f"  fault at {line}", flush=True)


def _check(args: argparse.Namespace) -> int:
    from services.sim.invariants import check, read_acknowledged

    run = json.loads((args.run / "run.json").read_text())
    acks = read_acknowledged(args.run / "acknowledged.jsonl")
    report = asyncio.run(check(run["bootstrap"], run["databases"], acks))
    print("\n".join(report.lines()))
    return 0 if report.ok else 1
