"""Benchmark: a simulated week of a busy station under faults (the harness in tests/soak.py).

Three broadcasts every 3 and 6 minutes from 08:00 to 20:00 and one each morning, 7 days
(over 2,000 occurrences), on a fast fake clock; every third occurrence carries a fault in turn:
a rebuild (once or twice) while it plays, an invalid then fixed schedule.toml, a player that
crashes, hangs or ends early, a missing clip, kill -9 and a restart 3 occurrences later, a full
disk, a damaged play log. Prints occurrences, faults, records lost and duplicated (targets 0),
results other than expected, peak RSS and CPU.
Run: .venv/bin/python bench/soak.py [--days 7]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from soak import Soak  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args()
    logging.getLogger("announcer").setLevel(logging.CRITICAL)      # the faults' own log lines
    with tempfile.TemporaryDirectory(prefix="announcer-soak-") as tmp:
        result = Soak(Path(tmp), days=args.days, every_min=3).run()
    faults = ", ".join(f"{k} {v}" for k, v in result.faults.items())
    print(f"occurrences: {result.occurrences} over {args.days} days; faults injected: {sum(result.faults.values())} "
          f"({faults})")
    print(f"records lost: {len(result.lost)} (target 0); duplicated: {len(result.doubled)} (target 0); "
          f"left 'playing': {len(result.unended)}; other result than expected: {len(result.wrong)}")
    print(f"clips played {result.plays}, clips the records list {result.recorded_plays}")
    print(f"wall {result.seconds:.1f} s, CPU {result.cpu_s:.1f} s, peak RSS {result.peak_rss_mb:.0f} MB")
    for name in (result.lost + result.doubled + result.unended + result.wrong)[:10]:
        print("  ", name)


if __name__ == "__main__":
    main()
