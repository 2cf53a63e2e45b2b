"""python -m deploy.grafana [--check]: write (or check) deploy/grafana/dashboards/*.json."""

from __future__ import annotations

import argparse
import sys

from deploy.grafana.dashboards import OUT_DIR, render_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.grafana", description=__doc__)
    parser.add_argument("--check", action="store_true",
                        help="fail when the committed JSON differs from what the code generates")
    args = parser.parse_args(argv)
    rendered = render_all()
    stale = sorted(name for name, text in rendered.items()
                   if not (OUT_DIR / name).is_file() or (OUT_DIR / name).read_text() != text)
    extra = sorted(p.name for p in OUT_DIR.glob("*.json") if p.name not in rendered)
    if args.check:
        if stale or extra:
            print("dashboards out of date (run `make dashboards`): "
                  + ", ".join(stale + [f"{name} (no longer generated)" for name in extra]),
                  file=sys.stderr)
            return 1
        print(f"{len(rendered)} dashboards up to date")
        return 0
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name in extra:
        (OUT_DIR / name).unlink()
    for name, text in rendered.items():
        (OUT_DIR / name).write_text(text)
    print(f"wrote {len(rendered)} dashboards to {OUT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
