"""Speed-up of ``harness run --workers N`` over one process, with identical predictions.

Usage: python bench/workers_speedup.py --data-dir ../shared/data [--task spelling:birkbeck]
       [--models pyspellchecker,textblob,autocorrect] [--sample 6000] [--workers 2]

Runs the same ``harness run`` twice, each into a fresh store: ``--workers 1`` and then
``--workers N``. Prints each wall time (dictionaries loading included), the ratio, and
whether every stored prediction is identical (exit status 1 if not).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.store.store import Store


def timed_run(args: list[str], store: Path) -> float:
    """Seconds one ``harness run`` takes, from a fresh process."""
    exe = shutil.which("harness", path=str(Path(sys.executable).parent)) or "harness"
    started = time.perf_counter()
    done = subprocess.run([exe, "run", *args, "--store", str(store), "--no-progress"], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"harness run failed: {done.stderr.strip().splitlines()[-1]}")
    return seconds


def predictions(store: Path) -> list[tuple]:
    """Every stored prediction as (model, position, JSON), sorted."""
    frame = Store(store, readonly=True).predictions()
    return sorted((row.model, row.position, json.dumps(row.prediction, sort_keys=True)) for row in frame.itertuples())


def main() -> None:
    """Time both runs and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--task", default="spelling:birkbeck")
    parser.add_argument("--models", default="pyspellchecker,textblob,autocorrect")
    parser.add_argument("--sample", type=int, default=6000, help="a seeded random sample of the split (0: all of it)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    common = ["--tasks", args.task, "--models", args.models, "--data-dir", args.data_dir]
    if args.sample:
        common += ["--sample", str(args.sample)]
    with tempfile.TemporaryDirectory() as folder:
        one, many = Path(folder) / "one.sqlite", Path(folder) / "many.sqlite"
        one_s = timed_run([*common, "--workers", "1"], one)
        many_s = timed_run([*common, "--workers", str(args.workers)], many)
        same = predictions(one) == predictions(many)
        count = len(predictions(one))
    print(f"task {args.task}, models {args.models}, {count} predictions ({args.sample or 'all'} examples per model)")
    print(f"{'workers':>8} {'wall s':>8}")
    print(f"{1:>8} {one_s:>8.1f}")
    print(f"{args.workers:>8} {many_s:>8.1f}")
    print(f"speed-up {one_s / many_s:.2f}x; predictions identical: {'yes' if same else 'NO'}")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
