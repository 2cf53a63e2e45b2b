"""CPU seconds by process tree, read from /proc (Linux): what the simulation's summary divides
by the orders placed to print CPU per order for each service, PostgreSQL, the broker and the
simulator itself. CPU is steadier than wall time on a shared, loaded machine.

A tree's CPU is the sum over its living processes of their own CPU and their reaped
children's (``utime + stime + cutime + cstime``): PostgreSQL's backends that ended are counted
in the postmaster's ``cutime``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of it and its reaped children), or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # after "pid (comm) "
    ppid = int(fields[1])
    ticks = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return ppid, ticks / TICK


def snapshot() -> dict[int, tuple[int, float]]:
    """Every living process: pid → (ppid, CPU seconds)."""
    out: dict[int, tuple[int, float]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return out
    for entry in entries:
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None:
                out[int(entry)] = st
    return out


def tree_cpu(roots: Mapping[str, int | None]) -> dict[str, float]:
    """CPU seconds used so far by each named root process and its descendants."""
    procs = snapshot()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    out: dict[str, float] = {}
    for name, root in roots.items():
        if root is None or root not in procs:
            continue
        total, stack = 0.0, [root]
        while stack:
            pid = stack.pop()
            total += procs[pid][1]
            stack.extend(children.get(pid, ()))
        out[name] = total
    return out


def self_cpu() -> float:
    """This process's CPU seconds (the simulator's driver)."""
    t = os.times()
    return t.user + t.system


def per_unit_rows(before: Mapping[str, float], after: Mapping[str, float], units: int,
                  unit: str = "order") -> list[tuple[str, str]]:
    """Summary rows: each process's CPU seconds and CPU milliseconds per ``unit``, then the
    total."""
    rows: list[tuple[str, str]] = []
    total = 0.0
    for name in after:
        used = after[name] - before.get(name, 0.0)
        total += used
        per = f", {used / units * 1000:.1f} ms/{unit}" if units else ""
        rows.append((f"CPU {name}", f"{used:,.1f} s{per}"))
    per = f", {total / units * 1000:.1f} ms/{unit}" if units else ""
    rows.append(("CPU all processes", f"{total:,.1f} s{per}"))
    return rows
