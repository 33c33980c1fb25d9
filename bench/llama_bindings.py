"""The two llama.cpp bindings of ``llamacpp:`` side by side: xllamacpp (prebuilt wheel, the
``llamacpp`` extra's default) against llama-cpp-python (built here from source, ``-march=native``).

    python bench/llama_bindings.py --data-dir ../shared/data
    python bench/llama_bindings.py --data-dir ../shared/data --models smollm2-135m,qwen2.5-coder-0.5b --sst2-limit 200

Each binding runs in a process of its own (two llama.cpp libraries in one process could bind
each other's symbols), on the packaged GGUF weights, the same examples and prompts:

- **log-likelihoods**: the requests that SST-2 validation and WSC273 scoring send (each
  option's continuation), and the first ``--conll-limit`` CoNLL++ test prompts, scored token
  by token (every continuation token after everything before it): the largest and median
  |difference| of a token's log-probability between the bindings (check: <= 1e-4);
- **greedy generation**: CoNLL++ answers with the entity-list grammar (``structured=auto``) and
  without it (``structured=off``): how many raw answers are identical (check: all);
- **throughput**: examples/s of each workload (weights loaded before the clock; nothing
  cached), the ratio xllamacpp / llama-cpp-python (check: >= 0.9), and the CPU features
  each library's kernels use (llama.cpp's own system-info line).

``--same-isa-build DIR`` adds a third column: a llama-cpp-python built with xllamacpp's CPU
flags (``CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
-DGGML_AVX512=OFF" pip wheel llama-cpp-python==0.3.36``, unpacked into DIR), which tells the
binding apart from the kernels: against it, xllamacpp's values are the same bits.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BINDINGS = ("xllamacpp", "llama-cpp-python")
TOLERANCE = 1e-4
def per_token_groups(groups):
    """Each continuation token after its context and the continuation tokens before it, as one
    group of one one-token option (what a per-token comparison scores)."""
    return [(list(context) + list(cont[:i]), [[cont[i]]]) for context, conts in groups for cont in conts
            for i in range(len(cont))]


def worker(args) -> None:
    """One binding's figures, as JSON on stdout."""
    from harness import get_model, get_task
    from plugins.llamacpp import batches as llama_batches

    out = {"binding": args.worker, "models": {}}
    for name in args.models.split(","):
        model = get_model(f"llamacpp:{name}").with_options({"binding": args.worker})
        model.context.progress = False
        model.prepare()
        engine = model.engine()
        figures = {"system_info": engine.binding.system_info(), "label": engine.binding.label, "workloads": {}}
        captured: list = []
        original = llama_batches.LlamaBatches.score

        def capture(self, groups, _original=original):
            captured.extend((list(c), [list(x) for x in conts]) for c, conts in groups)
            return _original(self, groups)

        plans = [("SST-2 scoring", "sentiment", args.sst2_limit, {}), ("WSC273 scoring", "coref:wsc273", args.wsc_limit, {}),
                 ("CoNLL++ gen, grammar", "ner", args.conll_limit, {}),
                 ("CoNLL++ gen, free", "ner", args.conll_limit, {"structured": "off"})]
        for label, task_name, limit, options in plans:
            task = get_task(task_name)
            examples = task.load(None, data_dir=args.data_dir, source="local").examples
            examples = examples[:limit] if limit else examples
            asked = model.with_options(options) if options else model
            asked.context.progress = False
            asked.prepare()
            captured.clear()
            llama_batches.LlamaBatches.score = capture
            try:
                started = time.perf_counter()
                predictions = asked.predict(task, examples, batch_size=16)
                seconds = time.perf_counter() - started
            finally:
                llama_batches.LlamaBatches.score = original
            row = {"n": len(examples), "seconds": seconds, "examples_per_s": len(examples) / seconds,
                   "answers": [p.raw if p.raw is not None else json.dumps(p.output) for p in predictions]}
            if captured:
                groups = per_token_groups(captured)
                row["per_token"] = [sums[0] for sums in asked.engine().score(groups)]
            if task.kind == "tagging" and label.endswith("grammar"):
                # the prompts' own tokens, each after those before it (a generation task's text scored)
                prompts = [p.prompt for p in predictions][: args.prompt_limit]
                ids = [asked.context_ids(p) for p in prompts]
                row["prompt_tokens"] = [sums[0] for sums in asked.engine().score(
                    [(seq[:i], [[seq[i]]]) for seq in ids for i in range(1, len(seq))])]
            if asked is not model:
                asked.close()
            figures["workloads"][label] = row
        model.close()
        out["models"][name] = figures
    json.dump(out, sys.stdout)


