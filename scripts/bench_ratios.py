#!/usr/bin/env python3
"""Prints a Markdown table of criterion results as ratios against a baseline variant.

Usage: scripts/bench_ratios.py [GROUP_PREFIX ...] [--baseline NAME ...]
Reads target/criterion/<group>/<variant>/new/estimates.json (or $CARGO_TARGET_DIR's).
For each group, every variant is compared with the first baseline name present in the
group (default: direct, std, bumpalo, Vec, VecDeque, slab, boxcar): ratio = baseline
median / variant median, so a ratio above 1.0 means the variant is faster. Bare times are
left out on purpose: on a shared machine only ratios from one run mean something.
"""
import json
import os
import sys
from pathlib import Path

args = sys.argv[1:]
baselines = ["direct", "std", "bumpalo", "Vec", "VecDeque", "slab", "boxcar"]
if "--baseline" in args:
    i = args.index("--baseline")
    baselines = args[i + 1:] + baselines
    args = args[:i]
prefixes = args
root = Path(os.environ.get("CARGO_TARGET_DIR", "target")) / "criterion"
if not root.is_dir():
    sys.exit(f"no criterion results under {root}")


def median(path):
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"]


print("| group | variant | ratio vs baseline |")
print("|---|---|---|")
for group in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "report"):
    if prefixes and not any(group.name.startswith(p) for p in prefixes):
        continue
    variants = {}
    for v in sorted(group.iterdir()):
        est = v / "new" / "estimates.json"
        if est.is_file():
            variants[v.name] = median(est)
    base = next((b for b in baselines if b in variants), None)
    for name, value in variants.items():
        ratio = f"{variants[base] / value:.2f}x vs {base}" if base and name != base else "baseline"
        print(f"| {group.name} | {name} | {ratio} |")
