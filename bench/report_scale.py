"""How `harness report` scales: a store of 20 models x 12 task columns, and the example
explorer of CoNLL++ test x 10 models in headless Chromium.

Usage: python bench/report_scale.py --data-dir ../shared/data [--models 20] [--per-task 700]

1. Builds a store of simulated runs on the real data (each model answers with the gold
   answer, corrupted at its own seeded error rate: wrong labels, missed, mistyped and
   misbounded entities, spurious ones, uncorrected words; probabilities where the kind has
   them), scored by the tasks' real scorers, then times ``harness report`` on it from a fresh
   process, as a user runs it. Prints the time, the number of predictions, the site's size
   and its largest file, against the targets (under 10 s; no file over 5 MB).
2. Renders the explorer of the whole CoNLL++ test set (3,453 sentences) x 10 models and times
   loading it in headless Chromium until its script has rendered, next to an empty page
   (the browser's own start-up), and prints both and their difference.

Exit status 1 when a target is missed.
"""
from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: (task, split) of the 12 columns
COLUMNS = [
    ("ner", "test"), ("ner", "dev"), ("ner:wnut17", "test"), ("ner:wnut17", "dev"), ("sentiment", "validation"),
    ("sentiment", "dev"), ("spelling:norvig1", "test"), ("spelling:norvig2", "test"), ("spelling:toefl", "test"),
    ("coref:gap", "test"), ("coref:wsc273", "test"), ("coref:winogender", "test"),
]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]


def corrupt_tags(tags: list[str], labels: list[str], rate: float, rng: random.Random) -> list[str]:
    """Gold IOB2 tags with entities dropped, retyped, shortened or lengthened at ``rate``, and
    spurious one-token entities added."""
    from harness.kinds.tagging.scoring import entity_spans

    out = ["O"] * len(tags)
    for entity_type, start, end in entity_spans(tags):
        roll = rng.random()
        if roll < rate / 3:
            continue  # missed
        if roll < 2 * rate / 3:
            entity_type = rng.choice([t for t in labels if t != entity_type] or [entity_type])
        elif roll < rate:
            end = min(len(tags) - 1, end + 1) if end == start else end - 1
        for i in range(start, end + 1):
            out[i] = ("B-" if i == start else "I-") + entity_type
    for i, tag in enumerate(out):
        if tag == "O" and rng.random() < rate / 10 and (i == 0 or out[i - 1] == "O"):
            out[i] = "B-" + rng.choice(labels)
    return out


def simulate(task, example, rate: float, rng: random.Random):
    """One simulated model's prediction of one example."""
    from harness.core.model import Prediction

    wrong = rng.random() < rate
    if task.kind == "classification":
        labels = list(task.labels)
        label = rng.choice([x for x in labels if x != example.reference]) if wrong else example.reference
        confidence = rng.uniform(0.5, 1.0)
        rest = (1 - confidence) / (len(labels) - 1)
        return Prediction(label, {x: confidence if x == label else rest for x in labels})
    if task.kind == "choice":
        count = len(example.input["candidates"])
        gold = example.reference if isinstance(example.reference, int) else 0
        choice = (gold + 1) % count if wrong else gold
        confidence = rng.uniform(0.5, 1.0)
        return Prediction(choice, {str(i): confidence if i == choice else (1 - confidence) / (count - 1) for i in range(count)})
    if task.kind == "tagging":
        return Prediction(corrupt_tags(list(example.reference), list(task.labels), rate, rng))
    return Prediction(example.input if wrong else example.reference[0])


