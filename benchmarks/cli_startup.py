"""Wall time of ``groundlabel --help`` and a few ``groundlabel CMD --help``, each in a fresh process.

Usage: python benchmarks/cli_startup.py [--runs N]. Prints the median of N runs per command and,
as the reference measured in the same run, the median of ``python -c pass`` (interpreter start).
Target (issue 29): under 0.25 s per help.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = [["--help"], ["detect", "--help"], ["segment", "--help"], ["train", "--help"], ["serve", "--help"]]


def _median_seconds(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    base = _median_seconds([sys.executable, "-c", "pass"], runs)
    print(f"python -c pass (reference): {base:.3f} s")
    for argv in COMMANDS:
        seconds = _median_seconds([sys.executable, "-m", "groundlabel", *argv], runs)
        print(f"groundlabel {' '.join(argv):<16} {seconds:.3f} s (median of {runs})")


if __name__ == "__main__":
    main()
