"""How close split sizes come to the ratios: groundlabel's assignment and a pure hash threshold.

    python -m benchmarks.split_sizes [--seeds 100]

For folders of n images and a few split plans, over many seeds: how often every split holds
within one image of ``ratio · n``, and the largest miss seen, for

- ``threshold``: the memoryless rule (an image's split from its hash alone), the reference;
- ``first export``: ``assign_splits`` on the folder;
- ``after additions``: the folder grown by 10% three times, each export keeping the last one's
  assignment (what re-exporting into the same OUT does).
"""

from __future__ import annotations

import argparse
from collections import Counter

from groundlabel.formats.splits import Split, assign_splits, parse_splits, threshold_split


def miss(assignment: dict[str, str], plan: list[Split]) -> float:
    counts = Counter(assignment.values())
    return max(abs(counts[s.name] - s.ratio * len(assignment)) for s in plan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    args = parser.parse_args()
    print(f"{'images':>7} {'plan':<27} {'rule':<16} {'within 1 image':>14} {'largest miss':>13}")
    for plan_text in ("train=0.8,val=0.2", "train=0.7,val=0.2,test=0.1"):
        plan = parse_splits(plan_text)
        for n in (20, 100, 1_000, 10_000):
            paths = [f"img_{i:05d}.jpg" for i in range(n)]
            misses: dict[str, list[float]] = {"threshold": [], "first export": [], "after additions": []}
            for seed in range(args.seeds):
                misses["threshold"].append(miss({p: threshold_split(p, plan, seed) for p in paths}, plan))
                first = assign_splits(paths, plan, seed)
                misses["first export"].append(miss(first, plan))
                grown, current = list(paths), first
                for step in range(3):
                    grown += [f"added{step}_{i:05d}.jpg" for i in range(max(1, len(grown) // 10))]
                    current = assign_splits(grown, plan, seed, previous=current)
                misses["after additions"].append(miss(current, plan))
            for rule, values in misses.items():
                within = sum(v <= 1 for v in values) / len(values)
                print(f"{n:>7} {plan_text:<27} {rule:<16} {within:>14.0%} {max(values):>13.1f}")


if __name__ == "__main__":
    main()
