"""Learning curves: fine-tune the packaged MiniLM on k examples and evaluate each model.

Usage:
    python bench/finetune_curve.py --data-dir ../shared/data [--store harness.sqlite] [--tasks sentiment,ner]

Sentiment (SST-2) at k in {16, 64, 256, 1024, all}, NER (CoNLL-2003) at k in {100, 1000, all}.
Each model is fine-tuned with `harness finetune` (k drawn at random with the seed), then
evaluated on the task's test split with `harness run`; the runs land in the store, and
`harness report` draws the curve on the task's page. A model folder that already holds a
finished fine-tune with the same settings is reused. Prints k, score, CI and wall times.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

from harness import get_model, get_task
from harness.run.config import RunConfig
from harness.run.finetune import FinetuneConfig, finetune
from harness.run.runner import run_matrix
from harness.store.store import Store

CURVES = {"sentiment": [16, 64, 256, 1024, None], "ner": [100, 1000, None]}


def settings_for(task: str, k: int | None) -> dict:
    """Small k needs more passes and a higher learning rate to move off chance (see MODELS.md)."""
    if k is None:
        return {"epochs": 2.0, "lr": 5e-5, "batch_size": 32}
    return {"epochs": float(min(40, max(3, math.ceil(800 / k)))), "lr": 1e-4, "batch_size": 16}


def main() -> None:
    """Fine-tune, evaluate and print one row per (task, k)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--store", default="harness.sqlite")
    parser.add_argument("--out-dir", default="finetuned/curve")
    parser.add_argument("--tasks", default="sentiment,ner")
    parser.add_argument("--base", default="minilm-l6")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dev-limit", type=int, default=1000, help="dev examples scored per epoch (model selection)")
    args = parser.parse_args()
    store = Store(args.store)
    rows = []
    for task_name in args.tasks.split(","):
        task = get_task(task_name)
        for k in CURVES[task_name]:
            out = Path(args.out_dir) / f"{args.base}-{task_name}-k{k or 'all'}"
            settings = settings_for(task_name, k)
            card_path = out / "harness_finetune.json"
            started = time.perf_counter()
            card = json.loads(card_path.read_text()) if card_path.exists() else None
            if card is None or card["hyperparameters"]["learning_rate"] != settings["lr"] or card["seed"] != args.seed:
                card = finetune(FinetuneConfig(task=task_name, base=args.base, out=str(out), train_limit=k, seed=args.seed,
                                               data_dir=args.data_dir, dev_limit=args.dev_limit, **settings), progress=False)
            finetune_s = time.perf_counter() - started
            started = time.perf_counter()
            summary = run_matrix(RunConfig.build([task], [get_model(f"hf:{out}")], store, data_dir=args.data_dir, seed=args.seed, progress=False))
            eval_s = time.perf_counter() - started
            result = summary.results[0]
            metric = result.scores.get(result.scores.headline)
            rows.append((task_name, card["k"], card["k_label"], metric, card["train_seconds"], finetune_s, eval_s))
            print(f"{task_name:<10} k={card['k']:<6} ({card['k_label']:>4})  test {result.scores.headline} {metric.value:.4f} "
                  f"[{metric.ci_low:.4f}, {metric.ci_high:.4f}]  train {card['train_seconds']:.0f} s  "
                  f"(this call: fine-tune {finetune_s:.0f} s, evaluate {eval_s:.0f} s)", flush=True)
    print(f"{len(rows)} points stored in {store.path}; draw them with: harness report --store {store.path}")


if __name__ == "__main__":
    main()
