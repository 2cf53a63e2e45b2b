"""A short chaos run (issue #19): ``vbp chaos`` drives a small province's agreement months
through the five services while service processes are SIGKILLed, the broker restarted and
PostgreSQL crashed, at seeded moments; then every invariant must hold (exit status 0).

The run brings its own broker and PostgreSQL (it restarts them), so it never disturbs the
session's; the long run is ``make chaos`` (docs/simulation.md)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(1200)
def test_a_short_chaos_run_keeps_every_invariant() -> None:
    root = Path(tempfile.mkdtemp(prefix="vbp-chaos-"))  # PostgreSQL's user must traverse it
    root.chmod(0o755)
    try:
        check_run(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def check_run(root: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "services.cli", "chaos", "--seed", "3", "--institutions", "25",
         "--days", "60", "--minutes", "1.5", "--gap", "8", "--no-progress",
         "--dir", str(root / "run")],
        cwd=REPO, capture_output=True, text=True, timeout=1100, check=False)
    out = run.stdout + run.stderr
    if run.returncode != 0:  # what the run printed first (faults, summary), then its end
        out = out[:8000] + "\n…\n" + out[-3000:]
    assert run.returncode == 0, out
    assert "6/6 invariants hold" in out, out
    faults = re.findall(r"fault at .*(SIGKILL|broker restart|PostgreSQL crash)", out)
    assert len(faults) >= 3, out
    placed = re.search(r"orders placed\s*│\s*([\d,]+)", out)
    assert placed and int(placed.group(1).replace(",", "")) > 20, out
    acknowledged = (root / "run" / "acknowledged.jsonl").read_text().splitlines()
    assert len(acknowledged) == int(placed.group(1).replace(",", ""))