def build_store(path: Path, data_dir: str, models: int, per_task: int, columns=COLUMNS) -> int:
    """The simulated store of ``models`` on ``columns``; returns how many predictions it holds."""
    from harness import is_correct, score
    from harness.core.task import get_task
    from harness.store.store import RunRecord, Store

    store = Store(path)
    total = 0
    hardware = {"cpu_count": 16, "machine": "x86_64", "platform": "simulated", "python": "3.11"}
    for task_name, split in columns:
        task = get_task(task_name)
        loaded = task.load(split, data_dir=data_dir, source="local")
        examples = loaded.examples[:per_task]
        for m in range(models):
            rng = random.Random(f"{task_name}:{split}:{m}")
            rate = 0.04 + 0.03 * m
            predictions = [simulate(task, e, rate, rng) for e in examples]
            scores = score(task, examples, predictions, seed=0)
            correct = [is_correct(task, e, p) for e, p in zip(examples, predictions)]
            speed = 10 ** rng.uniform(0.5, 4)
            provenance = {"hardware": hardware, "model": {"name": f"sim-{m:02d}", "parameters": int(10 ** rng.uniform(6, 9))},
                          "task": {**task.describe(), **task.text_policy("local")},
                          "selection": {"limit": per_task, "sample": None, "of": len(loaded.examples)},
                          "throughput": {"load_seconds": rng.uniform(0.5, 30)}}
            run = RunRecord(task=task.name, task_version=task.version, kind=task.kind,
                            dataset=task.dataset_evaluated(split, "local"), split=split, data_source="local",
                            data_location=loaded.location, model=f"sim-{m:02d}", model_identity={"name": f"sim-{m:02d}"},
                            settings={"seed": 0}, cache_key=f"{task_name}:{split}:{m}", selection_key=f"limit-{per_task}",
                            n=len(examples), seed=0, wall_time_s=len(examples) / speed, compute_time_s=len(examples) / speed,
                            examples_per_s=speed, cached=0, provenance=provenance)
            store.save_run(run, scores, examples, predictions, correct)
            total += len(examples)
        print(f"  {task_name} ({split}): {len(examples)} examples x {models} models", file=sys.stderr)
    store.close()
    return total


def report(store: Path, out: Path) -> float:
    """Seconds ``harness report`` takes from a fresh process."""
    exe = shutil.which("harness", path=str(Path(sys.executable).parent)) or "harness"
    started = time.perf_counter()
    done = subprocess.run([exe, "report", "--store", str(store), "--out", str(out)], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"harness report failed: {done.stderr.strip()[-2000:]}")
    return time.perf_counter() - started


def browser_seconds(page: Path, profile: Path) -> tuple[float, str]:
    """Seconds headless Chromium takes to load ``page``, run its scripts and print the DOM."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if not binary:
        sys.exit("chromium is needed: apt-get install -y chromium")
    started = time.perf_counter()
    done = subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=300)
    return time.perf_counter() - started, done.stdout


def main() -> None:
    """Build both stores, time the report and the explorer, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--per-task", type=int, default=700)
    args = parser.parse_args()
    failed = False
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        print(f"building a store of {args.models} models x {len(COLUMNS)} task columns ...", file=sys.stderr)
        predictions = build_store(tmp / "scale.sqlite", args.data_dir, args.models, args.per_task)
        seconds = report(tmp / "scale.sqlite", tmp / "site")
        files = [p for p in (tmp / "site").iterdir() if p.is_file()]
        largest = max(files, key=lambda p: p.stat().st_size)
        size = largest.stat().st_size
        total = sum(p.stat().st_size for p in files)
        print(f"report of {args.models} models x {len(COLUMNS)} columns ({predictions:,} predictions): {seconds:.1f} s "
              f"(target < 10 s); {len(files)} files, {total / 1e6:.1f} MB; largest {largest.name} {size / 1e6:.2f} MB "
              f"(target <= 5 MB)")
        failed |= seconds >= 10 or size > 5_000_000

        print("building CoNLL++ test x 10 models ...", file=sys.stderr)
        build_store(tmp / "explorer.sqlite", args.data_dir, 10, 10_000, columns=[("ner", "test")])
        report(tmp / "explorer.sqlite", tmp / "explorer-site")
        page = tmp / "explorer-site" / "explore-ner-test.html"
        empty = tmp / "empty.html"
        empty.write_text("<!doctype html><title>empty</title><p>empty</p>")
        base, _ = browser_seconds(empty, tmp / "profile-empty")
        loaded, dom = browser_seconds(page, tmp / "profile-explorer")
        rendered = dom.count('class="explorer-row"')
        data = sum(p.stat().st_size for p in (tmp / "explorer-site").glob("explore-ner-test-data-*.js"))
        print(f"explorer of CoNLL++ test x 10 models ({data / 1e6:.1f} MB of data in "
              f"{len(list((tmp / 'explorer-site').glob('explore-ner-test-data-*.js')))} files): loaded and rendered "
              f"({rendered} rows on its first page) in {loaded:.2f} s; an empty page takes {base:.2f} s; "
              f"difference {loaded - base:.2f} s")
        failed |= rendered == 0
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