def run_binding(binding: str, args, path: Path | None = None) -> dict:
    """:func:`worker` of one binding in a process of its own (``path``: a llama_cpp package
    found there first)."""
    command = [sys.executable, __file__, "--worker", binding, "--data-dir", str(args.data_dir), "--models", args.models,
               "--conll-limit", str(args.conll_limit), "--prompt-limit", str(args.prompt_limit)]
    for flag, value in (("--sst2-limit", args.sst2_limit), ("--wsc-limit", args.wsc_limit)):
        if value:
            command += [flag, str(value)]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    if path:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(path), env.get("PYTHONPATH")]))
    with tempfile.TemporaryFile("w+") as out:
        subprocess.run(command, stdout=out, check=True, env=env)
        out.seek(0)
        return json.load(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--models", default="smollm2-135m")
    parser.add_argument("--sst2-limit", type=int, default=None, help="SST-2 examples (default: all 872)")
    parser.add_argument("--wsc-limit", type=int, default=None, help="WSC273 examples (default: all 273)")
    parser.add_argument("--conll-limit", type=int, default=100)
    parser.add_argument("--prompt-limit", type=int, default=10,
                        help="CoNLL++ prompts whose own tokens are scored one by one (default 10)")
    parser.add_argument("--same-isa-build", type=Path, default=None,
                        help="a folder holding a llama_cpp package built with xllamacpp's CPU flags (AVX2)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--worker", choices=BINDINGS, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    new = run_binding("xllamacpp", args)["models"]
    others = {"llama-cpp-python, -march=native": run_binding("llama-cpp-python", args)["models"]}
    if args.same_isa_build:
        others["llama-cpp-python, AVX2 like xllamacpp"] = run_binding("llama-cpp-python", args, args.same_isa_build)["models"]
    rows = []
    for name in args.models.split(","):
        print(f"{name}: xllamacpp: {new[name]['label']}: {new[name]['system_info']}")
        for against, old in others.items():
            print(f"  against {against}: {old[name]['label']}: {old[name]['system_info']}")
        for against, old in others.items():
            rows += compare(name, new[name], old[name], against)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


def compare(name: str, new: dict, old: dict, against: str) -> list[dict]:
    """Print and return one row per workload: xllamacpp's figures against one other build's."""
    rows = []
    print(f"\n{name}, xllamacpp against {against}")
    print(f"{'workload':22} {'n':>5} {'tokens':>7} {'max |dLL|':>10} {'median':>9} {'same answers':>13} "
          f"{'xllamacpp ex/s':>15} {'other ex/s':>11} {'ratio':>6}  checks")
    for label, a in new["workloads"].items():
        b = old["workloads"][label]
        row = {"model": name, "against": against, "workload": label, "n": a["n"],
               "xllamacpp_examples_per_s": a["examples_per_s"], "other_examples_per_s": b["examples_per_s"]}
        row["ratio"] = a["examples_per_s"] / b["examples_per_s"]
        values = [(a.get(k), b.get(k)) for k in ("per_token", "prompt_tokens") if a.get(k)]
        checks = []
        if values:
            gaps = np.concatenate([np.abs(np.array(x) - np.array(y)) for x, y in values])
            row.update(tokens=int(gaps.size), max_gap=float(gaps.max()), median_gap=float(np.median(gaps)))
            checks.append("LL ok" if row["max_gap"] <= TOLERANCE else "LL FAIL")
        row["same_answers"] = sum(x == y for x, y in zip(a["answers"], b["answers"]))
        if label.startswith("CoNLL"):
            checks.append("gen ok" if row["same_answers"] == row["n"] else "gen FAIL")
        checks.append("speed ok" if row["ratio"] >= 0.9 else "speed FAIL")
        rows.append(row)
        gap = f"{row['max_gap']:>10.2e} {row['median_gap']:>9.1e}" if "max_gap" in row else f"{'-':>10} {'-':>9}"
        print(f"{label:22} {row['n']:>5} {row.get('tokens', 0):>7} {gap} {row['same_answers']:>6} of {row['n']:<5} "
              f"{row['xllamacpp_examples_per_s']:>15.2f} {row['other_examples_per_s']:>11.2f} "
              f"{row['ratio']:>5.2f}x  {', '.join(checks)}", flush=True)
    return rows


if __name__ == "__main__":
    main()
