#!/usr/bin/env python3
"""Dependency audit against what PyPI answers here (issue #17): ``pip-audit``'s sources are
not reachable from this machine (``api.osv.dev`` does not resolve; PyPI answers the per-version
JSON, ``/pypi/NAME/VERSION/json``, with 404), but the project JSON, ``/pypi/NAME/json``, does
answer: ``info.version`` is the latest release and ``vulnerabilities`` PyPI's advisories
(OSV, GHSA, PYSEC) that affect that latest release.

So, for every distribution installed in the environment running this script:

- installed == latest: PyPI's list is exactly about what we run: any entry fails the audit;
- installed < latest: not checkable here (PyPI only says what affects the latest), reported
  as such; but an advisory the latest still carries (fixed in a later version than ours, or
  not fixed at all) affects ours too, and fails the audit;
- installed > latest (a pre-release), or no such project on PyPI (this project's own
  distributions): not checkable, reported.

Prints a table and the counts (checked / clean / not checkable / vulnerable). Exit 0 when no
vulnerability is found, 1 when one is, 2 when PyPI cannot be asked (the bootstrap needs PyPI
too, so that is a broken set-up, not a pass).

    .venv/bin/python scripts/audit.py [--index https://pypi.org/pypi] [--jobs 8]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from packaging.version import InvalidVersion, Version

INDEX = "https://pypi.org/pypi"
TIMEOUT_S = 15.0
ATTEMPTS = 3

CLEAN, VULNERABLE, NOT_CHECKABLE = "clean", "VULNERABLE", "not checkable"


@dataclass(frozen=True)
class Advisory:
    id: str
    aliases: tuple[str, ...] = ()
    fixed_in: tuple[str, ...] = ()

    @classmethod
    def of(cls, entry: dict[str, Any]) -> Advisory:
        return cls(str(entry.get("id", "?")), tuple(entry.get("aliases") or ()),
                   tuple(str(v) for v in entry.get("fixed_in") or ()))

    def __str__(self) -> str:
        aliases = f" ({', '.join(self.aliases)})" if self.aliases else ""
        fixed = f" fixed in {', '.join(self.fixed_in)}" if self.fixed_in else " no fix yet"
        return f"{self.id}{aliases}{fixed}"


@dataclass(frozen=True)
class Verdict:
    name: str
    installed: str
    latest: str | None
    status: str
    why: str
    advisories: tuple[Advisory, ...] = field(default=())


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def affects(advisory: Advisory, installed: Version) -> bool:
    """Whether an advisory PyPI lists for the latest release affects ``installed`` too: it has
    no fix, or one of its fixes is above ``installed`` (an unreadable fix version counts)."""
    if not advisory.fixed_in:
        return True
    fixes = [_version(v) for v in advisory.fixed_in]
    return any(f is None or f > installed for f in fixes)


def judge(name: str, installed: str, project: dict[str, Any] | None) -> Verdict:
    """The verdict on one installed distribution, from PyPI's project JSON (None: no such
    project on PyPI)."""
    if project is None:
        return Verdict(name, installed, None, NOT_CHECKABLE, "not on PyPI")
    latest = str(project.get("info", {}).get("version", ""))
    advisories = tuple(Advisory.of(v) for v in project.get("vulnerabilities") or ())
    ours, theirs = _version(installed), _version(latest)
    if ours is None or theirs is None:
        return Verdict(name, installed, latest, NOT_CHECKABLE, "version not comparable")
    if ours == theirs:
        if advisories:
            return Verdict(name, installed, latest, VULNERABLE,
                           f"{len(advisories)} advisories on the installed (latest) release",
                           advisories)
        return Verdict(name, installed, latest, CLEAN, "latest, no advisory")
    if ours > theirs:
        return Verdict(name, installed, latest, NOT_CHECKABLE,
                       f"not checkable here: installed {installed} is newer than PyPI's "
                       f"latest {latest}")
    hitting = tuple(a for a in advisories if affects(a, ours))
    if hitting:
        return Verdict(name, installed, latest, VULNERABLE,
                       f"the latest {latest} still carries advisories that affect "
                       f"{installed}", hitting)
    return Verdict(name, installed, latest, NOT_CHECKABLE,
                   f"not checkable here: installed {installed}, latest {latest}")


def normalise(name: str) -> str:
    """PEP 503's name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed() -> list[tuple[str, str]]:
    """(name, version) of every distribution of this environment, once each."""
    found: dict[str, tuple[str, str]] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(normalise(name), (normalise(name), dist.version))
    return sorted(found.values())


class Unreachable(Exception):
    """PyPI did not answer (DNS, connection, timeouts, 5xx) after every attempt."""


def _context() -> ssl.SSLContext:
    cafile = os.environ.get("SSL_CERT_FILE") or os.environ.get("PIP_CERT")
    return ssl.create_default_context(cafile=cafile if cafile and os.path.exists(cafile)
                                       else None)


def fetch(index: str, name: str, context: ssl.SSLContext) -> dict[str, Any] | None:
    """The project JSON; None on 404 (no such project); ``Unreachable`` otherwise."""
    url = f"{index.rstrip('/')}/{name}/json"
    last: Exception | None = None
    for attempt in range(ATTEMPTS):
        try:
            request = urllib.request.Request(url, headers={"Accept": "application/json"})
            with urllib.request.urlopen(request, timeout=TIMEOUT_S, context=context) as answer:
                body: dict[str, Any] = json.load(answer)
                return body
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            last = exc
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            last = exc
        time.sleep(0.5 * (attempt + 1))
    raise Unreachable(f"{url}: {last}")


def audit(packages: Sequence[tuple[str, str]], index: str, jobs: int) -> list[Verdict]:
    context = _context()

    def one(package: tuple[str, str]) -> Verdict:
        name, version = package
        return judge(name, version, fetch(index, name, context))

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, packages))


def table(verdicts: Iterable[Verdict]) -> str:
    rows = [("package", "installed", "latest", "status", "why")]
    rows += [(v.name, v.installed, v.latest or "-", v.status, v.why) for v in verdicts]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4]
             for r in rows]
    for v in verdicts:
        lines += [f"    {v.name}: {a}" for a in v.advisories]
    return "\n".join(lines)


def counts(verdicts: Sequence[Verdict]) -> dict[str, int]:
    return {"checked": len(verdicts),
            "clean": sum(v.status == CLEAN for v in verdicts),
            "not checkable": sum(v.status == NOT_CHECKABLE for v in verdicts),
            "vulnerable": sum(v.status == VULNERABLE for v in verdicts)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--index", default=os.environ.get("VBP_AUDIT_INDEX", INDEX),
                        help="PyPI's JSON API (default %(default)s)")
    parser.add_argument("--jobs", type=int, default=8, help="requests at once")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        verdicts = audit(installed(), args.index, args.jobs)
    except Unreachable as exc:
        print(f"audit: PyPI cannot be asked ({exc}); the bootstrap needs PyPI too, so this is a "
              "broken set-up, not a pass", file=sys.stderr)
        return 2
    print(table(verdicts))
    total = counts(verdicts)
    print("audit: " + ", ".join(f"{n} {k}" for k, n in total.items())
          + f" ({time.monotonic() - started:.1f} s)")
    return 1 if total["vulnerable"] else 0


if __name__ == "__main__":
    sys.exit(main())
