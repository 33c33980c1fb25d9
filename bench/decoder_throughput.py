"""Decoders on a CPU, side by side: ``hf-causal`` (transformers, float32 on the de-quantised
weights) against ``llamacpp:`` (llama.cpp in process on the packaged GGUF), same examples,
same prompts, one run.

    python bench/decoder_throughput.py --data-dir ../shared/data
    python bench/decoder_throughput.py --data-dir ../shared/data --models qwen2.5-coder-0.5b --sst2-limit 200

Workloads: SST-2 validation scored 0-shot and 5-shot, WSC273 scored, CoNLL++ test generated
0-shot (the first ``--conll-limit`` sentences, default 100) and Norvig set 1 by generation.
For each: examples/s of each side (weights loaded before the clock starts; nothing cached),
the ratio, each side's metric, their paired difference (llamacpp - hf-causal) with a paired
bootstrap 95% CI, and how many answers are identical. With ``--lm-eval`` (``pip install -e
'.[bench]'``), stock lm-evaluation-harness (its ``hf`` backend, float32, the stock ``sst2`` YAML
reading the same raw file: ``bench/vs_lm_eval.py``) runs SST-2 0-shot on the same examples as a
third column. Targets (issue 27): llamacpp >= 3x hf-causal on CoNLL++ generation and >= 2x on
SST-2 scoring for qwen2.5-coder-0.5b and -1.5b, and >= 2x stock lm-eval on SST-2 0-shot.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from endpoint_vs_hf import per_example_stats  # noqa: E402  (bench scripts share their helpers)
from vs_lm_eval import run_lm_eval, write_lm_eval_tasks  # noqa: E402

MODELS = "smollm2-135m,qwen2.5-coder-0.5b,qwen2.5-coder-1.5b"
#: (label, task, shots, limit key)
WORKLOADS = [
    ("SST-2 0-shot", "sentiment", 0, "sst2"),
    ("SST-2 5-shot", "sentiment", 5, "sst2"),
    ("WSC273", "coref:wsc273", 0, "wsc"),
    ("CoNLL++ gen", "ner", 0, "conll"),
    ("Norvig1 gen", "spelling:norvig1", 0, "norvig"),
]
TARGETS = {"CoNLL++ gen": 3.0, "SST-2 0-shot": 2.0, "SST-2 5-shot": 2.0}


def timed(model, task, examples, shots):
    """Predictions and seconds (the weights are loaded before the clock starts)."""
    model.prepare()
    started = time.perf_counter()
    predictions = model.predict(task, examples, batch_size=16, shots=shots)
    return predictions, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--models", default=MODELS)
    parser.add_argument("--sst2-limit", type=int, default=None, help="SST-2 examples (default: all 872)")
    parser.add_argument("--wsc-limit", type=int, default=None, help="WSC273 examples (default: all 273)")
    parser.add_argument("--conll-limit", type=int, default=100)
    parser.add_argument("--norvig-limit", type=int, default=None, help="Norvig set 1 examples (default: all)")
    parser.add_argument("--only", default=None, help="run only the workloads whose label contains this text")
    parser.add_argument("--lm-eval", action="store_true", help="also stock lm-eval's hf backend on SST-2 0-shot")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    lm_eval_folder = None
    if args.lm_eval:
        import tempfile

        lm_eval_folder = Path(tempfile.mkdtemp())
        lm_eval_tasks = write_lm_eval_tasks(lm_eval_folder, args.data_dir)

    from harness import get_model, get_task
    from harness.run.runner import few_shot_examples
    from harness.scoring.stats import paired_difference

    limits = {"sst2": args.sst2_limit, "wsc": args.wsc_limit, "conll": args.conll_limit, "norvig": args.norvig_limit}
    workloads = [w for w in WORKLOADS if args.only is None or args.only in w[0]]
    rows = []
    print(f"{'model':22} {'workload':14} {'n':>5} {'hf ex/s':>8} {'llama ex/s':>10} {'ratio':>6} {'target':>7} "
          f"{'hf':>7} {'llama':>7} {'diff [95% CI]':>24} {'same':>6}")
    for name in args.models.split(","):
        # each model's default prompts (chat template where it has one), as harness run asks
        sides = {"hf": get_model(name), "llama": get_model(f"llamacpp:{name}")}
        for model in sides.values():
            model.context.progress = False
        for label, task_name, k, key in workloads:
            task = get_task(task_name)
            examples = task.load(None, data_dir=args.data_dir, source="local").examples
            examples = examples[: limits[key]] if limits[key] else examples
            shots = few_shot_examples(task, k, seed=0, data_dir=args.data_dir, source="local") if k else []
            (hf_predictions, hf_seconds), (predictions, seconds) = (
                timed(sides[side], task, examples, shots) for side in ("hf", "llama"))
            hf_stats, metric = per_example_stats(task, examples, hf_predictions)
            stats, _ = per_example_stats(task, examples, predictions)
            row = {"model": name, "workload": label, "n": len(examples), **paired_difference(hf_stats, stats, metric),
                   "same_answers": sum(h.output == p.output for h, p in zip(hf_predictions, predictions)),
                   "hf_examples_per_s": len(examples) / hf_seconds, "llama_examples_per_s": len(examples) / seconds}
            row["ratio"] = row["llama_examples_per_s"] / row["hf_examples_per_s"]
            target = TARGETS.get(label) if name != "smollm2-135m" else None
            row["target"] = target
            rows.append(row)
            ci = f"{row['difference']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]"
            verdict = "" if target is None else (f">={target:g} ok" if row["ratio"] >= target else f">={target:g} MISS")
            print(f"{name:22} {label:14} {row['n']:>5} {row['hf_examples_per_s']:>8.2f} {row['llama_examples_per_s']:>10.2f} "
                  f"{row['ratio']:>5.2f}x {verdict:>7} {row['first']:>7.4f} {row['second']:>7.4f} {ci:>24} "
                  f"{row['same_answers']:>6}", flush=True)
        if lm_eval_folder is not None and any(w[0] == "SST-2 0-shot" for w in workloads):
            from lm_eval.models.huggingface import HFLM

            # lm-eval's requests: plain prompts (no chat template), the same on the llama side
            hf = sides["hf"]
            hf.prepare()
            lm = HFLM(pretrained=hf.source, batch_size=16, device="cpu", dtype="float32")
            run_lm_eval(lm, lm_eval_folder, lm_eval_tasks["sst2"], 8)  # warm-up
            n = limits["sst2"]
            accuracy, seconds, per_doc = run_lm_eval(lm, lm_eval_folder, lm_eval_tasks["sst2"], n)
            task = get_task("sentiment")
            examples = task.load(None, data_dir=args.data_dir, source="local").examples[: len(per_doc)]
            plain = sides["llama"].with_options({"chat_template": "off"})
            predictions, plain_seconds = timed(plain, task, examples, [])
            stats, metric = per_example_stats(task, examples, predictions)
            ours = {"llama_examples_per_s": len(examples) / plain_seconds, "second": float(metric(stats.sum(axis=0)))}
            speed = len(per_doc) / seconds
            ratio = ours["llama_examples_per_s"] / speed
            rows.append({"model": name, "workload": "SST-2 0-shot lm-eval", "n": len(per_doc), "lm_eval_accuracy": accuracy,
                         "lm_eval_examples_per_s": speed, "ratio": ratio, "target": 2.0})
            print(f"{name:22} {'SST-2 lm-eval':14} {len(per_doc):>5} {speed:>8.2f} {ours['llama_examples_per_s']:>10.2f} "
                  f"{ratio:>5.2f}x {'>=2 ok' if ratio >= 2 else '>=2 MISS':>7} {accuracy:>7.4f} {ours['second']:>7.4f}"
                  "   (hf column: stock lm-eval; both plain prompts)", flush=True)
            del lm
        for model in sides.values():
            model.close()
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
