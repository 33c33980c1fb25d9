"""How cheap a fully cached rerun is, next to the cold run that filled the cache.

Usage: python bench/cached_rerun.py --data-dir ../shared/data
       [--tasks ner,sentiment] [--models spacy-en-sm,vader]

Runs ``harness run --tasks ... --models ...`` twice into a fresh store, each from a new
process (so imports count, as they do for a user): first cold, then served entirely from
the cache. Prints both wall times and the ratio; exit status 1 when the rerun takes more
than 10% of the cold run.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(args: list[str]) -> tuple[float, str]:
    """Seconds one ``harness run`` takes from a fresh process, and its stdout."""
    exe = shutil.which("harness", path=str(Path(sys.executable).parent)) or "harness"
    started = time.perf_counter()
    done = subprocess.run([exe, "run", *args, "--no-progress"], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"harness run failed: {done.stderr.strip().splitlines()[-1]}")
    return seconds, done.stdout


def main() -> None:
    """Time the cold run and the cached rerun."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--tasks", default="ner,sentiment")
    parser.add_argument("--models", default="spacy-en-sm,vader")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        common = ["--tasks", args.tasks, "--models", args.models, "--data-dir", args.data_dir,
                  "--store", str(Path(folder) / "rerun.sqlite")]
        cold, cold_out = timed(common)
        warm, warm_out = timed(common)
    strip = lambda out: [line.split("  (computed")[0].rsplit("  ", 1)[0] for line in out.splitlines()]  # noqa: E731
    same = strip(cold_out) == strip(warm_out)
    print(f"harness run --tasks {args.tasks} --models {args.models} (real data)")
    print(f"cold   {cold:7.2f} s")
    print(f"cached {warm:7.2f} s  ({100 * warm / cold:.1f}% of cold); same metrics: {'yes' if same else 'NO'}")
    sys.exit(0 if same and warm <= 0.10 * cold else 1)


if __name__ == "__main__":
    main()
